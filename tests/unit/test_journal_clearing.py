"""When the SQLite store deletes the journal entries the index applied (adapters/sqlite_store.py): in a
later write's transaction, once 64 entries or 1,000 memories were recorded since the last time. A start
after a crash replays every entry still there, so a bulk ingest must not leave 64 bulks behind."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from somafractalmemory.adapters import sqlite_store
from somafractalmemory.adapters.sqlite_store import SQLiteStore
from somafractalmemory.core.models import Memory, MemoryType

NS = "journal"


def memories(first: int, count: int) -> list[Memory]:
    return [
        Memory(NS, (float(n),), {"n": n}, MemoryType.EPISODIC, 0.5, 1.0, 1.0)
        for n in range(first, first + count)
    ]


def entries(store: SQLiteStore) -> list[int]:
    return [row[0] for row in store._db.execute("SELECT id FROM index_journal ORDER BY id")]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "memories.sqlite")
    yield opened
    opened.close()


def test_a_bulk_of_a_thousand_clears_what_was_applied_at_the_next_write(store: SQLiteStore) -> None:
    store.put_many(memories(0, sqlite_store.JOURNAL_CLEAR_KEYS))
    first = store.recorded()
    store.applied(first)
    store.put_many(memories(5_000, 10))  # the next write's transaction deletes the applied bulk
    assert entries(store) == [store.recorded()] and store.recorded() > first
    small = store.recorded()
    store.applied()
    store.put_many(memories(6_000, 1))  # the count starts again: 10 memories since, nothing deleted
    assert entries(store) == [small, store.recorded()]


def test_fewer_memories_than_that_wait_for_the_next_clearing(store: SQLiteStore) -> None:
    store.put_many(memories(0, sqlite_store.JOURNAL_CLEAR_KEYS - 1))
    store.applied()
    store.put_many(memories(5_000, 1))  # 999 recorded: not yet
    assert len(entries(store)) == 2
    store.applied()
    store.put_many(memories(6_000, 1))  # 1,000 recorded since the last clearing: both applied go
    assert entries(store) == [store.recorded()]


def test_single_stores_are_cleared_sixty_four_entries_at_a_time(store: SQLiteStore) -> None:
    for n in range(sqlite_store.JOURNAL_CLEAR_EVERY):
        store.put_many(memories(n, 1))
        store.applied()
    assert len(entries(store)) == sqlite_store.JOURNAL_CLEAR_EVERY
    store.put_many(memories(1_000, 1))
    assert entries(store) == [store.recorded()]


def test_entries_not_applied_yet_are_kept(store: SQLiteStore) -> None:
    store.put_many(memories(0, sqlite_store.JOURNAL_CLEAR_KEYS))
    applied = store.recorded()
    store.applied(applied)
    store.put_many(memories(2_000, sqlite_store.JOURNAL_CLEAR_KEYS))  # clears the first, not itself
    behind = store.recorded()
    store.put_many(memories(4_000, 1))  # nothing newly applied: nothing deleted
    assert entries(store) == [behind, store.recorded()]
