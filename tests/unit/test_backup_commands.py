"""`soma backup` and `soma restore` in-process on the embedded default (real SQLite files): the round
trip (memories, links and versions), the summary's values, each refusal with nothing written, version 1
backups, namespaces, modes and local retention."""

import gzip
import hashlib
import io
import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from embedded_service import close_service, open_service
from tqdm import tqdm

from somafractalmemory.cli import restore
from somafractalmemory.cli.main import main
from somafractalmemory.core.backup_format import backup_id, parse_backup_id, rfc3339
from somafractalmemory.core.models import MemoryType
from somafractalmemory.core.service import MemoryService, NewMemory
from somafractalmemory.embedding.hashing import HashingEmbedder
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


@pytest.fixture(autouse=True)
def isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in list(os.environ):
        if name.startswith("SOMA_") or name in ("POSTGRES_URL", "QDRANT_URL", "REDIS_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def soma(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def opened(directory: Path) -> MemoryService:
    return open_service(directory)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    directory = tmp_path / "source"
    directory.mkdir()
    service = opened(directory)
    seed(service)
    close_service(service)
    return directory


def backed_up(capsys: pytest.CaptureFixture[str], source: Path, dest: Path, *extra: str) -> dict[str, Any]:
    code, out, err = soma(capsys, "backup", "--data-dir", str(source), "--to", str(dest), "--quiet", *extra)
    assert (code, err) == (0, "")
    summary: dict[str, Any] = json.loads(out)
    return summary


def all_contents(directory: Path) -> dict[str, Any]:
    service = opened(directory)
    try:
        return {namespace: contents(service, namespace) for namespace in NAMESPACES}
    finally:
        close_service(service)


def test_backup_then_restore_gives_every_memory_link_and_recall_back(
    capsys: pytest.CaptureFixture[str], source: Path, tmp_path: Path
) -> None:
    dest, target, summary_file = tmp_path / "backups", tmp_path / "target", tmp_path / "summary.json"
    before = datetime.now(UTC).replace(microsecond=0)
    code, out, err = soma(
        capsys, "backup", "--data-dir", str(source), "--to", str(dest), "--summary-file", str(summary_file)
    )
    assert code == 0
    summary = json.loads(out)
    (folder,) = dest.iterdir()
    started = parse_backup_id(summary["id"])
    assert started is not None and before <= started <= datetime.now(UTC)
    files = sorted(path.name for path in folder.iterdir())
    assert files == [
        "manifest.json",
        "namespace-00001.ndjson.gz",
        "namespace-00002.ndjson.gz",
        "namespace-00003.ndjson.gz",
    ]
    assert summary == {
        "id": folder.name,
        "time": rfc3339(started),
        "bytes": sum((folder / name).stat().st_size for name in files if name != "manifest.json"),
        "memories": 3 * MEMORIES_PER_NAMESPACE,
        "links": 3 * LINKS_PER_NAMESPACE,
        "versions": 3 * VERSIONS_PER_NAMESPACE,
        "namespaces": 3,
        "result": "Succeeded",
    }
    assert summary_file.read_text() == out
    assert out.count("\n") == 1
    assert err == (
        f"backup {folder.name}: 180 memories, 60 links and 57 versions of 3 namespaces, "
        f"{summary['bytes']} bytes, in {dest}\n"
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["schema_version"] == 2
    hashing = HashingEmbedder(384).identity
    assert manifest["namespaces"] == {
        "alpha": {
            "file": "namespace-00001.ndjson.gz",
            "memories": 60,
            "links": 20,
            "versions": 19,
            "embedders": {hashing: 60},
        },
        "beta": {
            "file": "namespace-00002.ndjson.gz",
            "memories": 60,
            "links": 20,
            "versions": 19,
            "embedders": {hashing: 60},
        },
        "gamma/with slash": {
            "file": "namespace-00003.ndjson.gz",
            "memories": 60,
            "links": 20,
            "versions": 19,
            "embedders": {hashing: 60},
        },
    }
    assert manifest["embedder"] == hashing
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert {oct(path.stat().st_mode & 0o777) for path in folder.iterdir()} == {"0o600"}

    code, out, err = soma(
        capsys, "restore", "--data-dir", str(target), "--from", str(dest), "--summary-file", str(summary_file)
    )
    assert code == 0
    assert json.loads(out) == {**summary, "result": "Succeeded"}
    assert summary_file.read_text() == out
    assert err == (
        f"restored backup {folder.name} (replace): 180 memories, 60 links and 57 versions of 3 namespaces\n"
    )
    original_contents = all_contents(source)
    assert all_contents(target) == original_contents
    # Equal histories, not two empty ones: each namespace holds its 19 versions, numbered as kept.
    alpha_versions = versions_of(original_contents["alpha"])
    assert len(alpha_versions) == VERSIONS_PER_NAMESPACE
    second = [v for v in alpha_versions if v["coord"] == list(coordinate(2))]
    assert [(v["number"], v["payload"]["text"], v["type"], v["importance"]) for v in second] == [
        (1, "draft 0 of memory 2", "semantic", 0.1),
        (2, "draft 1 of memory 2", "semantic", 0.2),
        (3, "draft 2 of memory 2", "semantic", 0.3),
    ]
    assert all(v["updated_at"] <= v["replaced_at"] for v in alpha_versions)
    restored, original = opened(target), opened(source)
    try:
        for namespace in NAMESPACES:
            assert top_coordinates(restored, namespace) == top_coordinates(original, namespace)
    finally:
        close_service(restored)
        close_service(original)


def test_an_empty_store_backs_up_as_a_backup_of_no_namespace(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    summary = backed_up(capsys, tmp_path / "nothing", tmp_path / "backups")
    assert {key: summary[key] for key in ("bytes", "memories", "links", "versions", "namespaces")} == {
        "bytes": 0,
        "memories": 0,
        "links": 0,
        "versions": 0,
        "namespaces": 0,
    }
    assert not (tmp_path / "nothing").exists()


def test_restore_picks_namespaces_and_merge_keeps_what_exists(
    capsys: pytest.CaptureFixture[str], source: Path, tmp_path: Path
) -> None:
    dest, target = tmp_path / "backups", tmp_path / "target"
    summary = backed_up(capsys, source, dest)
    target.mkdir()
    service = opened(target)
    service.store_memory("alpha", NewMemory((999.0,), {"text": "only in the target"}, MemoryType.EPISODIC))
    service.store_memory("alpha", NewMemory(coordinate(0), {"text": "changed since"}, MemoryType.EPISODIC))
    service.store_memory("beta", NewMemory((5.0,), {"text": "beta stays"}, MemoryType.EPISODIC))
    close_service(service)

    code, out, _ = soma(
        capsys,
        "restore",
        "--data-dir",
        str(target),
        "--from",
        str(dest),
        "--namespace",
        "alpha",
        "--mode",
        "merge",
        "-q",
    )
    assert code == 0
    assert json.loads(out) == {
        "id": summary["id"],
        "time": summary["time"],
        "bytes": (dest / summary["id"] / "namespace-00001.ndjson.gz").stat().st_size,
        "memories": 60,
        "links": 20,
        "versions": 19,
        "namespaces": 1,
        "result": "Succeeded",
    }
    service = opened(target)
    try:
        alpha = service.export_records("alpha")
        texts = {tuple(r["coord"]): r["payload"]["text"] for r in alpha if r["kind"] == "memory"}
        assert len(texts) == 61
        assert texts[(999.0,)] == "only in the target"
        assert texts[coordinate(0)] == "memory 0 of alpha: apples near apples"
        # Merge keeps the store's versions: the content the restore replaced is version 1 of memory 0,
        # and the backup's version 1 of it is left out; memory 1 had none, it gets the backup's two.
        kept = [(v.number, v.payload["text"]) for v in service.versions("alpha", coordinate(0))]
        assert kept == [(1, "changed since")]
        kept = [(v.number, v.payload["text"]) for v in service.versions("alpha", coordinate(1))]
        assert kept == [(2, "draft 1 of memory 1"), (1, "draft 0 of memory 1")]
        assert [r["payload"]["text"] for r in service.export_records("beta")] == ["beta stays"]
        assert contents(service, "gamma/with slash") == []
    finally:
        close_service(service)

    code, out, _ = soma(
        capsys,
        "restore",
        "--data-dir",
        str(target),
        "--from",
        str(dest),
        "--namespace",
        "alpha",
        "--namespace",
        "beta",
        "-q",
    )
    assert (code, json.loads(out)["namespaces"]) == (0, 2)
    restored, original = all_contents(target), all_contents(source)
    assert restored["alpha"] == original["alpha"]
    assert restored["beta"] == original["beta"]
    assert restored["gamma/with slash"] == []


def test_restore_of_a_namespace_the_backup_lacks_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], source: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "backups"
    summary = backed_up(capsys, source, dest)
    code, out, err = soma(
        capsys, "restore", "--data-dir", str(tmp_path / "t"), "--from", str(dest), "--namespace", "delta"
    )
    assert code == 2
    message = (
        f"backup {summary['id']} holds no namespace 'delta' (it holds: 'alpha', 'beta', 'gamma/with slash')"
    )
    assert err == f"soma restore: error: {message}\n"
    assert json.loads(out)["message"] == message
    assert not (tmp_path / "t").exists()


# --- refusals: nothing is written ----------------------------------------------------------------


@pytest.fixture
def refusal_case(capsys: pytest.CaptureFixture[str], source: Path, tmp_path: Path) -> tuple[Path, Path, str]:
    """A backup of the source, and a target holding one memory in 'alpha' that a restore would replace."""
    dest, target = tmp_path / "backups", tmp_path / "target"
    identifier = backed_up(capsys, source, dest)["id"]
    target.mkdir()
    service = opened(target)
    service.store_memory("alpha", NewMemory((1.0,), {"text": "keep me"}, MemoryType.EPISODIC))
    close_service(service)
    return dest, target, identifier


def refused(
    capsys: pytest.CaptureFixture[str], dest: Path, target: Path, identifier: str, *extra: str
) -> str:
    before = all_contents(target)
    summary_file = target.parent / "summary.json"
    code, out, err = soma(
        capsys,
        "restore",
        "--data-dir",
        str(target),
        "--from",
        str(dest),
        "--summary-file",
        str(summary_file),
        *extra,
    )
    assert code == 1
    summary = json.loads(out)
    moment = parse_backup_id(identifier)
    assert moment is not None
    assert summary == {
        "id": identifier,
        "time": rfc3339(moment),
        "result": "Failed",
        "message": summary["message"],
    }
    assert summary_file.read_text() == out
    assert err == f"soma restore: error: {summary['message']}\n"
    assert all_contents(target) == before
    message: str = summary["message"]
    return message


def test_a_flipped_byte_is_refused(
    capsys: pytest.CaptureFixture[str], refusal_case: tuple[Path, Path, str]
) -> None:
    dest, target, identifier = refusal_case
    path = dest / identifier / "namespace-00002.ndjson.gz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    assert refused(capsys, dest, target, identifier) == (
        "corrupted backup: namespace-00002.ndjson.gz does not match its sha256 checksum"
    )


def test_a_truncated_file_is_refused(
    capsys: pytest.CaptureFixture[str], refusal_case: tuple[Path, Path, str]
) -> None:
    dest, target, identifier = refusal_case
    path = dest / identifier / "namespace-00003.ndjson.gz"
    size = path.stat().st_size
    path.write_bytes(path.read_bytes()[:100])
    assert refused(capsys, dest, target, identifier) == (
        f"truncated backup: namespace-00003.ndjson.gz holds 100 bytes, the manifest says {size}"
    )


def test_a_missing_file_is_refused(
    capsys: pytest.CaptureFixture[str], refusal_case: tuple[Path, Path, str]
) -> None:
    dest, target, identifier = refusal_case
    (dest / identifier / "namespace-00001.ndjson.gz").unlink()
    assert (
        refused(capsys, dest, target, identifier) == "incomplete backup: namespace-00001.ndjson.gz is missing"
    )


def test_a_file_whose_records_do_not_match_is_refused_though_its_checksum_does(
    capsys: pytest.CaptureFixture[str], refusal_case: tuple[Path, Path, str]
) -> None:
    """A backup rewritten consistently (file, size and checksum) but with a record dropped."""
    dest, target, identifier = refusal_case
    folder = dest / identifier
    path = folder / "namespace-00001.ndjson.gz"
    path.write_bytes(
        gzip.compress(b"".join(gzip.decompress(path.read_bytes()).splitlines(keepends=True)[1:]))
    )
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"]["namespace-00001.ndjson.gz"] = {
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "bytes": path.stat().st_size,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    assert refused(capsys, dest, target, identifier) == (
        "corrupted backup: namespace-00001.ndjson.gz holds 59 memories, 20 links and 19 versions, "
        "the manifest says 60, 20 and 19"
    )


def rewritten(folder: Path, name: str, lines: list[bytes]) -> None:
    """A data file rewritten with ``lines``, its size and checksum in the manifest to match."""
    path = folder / name
    path.write_bytes(gzip.compress(b"".join(lines)))
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][name] = {
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "bytes": path.stat().st_size,
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))


