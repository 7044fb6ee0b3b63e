"""A large write's memories are embedded on a thread of their own while the store writes them (issue 15),
and the store commits only once the embedding is done: an embedder that fails leaves nothing written,
in the store, its journal or the index."""

import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from embedded_service import close_service, open_service

from somafractalmemory.adapters.sqlite_store import SQLiteStore
from somafractalmemory.core.indexing import THREADED_AT
from somafractalmemory.core.models import Memory, MemoryType
from somafractalmemory.core.ports import Vectors
from somafractalmemory.core.service import MemoryService, NewMemory
from somafractalmemory.embedding.hashing import HashingEmbedder

NS = "beside"


class WatchedEmbedder(HashingEmbedder):
    """The hashing embedder, recording the thread of each call; a text holding 'boom' fails it."""

    def __init__(self) -> None:
        super().__init__(384)
        self.threads: list[str] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.threads.append(threading.current_thread().name)
        if any("boom" in text for text in texts):
            raise RuntimeError("the model is gone")
        return super().embed(texts)


def items(count: int, *, failing_at: int | None = None) -> list[NewMemory]:
    return [
        NewMemory((float(n),), {"text": "boom" if n == failing_at else f"note number {n}"})
        for n in range(count)
    ]


def watched_service(directory: Path) -> tuple[MemoryService, WatchedEmbedder]:
    service = open_service(directory)
    embedder = WatchedEmbedder()
    service.embedder = embedder
    return service, embedder


def test_the_threshold_is_sixty_four_memories() -> None:
    assert THREADED_AT == 64


def test_a_write_below_the_threshold_embeds_on_the_calling_thread(tmp_path: Path) -> None:
    service, embedder = watched_service(tmp_path)
    try:
        assert service.store_many(NS, items(THREADED_AT - 1)).stored == THREADED_AT - 1
        assert embedder.threads == [threading.current_thread().name]
    finally:
        close_service(service)


def test_a_write_at_the_threshold_embeds_on_the_embedding_thread(tmp_path: Path) -> None:
    service, embedder = watched_service(tmp_path)
    try:
        assert service.store_many(NS, items(THREADED_AT)).stored == THREADED_AT
        assert len(embedder.threads) == 1
        assert embedder.threads[0].startswith("embed")
        hits = service.index.search(
            NS, embedder.embed(["note number 7"])[0], top_k=1, memory_type=None, conditions={}
        )
        assert [hit.coordinate for hit in hits] == [(7.0,)]
    finally:
        close_service(service)


@pytest.mark.parametrize("count", [THREADED_AT - 1, THREADED_AT, 500])
def test_an_embedder_that_fails_leaves_nothing_written(tmp_path: Path, count: int) -> None:
    service, _ = watched_service(tmp_path)
    try:
        with pytest.raises(RuntimeError, match="the model is gone"):
            service.store_many(NS, items(count, failing_at=count // 2))
        assert service.stats(NS).total_memories == 0
        assert (
            service.index.search(NS, np.ones(384, np.float32), top_k=5, memory_type=None, conditions={}) == []
        )
        assert isinstance(service.store, SQLiteStore)
        assert service.store._db.execute("SELECT count(*) FROM index_journal").fetchone()[0] == 0
        assert service.store._db.execute("SELECT count(*) FROM audit_log").fetchone()[0] == 0
        assert service.store_many(NS, items(count)).stored == count  # and the next write goes in whole
        assert service.stats(NS).total_memories == count
    finally:
        close_service(service)


def stored_memory(n: int) -> Memory:
    return Memory(NS, (float(n),), {"text": f"row {n}"}, MemoryType.EPISODIC, 0.5, 1.0, 1.0)


def test_the_store_calls_before_commit_once_inside_its_transaction(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "memories.sqlite")
    seen: list[tuple[bool, int]] = []

    def check() -> None:
        # inside the write's transaction: its rows are visible to it, not yet to another connection
        other = sqlite3.connect(tmp_path / "memories.sqlite")
        try:
            committed = other.execute("SELECT count(*) FROM memories").fetchone()[0]
        finally:
            other.close()
        seen.append((store._db.in_transaction, committed))

    try:
        store.put_many([stored_memory(1), stored_memory(2)], before_commit=check)
        assert seen == [(True, 0)]
        changed = store.put_if_unchanged(NS, [stored_memory(1)], {(1.0,): 1.0}, before_commit=check)
        assert changed == []
        assert seen == [(True, 0), (True, 2)]
    finally:
        store.close()


def test_a_failing_before_commit_rolls_the_store_write_back(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "memories.sqlite")

    def fail() -> None:
        raise RuntimeError("not this time")

    try:
        with pytest.raises(RuntimeError, match="not this time"):
            store.put_many([stored_memory(1)], before_commit=fail)
        store.put_many([stored_memory(2)])
        with pytest.raises(RuntimeError, match="not this time"):
            store.put_if_unchanged(NS, [stored_memory(2)], {(2.0,): 1.0}, before_commit=fail)
        assert store.get(NS, (1.0,)) is None
        assert store.versions(NS, (2.0,)) == []
        assert store._db.execute("SELECT count(*) FROM memories").fetchone()[0] == 1
    finally:
        store.close()


def test_a_conditional_write_that_finds_a_change_never_calls_before_commit(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "memories.sqlite")
    calls: list[int] = []
    try:
        store.put_many([stored_memory(1)])
        changed = store.put_if_unchanged(
            NS, [stored_memory(1)], {(1.0,): 0.5}, before_commit=lambda: calls.append(1)
        )
        assert changed == [(1.0,)]
        assert calls == []
    finally:
        store.close()
