"""The index journal and start-up recovery on the embedded adapters: a crash between the document store
and the vector index is repaired in both directions, a clean start replays nothing, and readiness says
503 while recovery runs."""

import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from somafractalmemory.adapters.numpy_index import NumpyIndex
from somafractalmemory.adapters.sqlite_store import SQLiteStore
from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.index_recovery import RecoveryState
from somafractalmemory.core.models import Memory, MemoryType
from somafractalmemory.core.service import MemoryService, NewMemory
from somafractalmemory.embedding.hashing import HashingEmbedder
from somafractalmemory.http_api import create_app
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import DOCUMENT_FILE, VECTOR_FILE, Runtime, build_runtime

NS = "default"
DIMS = 384
TOKEN = "recovery-test-token-0123456789"


def memory(index: int, text: str | None = None) -> Memory:
    return Memory(NS, (float(index),), {"text": text or f"note {index}"}, MemoryType.EPISODIC, 0.5, 1.0, 1.0)


def indexed(data_dir: Path) -> set[Coordinate]:
    index = NumpyIndex(data_dir / VECTOR_FILE, DIMS)
    try:
        query = np.ones(DIMS, dtype=np.float32) / np.sqrt(DIMS)
        return {
            hit.coordinate for hit in index.search(NS, query, top_k=1000, memory_type=None, conditions=())
        }
    finally:
        index.close()


def crash_after_store_write(data_dir: Path) -> None:
    """What a kill between the two files leaves: 300 memories and a delete the index never got."""
    data_dir.mkdir(parents=True, exist_ok=True)
    service = MemoryService(
        SQLiteStore(data_dir / DOCUMENT_FILE), NumpyIndex(data_dir / VECTOR_FILE, DIMS), HashingEmbedder(DIMS)
    )
    service.store_many(NS, [NewMemory((float(i),), {"text": f"note {i}"}) for i in range(100)])
    store = SQLiteStore(data_dir / DOCUMENT_FILE)
    store.put_many([memory(i) for i in range(100, 400)])  # committed; the index write never happened
    store.delete(NS, (5.0,))  # the store forgot it; the index still holds its vector
    # no close of either: the process died here


def settings(data_dir: Path) -> Settings:
    return Settings(data_dir=data_dir, api_token=TOKEN, rate_limit_per_minute=0)


def test_recovery_indexes_what_the_store_holds_and_removes_what_it_does_not(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    crash_after_store_write(data_dir)
    assert len(indexed(data_dir)) == 100
    runtime = build_runtime(settings(data_dir))
    assert runtime.recovery is not None
    runtime.recovery.wait()
    status = runtime.recovery.status
    assert (status.state, status.replayed, status.entries_left) == (RecoveryState.DONE, 401, 0)
    runtime.close()
    expected = {(float(i),) for i in range(400)} - {(5.0,)}
    assert indexed(data_dir) == expected


def test_a_clean_restart_replays_nothing(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    runtime = build_runtime(settings(data_dir))
    runtime.service.store_many(NS, [NewMemory((float(i),), {"text": f"note {i}"}) for i in range(50)])
    runtime.service.store_memory(NS, NewMemory((99.0,), {"text": "one more"}))
    runtime.service.delete(NS, (3.0,))
    runtime.close()
    with closing(sqlite3.connect(data_dir / DOCUMENT_FILE)) as db:
        assert db.execute("SELECT count(*) FROM index_journal").fetchone() == (0,)
    restarted = build_runtime(settings(data_dir))
    assert restarted.recovery is not None
    assert restarted.recovery.status.state is RecoveryState.IDLE
    restarted.close()


def test_a_store_from_before_the_journal_is_recovered_whole(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    store = SQLiteStore(data_dir / DOCUMENT_FILE)
    store.put_many([memory(i) for i in range(150)])
    store.close()
    with closing(sqlite3.connect(data_dir / DOCUMENT_FILE)) as db:
        db.execute("DROP TABLE index_journal")  # as an older release left the file
        db.commit()
    runtime = build_runtime(settings(data_dir))
    assert runtime.recovery is not None
    runtime.recovery.wait()
    assert runtime.recovery.status.replayed == 150
    runtime.close()
    assert indexed(data_dir) == {(float(i),) for i in range(150)}


def test_readiness_is_503_and_says_recovering_until_the_replay_ends(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    crash_after_store_write(data_dir)
    held: list[Runtime] = []

    def runtime_with_recovery_held(active: Settings) -> Runtime:
        runtime = build_runtime(active, start_recovery=False)
        held.append(runtime)
        return runtime

    with TestClient(create_app(settings(data_dir), runtime_with_recovery_held)) as client:
        ready = client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert body["failed"] == ["index-recovery"]
        assert body["backends"]["index-recovery"]["error"] == (
            "recovering the vector index after an unclean stop: 0 memories replayed, 3 journal entries left"
        )
        assert client.get("/healthz").status_code == 200
        recovery = held[0].recovery
        assert recovery is not None
        recovery.run()
        assert client.get("/readyz").status_code == 200
        assert client.get("/readyz").json()["backends"]["index-recovery"] == {"ok": True}