def data_lines(folder: Path, name: str) -> list[bytes]:
    return gzip.decompress((folder / name).read_bytes()).splitlines(keepends=True)


def test_truncated_version_records_are_refused_though_the_checksum_matches(
    capsys: pytest.CaptureFixture[str], refusal_case: tuple[Path, Path, str]
) -> None:
    dest, target, identifier = refusal_case
    folder = dest / identifier
    lines = data_lines(folder, "namespace-00002.ndjson.gz")
    assert [json.loads(line)["kind"] for line in lines[-19:]] == ["version"] * 19
    rewritten(folder, "namespace-00002.ndjson.gz", lines[:-5])
    assert refused(capsys, dest, target, identifier) == (
        "corrupted backup: namespace-00002.ndjson.gz holds 60 memories, 20 links and 14 versions, "
        "the manifest says 60, 20 and 19"
    )


def test_an_altered_version_record_is_refused_though_the_checksum_matches(
    capsys: pytest.CaptureFixture[str], refusal_case: tuple[Path, Path, str]
) -> None:
    dest, target, identifier = refusal_case
    folder = dest / identifier
    lines = data_lines(folder, "namespace-00003.ndjson.gz")
    record = json.loads(lines[-1])
    record["number"] = -record["number"]
    lines[-1] = json.dumps(record).encode() + b"\n"
    rewritten(folder, "namespace-00003.ndjson.gz", lines)
    assert refused(capsys, dest, target, identifier) == (
        "corrupted backup: namespace-00003.ndjson.gz line 99: "
        "'number' must be an integer from 1 to 2147483647"
    )


