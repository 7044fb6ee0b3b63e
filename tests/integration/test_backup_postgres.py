"""`soma backup` and `soma restore` on PostgreSQL (a real server): the round trip (memories, links and
versions), merge keeping the store's versions, a refused version record, and one snapshot."""

import gzip
import hashlib
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from somafractalmemory.adapters.postgres_snapshot import postgres_snapshot
from somafractalmemory.cli.main import main
from somafractalmemory.core.models import MemoryType
from somafractalmemory.core.service import NewMemory
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import Runtime, build_runtime
from support.backup_data import (
    LINKS_PER_NAMESPACE,
    MEMORIES_PER_NAMESPACE,
    NAMESPACES,
    VERSIONS_PER_NAMESPACE,
    contents,
    coordinate,
    seed,
    top_coordinates,
    versions_of,
)
from support.servers import PostgresServer


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("SOMA_") or name in (
            "POSTGRES_URL",
            "QDRANT_URL",
            "REDIS_URL",
            "EVENTING_ENABLED",
        ):
            monkeypatch.delenv(name)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def runtime(url: str, data_dir: Path) -> Runtime:
    return build_runtime(Settings(postgres_url=url, data_dir=data_dir))


def test_round_trip_on_postgres_gives_every_memory_link_and_recall_back(
    postgres_server: PostgresServer,
    postgres_url: str,
    unique: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = runtime(postgres_url, tmp_path / "source")
    seed(source.service)
    source.close()
    dest = tmp_path / "backups"
    monkeypatch.setenv("POSTGRES_URL", postgres_url)
    monkeypatch.setenv("SOMA_DATA_DIR", str(tmp_path / "source"))
    assert main(["backup", "--to", str(dest), "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    counted = ("memories", "links", "versions", "namespaces", "result")
    assert tuple(summary[key] for key in counted) == (
        3 * MEMORIES_PER_NAMESPACE,
        3 * LINKS_PER_NAMESPACE,
        3 * VERSIONS_PER_NAMESPACE,
        3,
        "Succeeded",
    )

    target_url = postgres_server.create_database(f"{unique}restored")
    monkeypatch.setenv("POSTGRES_URL", target_url)
    monkeypatch.setenv("SOMA_DATA_DIR", str(tmp_path / "target"))
    assert main(["restore", "--from", str(dest), "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out) == summary

    original, restored = runtime(postgres_url, tmp_path / "source"), runtime(target_url, tmp_path / "target")
    try:
        for namespace in NAMESPACES:
            expected = contents(original.service, namespace)
            assert len(versions_of(expected)) == VERSIONS_PER_NAMESPACE
            assert contents(restored.service, namespace) == expected
            assert top_coordinates(restored.service, namespace) == top_coordinates(
                original.service, namespace
            )
    finally:
        original.close()
        restored.close()


def test_a_postgres_snapshot_sees_one_moment_whatever_is_written_meanwhile(
    postgres_url: str, tmp_path: Path
) -> None:
    writer = runtime(postgres_url, tmp_path / "data")
    try:
        seed(writer.service, ("alpha", "beta"))
        with postgres_snapshot(postgres_url) as snapshot:
            writer.service.store_memory("alpha", NewMemory((-1.0,), {"text": "later"}, MemoryType.EPISODIC))
            assert sum(1 for _ in snapshot.memories("alpha")) == MEMORIES_PER_NAMESPACE
            writer.service.store_memory("beta", NewMemory((-1.0,), {"text": "later"}, MemoryType.EPISODIC))
            writer.service.store_memory("delta", NewMemory((-1.0,), {"text": "later"}, MemoryType.EPISODIC))
            assert writer.service.delete("beta", coordinate(1))
            assert snapshot.namespaces() == ["alpha", "beta"]
            assert sum(1 for _ in snapshot.memories("beta")) == MEMORIES_PER_NAMESPACE
            assert sum(1 for _ in snapshot.links("beta")) == LINKS_PER_NAMESPACE
            versions = [(v.coordinate, v.version.number) for v in snapshot.versions("beta")]
            assert len(versions) == VERSIONS_PER_NAMESPACE
            assert versions[:3] == [(coordinate(0), 1), (coordinate(1), 1), (coordinate(1), 2)]
        with postgres_snapshot(postgres_url) as snapshot:
            assert snapshot.namespaces() == ["alpha", "beta", "delta"]
            assert sum(1 for _ in snapshot.memories("beta")) == MEMORIES_PER_NAMESPACE
            assert sum(1 for _ in snapshot.links("beta")) == LINKS_PER_NAMESPACE - 2  # 0->1 and 1->2 went
            assert sum(1 for _ in snapshot.versions("beta")) == VERSIONS_PER_NAMESPACE - 2  # memory 1's
    finally:
        writer.close()


def test_merge_on_postgres_keeps_the_stores_versions_and_a_bad_version_record_writes_nothing(
    postgres_server: PostgresServer,
    postgres_url: str,
    unique: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = runtime(postgres_url, tmp_path / "source")
    seed(source.service, ("alpha",))
    source.close()
    dest = tmp_path / "backups"
    monkeypatch.setenv("POSTGRES_URL", postgres_url)
    assert main(["backup", "--to", str(dest), "--quiet"]) == 0
    identifier = json.loads(capsys.readouterr().out)["id"]

    target_url = postgres_server.create_database(f"{unique}merged")
    target = runtime(target_url, tmp_path / "target")
    target.service.store_memory("alpha", NewMemory(coordinate(0), {"text": "changed"}, MemoryType.EPISODIC))
    target.close()
    monkeypatch.setenv("POSTGRES_URL", target_url)
    assert main(["restore", "--from", str(dest), "--mode", "merge", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["versions"] == VERSIONS_PER_NAMESPACE
    target = runtime(target_url, tmp_path / "target")
    try:
        kept = [(v.number, v.payload["text"]) for v in target.service.versions("alpha", coordinate(0))]
        assert kept == [(1, "changed")]
        kept = [(v.number, v.payload["text"]) for v in target.service.versions("alpha", coordinate(2))]
        assert kept == [(3, "draft 2 of memory 2"), (2, "draft 1 of memory 2"), (1, "draft 0 of memory 2")]
        before = contents(target.service, "alpha")
    finally:
        target.close()

    # A version record altered, the file's checksum made to match: refused, and nothing written.
    folder = dest / identifier
    path = folder / "namespace-00001.ndjson.gz"
    lines = gzip.decompress(path.read_bytes()).splitlines(keepends=True)
    record = json.loads(lines[-1])
    assert record["kind"] == "version"
    lines[-1] = json.dumps({**record, "type": "dream"}).encode() + b"\n"
    path.write_bytes(gzip.compress(b"".join(lines)))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][path.name] = {
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "bytes": path.stat().st_size,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert main(["restore", "--from", str(dest), "--quiet"]) == 1
    assert json.loads(capsys.readouterr().out)["message"] == (
        f"corrupted backup: namespace-00001.ndjson.gz line {len(lines)}: "
        "'type' must be 'episodic' or 'semantic'"
    )
    target = runtime(target_url, tmp_path / "target")
    try:
        assert contents(target.service, "alpha") == before
    finally:
        target.close()
