"""The embedded store's snapshot: one moment of every namespace while the store keeps being written."""

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from embedded_service import close_service, open_service

from somafractalmemory.adapters.sqlite_snapshot import sqlite_snapshot
from somafractalmemory.core.errors import BackendUnavailable
from somafractalmemory.core.models import MemoryType
from somafractalmemory.core.service import NewMemory
from support.backup_data import (
    LINKS_PER_NAMESPACE,
    MEMORIES_PER_NAMESPACE,
    VERSIONS_PER_NAMESPACE,
    coordinate,
    seed,
)


def test_a_sqlite_snapshot_sees_one_moment_whatever_is_written_meanwhile(tmp_path: Path) -> None:
    writer = open_service(tmp_path)
    try:
        seed(writer, ("alpha", "beta"))
        expected = [memory.coordinate for memory in writer.store.iter_memories("beta")]
        with sqlite_snapshot(tmp_path / "memories.sqlite") as snapshot:
            writer.store_memory("alpha", NewMemory((-1.0,), {"text": "later"}, MemoryType.EPISODIC))
            assert sum(1 for _ in snapshot.memories("alpha")) == MEMORIES_PER_NAMESPACE
            writer.store_memory("beta", NewMemory((-1.0,), {"text": "later"}, MemoryType.EPISODIC))
            writer.store_memory("delta", NewMemory((-1.0,), {"text": "later"}, MemoryType.EPISODIC))
            assert writer.delete("beta", coordinate(0))
            assert snapshot.namespaces() == ["alpha", "beta"]
            assert [memory.coordinate for memory in snapshot.memories("beta")] == expected
            assert sum(1 for _ in snapshot.links("beta")) == LINKS_PER_NAMESPACE
            # Memory 1 is written again (a version more) and memory 0, with its version, deleted.
            writer.store_memory("beta", NewMemory(coordinate(1), {"text": "later"}, MemoryType.EPISODIC))
            versions = list(snapshot.versions("beta"))
            assert len(versions) == VERSIONS_PER_NAMESPACE
            first = [(v.coordinate, v.version.number, v.version.payload["text"]) for v in versions[:3]]
            assert first == [
                (coordinate(0), 1, "draft 0 of memory 0"),
                (coordinate(1), 1, "draft 0 of memory 1"),
                (coordinate(1), 2, "draft 1 of memory 1"),
            ]
            assert {v.namespace for v in versions} == {"beta"}
        with sqlite_snapshot(tmp_path / "memories.sqlite") as snapshot:
            assert snapshot.namespaces() == ["alpha", "beta", "delta"]
            assert sum(1 for _ in snapshot.memories("beta")) == MEMORIES_PER_NAMESPACE
            assert sum(1 for _ in snapshot.links("beta")) == LINKS_PER_NAMESPACE - 1
            assert sum(1 for _ in snapshot.versions("beta")) == VERSIONS_PER_NAMESPACE - 1 + 1
    finally:
        close_service(writer)


def test_a_store_never_written_is_an_empty_snapshot(tmp_path: Path) -> None:
    with sqlite_snapshot(tmp_path / "memories.sqlite") as snapshot:
        assert snapshot.namespaces() == []
        assert list(snapshot.memories("alpha")) == []
        assert list(snapshot.links("alpha")) == []
        assert list(snapshot.versions("alpha")) == []
    assert list(tmp_path.iterdir()) == []


def test_a_store_not_in_write_ahead_log_mode_is_refused(tmp_path: Path) -> None:
    """Outside WAL mode a long read would hold the serving process's writers back."""
    path = tmp_path / "memories.sqlite"
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE memories (namespace TEXT)")
    with pytest.raises(BackendUnavailable) as refused, sqlite_snapshot(path):
        pass
    assert str(refused.value) == (
        "sqlite is unavailable: memories.sqlite is in journal mode 'delete', not 'wal': "
        "open it once with soma serve"
    )