def test_another_schema_version_is_refused(
    capsys: pytest.CaptureFixture[str], refusal_case: tuple[Path, Path, str]
) -> None:
    dest, target, identifier = refusal_case
    path = dest / identifier / "manifest.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "schema_version": 3}))
    assert (
        refused(capsys, dest, target, identifier)
        == "unsupported backup schema version 3: this soma reads versions 1 and 2"
    )


def test_a_version_1_backup_restores_its_memories_and_links(
    capsys: pytest.CaptureFixture[str], source: Path, tmp_path: Path
) -> None:
    """A backup as soma wrote it before versions: no version records, no "versions" count."""
    dest, target = tmp_path / "backups", tmp_path / "target"
    identifier = backed_up(capsys, source, dest)["id"]
    folder = dest / identifier
    manifest = json.loads((folder / "manifest.json").read_text())
    for entry in manifest["namespaces"].values():
        del entry["versions"]
    (folder / "manifest.json").write_text(json.dumps({**manifest, "schema_version": 1}))
    for name in manifest["files"]:
        rewritten(
            folder, name, [line for line in data_lines(folder, name) if b'"kind":"version"' not in line]
        )
    code, out, err = soma(capsys, "restore", "--data-dir", str(target), "--from", str(dest))
    assert code == 0
    assert {key: json.loads(out)[key] for key in ("memories", "links", "versions")} == {
        "memories": 180,
        "links": 60,
        "versions": 0,
    }
    assert (
        err
        == f"restored backup {identifier} (replace): 180 memories, 60 links and 0 versions of 3 namespaces\n"
    )
    original = all_contents(source)
    without_versions = {
        ns: [r for r in records if r["kind"] != "version"] for ns, records in original.items()
    }
    assert all_contents(target) == without_versions


