"""Memory versions in the PostgreSQL store: kept in the write's transaction, trimmed, deleted with the
memory, and a restore reaches the outbox as a write. (The /v1 behaviour runs on PostgreSQL through
test_api_on_production_stack, which runs tests/api/test_versions.py.)"""

import dataclasses
import threading
from pathlib import Path

import psycopg
import pytest

from somafractalmemory.adapters.index_events import IndexOp, decode
from somafractalmemory.adapters.numpy_index import NumpyIndex
from somafractalmemory.adapters.postgres_outbox import PostgresOutbox
from somafractalmemory.adapters.postgres_store import PostgresStore
from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.models import Memory, MemoryType, MemoryVersion
from somafractalmemory.core.service import MemoryService, NewMemory
from somafractalmemory.embedding.hashing import HashingEmbedder

NS = "ns"
COORD = (1.0, 2.0)


def memory(text: str, at: float, coord: tuple[float, ...] = COORD) -> Memory:
    return Memory(NS, coord, {"text": text}, MemoryType.EPISODIC, 0.5, at, at)


def test_a_replace_keeps_the_overwritten_row_as_the_next_version(store: PostgresStore) -> None:
    store.put_many([memory("a", 100.0)], keep_versions=5)
    store.put_many(
        [Memory(NS, COORD, {"text": "b"}, MemoryType.SEMANTIC, 0.9, 200.0, 200.0)], keep_versions=5
    )
    store.put_many([memory("c", 300.0)], keep_versions=5)
    assert store.versions(NS, COORD) == [
        MemoryVersion(2, {"text": "b"}, MemoryType.SEMANTIC, 0.9, 200.0, 300.0),
        MemoryVersion(1, {"text": "a"}, MemoryType.EPISODIC, 0.5, 100.0, 200.0),
    ]


def test_only_the_newest_versions_stay(store: PostgresStore) -> None:
    for n in range(7):
        store.put_many([memory(f"v{n}", float(n)), memory(f"w{n}", float(n), (9.0,))], keep_versions=2)
    assert [(v.number, v.payload["text"]) for v in store.versions(NS, COORD)] == [(6, "v5"), (5, "v4")]
    assert [v.number for v in store.versions(NS, (9.0,))] == [6, 5]


def test_without_keep_versions_nothing_is_kept(store: PostgresStore) -> None:
    store.put_many([memory("a", 1.0)])
    store.put_many([memory("b", 2.0)])
    assert store.versions(NS, COORD) == []


def test_a_failed_write_keeps_no_version(store: PostgresStore) -> None:
    store.put_many([memory("a", 1.0)], keep_versions=5)
    bad = Memory(NS, (3.0,), {"text": "nul \x00"}, MemoryType.EPISODIC, 0.5, 2.0, 2.0)
    with pytest.raises(InvalidInput):
        store.put_many([memory("b", 2.0), bad], keep_versions=5)
    assert store.versions(NS, COORD) == []
    assert store.get(NS, COORD) == memory("a", 1.0)


def test_delete_removes_the_versions(store: PostgresStore, postgres_url: str) -> None:
    store.put_many([memory("a", 1.0)], keep_versions=5)
    store.put_many([memory("b", 2.0)], keep_versions=5)
    assert store.delete(NS, COORD)
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT count(*) FROM soma_memory_versions").fetchone() == (0,)


def test_concurrent_replaces_number_every_version_once(store: PostgresStore) -> None:
    def replace(worker: int) -> None:
        for n in range(10):
            store.put_many([memory(f"{worker}-{n}", float(n))], keep_versions=100)

    threads = [threading.Thread(target=replace, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [v.number for v in store.versions(NS, COORD)] == list(range(39, 0, -1))


def test_a_restore_is_a_write_that_reaches_the_outbox(evented_store: PostgresStore, tmp_path: Path) -> None:
    index = NumpyIndex(tmp_path / "vectors.sqlite", 64)
    service = MemoryService(evented_store, index, HashingEmbedder(64), index_inline=False)
    service.store_memory(NS, NewMemory(COORD, {"text": "first"}))
    service.store_memory(NS, NewMemory(COORD, {"text": "second"}))
    restored = service.restore_version(NS, COORD, 1)
    assert restored.payload == {"text": "first"}
    outbox = PostgresOutbox(evented_store.connection)
    with outbox.drain(10) as batch:
        events = [decode(entry.event) for entry in batch.entries]
    assert [(e.op, e.coordinate) for e in events] == [(IndexOp.UPSERT, COORD)] * 3
    # an event carries the memory as exported: the consumer that embeds it is the one its id names
    assert events[-1].memory == dataclasses.replace(restored, embedder=None)
    assert restored.embedder == HashingEmbedder(64).identity
    assert [v.payload["text"] for v in service.versions(NS, COORD)] == ["second", "first"]
    index.close()
