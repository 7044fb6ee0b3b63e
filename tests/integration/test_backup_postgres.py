"""`soma backup` and `soma restore` on PostgreSQL (a real server): the round trip, and one snapshot."""

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
    contents,
    coordinate,
    seed,
    top_coordinates,
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
    assert (summary["memories"], summary["links"], summary["namespaces"], summary["result"]) == (
        3 * MEMORIES_PER_NAMESPACE,
        3 * LINKS_PER_NAMESPACE,
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
            assert contents(restored.service, namespace) == contents(original.service, namespace)
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
        with postgres_snapshot(postgres_url) as snapshot:
            assert snapshot.namespaces() == ["alpha", "beta", "delta"]
            assert sum(1 for _ in snapshot.memories("beta")) == MEMORIES_PER_NAMESPACE
            assert sum(1 for _ in snapshot.links("beta")) == LINKS_PER_NAMESPACE - 2  # 0->1 and 1->2 went
    finally:
        writer.close()