def test_a_directory_that_is_not_a_soma_backup_is_refused(
    capsys: pytest.CaptureFixture[str], refusal_case: tuple[Path, Path, str]
) -> None:
    dest, target, _ = refusal_case
    foreign = dest / "20200101T000000Z"
    foreign.mkdir()
    (foreign / "manifest.json").write_text('{"kind": "photos", "count": 3}')
    assert refused(capsys, dest, target, foreign.name, "--backup", foreign.name) == (
        "not a soma backup: manifest.json does not name the format 'soma-backup'"
    )


def test_a_backup_copied_under_another_id_is_refused(
    capsys: pytest.CaptureFixture[str], refusal_case: tuple[Path, Path, str]
) -> None:
    dest, target, identifier = refusal_case
    shutil.copytree(dest / identifier, dest / "20300101T000000Z")
    assert refused(capsys, dest, target, "20300101T000000Z") == (
        f"foreign backup: manifest.json of 20300101T000000Z names backup {identifier}"
    )


def test_an_incomplete_backup_is_refused_and_never_the_latest(
    capsys: pytest.CaptureFixture[str], refusal_case: tuple[Path, Path, str]
) -> None:
    dest, target, identifier = refusal_case
    (dest / identifier / "manifest.json").unlink()
    assert refused(capsys, dest, target, identifier, "--backup", identifier) == (
        f"incomplete backup {identifier}: it has no manifest.json (still running, or it failed)"
    )
    code, out, err = soma(capsys, "restore", "--data-dir", str(target), "--from", str(dest))
    assert (code, err) == (1, f"soma restore: error: no complete backup in {dest}\n")
    assert json.loads(out)["id"] is None
    code, _, err = soma(
        capsys, "restore", "--data-dir", str(target), "--from", str(dest), "--backup", "20990101T000000Z"
    )
    assert (code, err) == (1, f"soma restore: error: no backup 20990101T000000Z in {dest}\n")


# --- retention and failures ---------------------------------------------------------------------


def fake_backup(dest: Path, days_ago: float, complete: bool = True) -> str:
    identifier = backup_id(datetime.now(UTC) - timedelta(days=days_ago))
    (dest / identifier).mkdir(parents=True)
    if complete:
        (dest / identifier / "manifest.json").write_text("{}")
    return identifier


def test_retention_keeps_the_newest_complete_backups_and_every_incomplete_one(
    capsys: pytest.CaptureFixture[str], source: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "backups"
    old = [fake_backup(dest, days) for days in (1, 2, 3, 20)]
    unfinished = fake_backup(dest, 30, complete=False)
    (dest / "notes").mkdir()
    new = backed_up(capsys, source, dest, "--keep", "3")["id"]
    assert sorted(path.name for path in dest.iterdir()) == sorted([unfinished, old[1], old[0], new, "notes"])
    time.sleep(1.0 - datetime.now(UTC).microsecond / 1e6)  # a backup's id is its start second
    newer = backed_up(capsys, source, dest, "--keep", "1", "--max-age-days", "1.5")
    # Beyond the newest one, and older than 1.5 days: only the backup of 2 days ago.
    assert sorted(path.name for path in dest.iterdir()) == sorted(
        [unfinished, old[0], new, newer["id"], "notes"]
    )


def test_a_failed_backup_leaves_nothing_and_removes_no_older_backup(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    dest, broken = tmp_path / "backups", tmp_path / "broken"
    old = [fake_backup(dest, days) for days in (1, 2)]
    broken.mkdir()
    (broken / "memories.sqlite").write_bytes(b"this is not a database" * 100)
    summary_file = tmp_path / "termination-log"
    before = datetime.now(UTC).replace(microsecond=0)
    code, out, err = soma(
        capsys,
        "backup",
        "--data-dir",
        str(broken),
        "--to",
        str(dest),
        "--keep",
        "1",
        "--summary-file",
        str(summary_file),
    )
    assert code == 1
    summary = json.loads(out)
    started = parse_backup_id(summary["id"])
    assert started is not None and before <= started
    message = "sqlite is unavailable: memories.sqlite: file is not a database"
    assert summary == {"id": summary["id"], "time": rfc3339(started), "result": "Failed", "message": message}
    assert summary_file.read_text() == out
    assert err == f"soma backup: error: {message}\n"
    assert sorted(path.name for path in dest.iterdir()) == sorted(old)


def test_a_backup_id_already_taken_fails(
    capsys: pytest.CaptureFixture[str], source: Path, tmp_path: Path
) -> None:
    dest = tmp_path / "backups"
    taken = [backup_id(datetime.now(UTC) + timedelta(seconds=s)) for s in range(3)]
    for identifier in taken:
        (dest / identifier).mkdir(parents=True)
    code, out, err = soma(capsys, "backup", "--data-dir", str(source), "--to", str(dest))
    assert code == 1
    identifier = json.loads(out)["id"]
    assert identifier in taken
    assert err == f"soma backup: error: backup {identifier} already exists in {dest}\n"
    assert sorted(path.name for path in dest.iterdir()) == taken


def test_a_backup_failing_half_way_removes_its_partial_files(
    capsys: pytest.CaptureFixture[str], source: Path, tmp_path: Path
) -> None:
    """A row no memory can be read from, in the last namespace: the first files were written already."""
    with closing(sqlite3.connect(source / "memories.sqlite")) as db, db:
        db.execute(
            "INSERT INTO memories (namespace, coord_key, dims, memory_type, payload, text, importance, "
            "created_at, updated_at) VALUES ('zzz', '1.0', 1, 'bogus', '{}', '', 0.5, 0, 0)"
        )
    dest = tmp_path / "backups"
    old = fake_backup(dest, 3)
    with pytest.raises(ValueError, match="'bogus' is not a valid MemoryType"):
        main(["backup", "--data-dir", str(source), "--to", str(dest), "--keep", "1", "-q"])
    summary = json.loads(capsys.readouterr().out)
    assert (summary["result"], summary["message"]) == ("Failed", "'bogus' is not a valid MemoryType")
    assert [path.name for path in dest.iterdir()] == [old]


def test_restore_batches_hold_at_most_their_lines_and_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(restore, "RESTORE_BATCH_LINES", 3)
    monkeypatch.setattr(restore, "RESTORE_BATCH_BYTES", 10)
    lines = [b"aaaa\n", b"bb\n", b"c\n", b"d\n", b"eeeeeeeeeeeeeeee\n", b"f\n"]
    with tqdm(file=io.StringIO()) as bar:
        assert list(restore.batches(lines, bar)) == [
            [b"aaaa\n", b"bb\n", b"c\n"],  # 10 bytes (the most), and 3 lines: full
            [b"d\n"],  # with the next line, 19 bytes
            [b"eeeeeeeeeeeeeeee\n"],  # longer than a batch: alone
            [b"f\n"],
        ]
        assert bar.n == 6
    assert list(restore.batches([], bar)) == []


def test_a_restore_in_small_batches_brings_links_across_batches_back(
    capsys: pytest.CaptureFixture[str], source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(restore, "RESTORE_BATCH_LINES", 7)
    dest, target = tmp_path / "backups", tmp_path / "target"
    backed_up(capsys, source, dest)
    code, out, _ = soma(capsys, "restore", "--data-dir", str(target), "--from", str(dest), "-q")
    summary = json.loads(out)
    assert (code, summary["memories"], summary["links"], summary["versions"]) == (0, 180, 60, 57)
    assert all_contents(target) == all_contents(source)
