"""Index recovery pinned to its values: the status in every state and what it says, the counts replayed,
the chunks, the journal entries resolved, what the log tells the operator, a failure and a stop."""

import logging
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from embedded_service import close_service, open_service

from somafractalmemory.adapters.sqlite_store import SQLiteStore
from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.index_recovery import (
    CHUNK,
    PROGRESS_EVERY,
    IndexRecovery,
    RecoveryState,
    RecoveryStatus,
)
from somafractalmemory.core.models import Memory, MemoryType
from somafractalmemory.core.service import MemoryService

NS = "default"
LOGGER = "somafractalmemory.core.index_recovery"


def memory(n: int) -> Memory:
    return Memory(NS, (float(n),), {"text": f"note {n}"}, MemoryType.EPISODIC, 0.5, 1.0, 1.0)


def crash(directory: Path, memories: int = 130) -> None:
    """Store writes the index never got: one entry of many memories, one of a single memory, a delete."""
    store = SQLiteStore(directory / "memories.sqlite")
    store.put_many([memory(n) for n in range(memories)])
    store.put_many([memory(1000)])
    store.delete(NS, (5.0,))
    store.close()


def indexed(service: MemoryService) -> set[Coordinate]:
    query = np.ones(384, dtype=np.float32) / np.sqrt(384)
    hits = service.index.search(NS, query, top_k=1000, memory_type=None, conditions=())
    return {hit.coordinate for hit in hits}


def recovery_of(service: MemoryService) -> IndexRecovery:
    assert isinstance(service.store, SQLiteStore)
    return IndexRecovery(service, service.store)


def messages(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == LOGGER]


def test_the_status_in_each_state() -> None:
    assert RecoveryStatus(RecoveryState.IDLE, 0, 0).ready is True
    assert RecoveryStatus(RecoveryState.DONE, 5, 0).ready is True
    assert RecoveryStatus(RecoveryState.RUNNING, 5, 1).ready is False
    assert RecoveryStatus(RecoveryState.FAILED, 5, 1, "disk full").ready is False
    assert RecoveryStatus(RecoveryState.RUNNING, 12_345, 2_345).describe() == (
        "recovering the vector index after an unclean stop: 12,345 memories replayed, "
        "2,345 journal entries left"
    )
    assert RecoveryStatus(RecoveryState.FAILED, 5, 1, "disk full").describe() == (
        "index recovery failed: disk full"
    )
    assert [state.value for state in RecoveryState] == ["idle", "running", "done", "failed"]
    assert (CHUNK, PROGRESS_EVERY) == (64, 10_000)


def test_a_replay_counts_every_memory_and_resolves_every_entry(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    crash(tmp_path)
    service = open_service(tmp_path)
    try:
        recovery = recovery_of(service)
        assert recovery.status == RecoveryStatus(RecoveryState.RUNNING, 0, 3)
        assert not recovery.status.ready
        with caplog.at_level(logging.INFO, logger=LOGGER):
            recovery.run()
        assert recovery.status == RecoveryStatus(RecoveryState.DONE, 132, 0)
        assert recovery.status.ready
        assert messages(caplog) == [
            (
                logging.WARNING,
                "the vector index may have missed 3 writes before an unclean stop: replaying them",
            ),
            (logging.INFO, "index recovery: 130 memories replayed, 2 journal entries left"),
            (logging.INFO, "index recovery: 131 memories replayed, 1 journal entries left"),
            (logging.INFO, "index recovery: 132 memories replayed, 0 journal entries left"),
            (logging.INFO, "index recovery done: 132 memories replayed"),
        ]
        assert service.store.pending() == []  # type: ignore[attr-defined]
        assert indexed(service) == {(float(n),) for n in range(130)} - {(5.0,)} | {(1000.0,)}
    finally:
        close_service(service)


def test_a_store_without_a_journal_is_replayed_in_chunks_to_the_last_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = SQLiteStore(tmp_path / "memories.sqlite")
    store.put_many([memory(n) for n in range(10_100)])
    store.close()
    with closing(sqlite3.connect(tmp_path / "memories.sqlite")) as db:
        db.execute("DROP TABLE index_journal")
        db.commit()
    service = open_service(tmp_path)
    try:
        recovery = recovery_of(service)
        assert recovery.status == RecoveryStatus(RecoveryState.RUNNING, 0, 1)
        with caplog.at_level(logging.INFO, logger=LOGGER):
            recovery.start()
            assert recovery._thread is not None
            assert recovery._thread.daemon is True  # never holds up the process's exit
            recovery.wait()
        assert recovery.status == RecoveryStatus(RecoveryState.DONE, 10_100, 0)
        ours = [r for r in caplog.records if r.name == LOGGER]
        assert {r.threadName for r in ours} == {"soma-index-recovery"}
        assert [r.getMessage() for r in ours if r.getMessage().endswith("so far")] == [
            "index recovery: 10048 memories replayed so far"  # the 157th chunk of 64 crosses 10,000
        ]
        assert len(indexed(service)) == 1000  # the search's top_k: the index holds them all
    finally:
        close_service(service)


class StatusAtEachLine(logging.Handler):
    def __init__(self, recovery: IndexRecovery) -> None:
        super().__init__(logging.INFO)
        self.recovery = recovery
        self.seen: list[tuple[str, RecoveryStatus]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.getMessage(), self.recovery.status))


def test_the_status_while_running_counts_what_is_replayed_and_left(tmp_path: Path) -> None:
    crash(tmp_path)
    service = open_service(tmp_path)
    logger = logging.getLogger(LOGGER)
    try:
        recovery = recovery_of(service)
        handler = StatusAtEachLine(recovery)
        logger.addHandler(handler)
        previous, logger.level = logger.level, logging.INFO
        try:
            recovery.run()
        finally:
            logger.removeHandler(handler)
            logger.setLevel(previous)
        running = RecoveryState.RUNNING
        assert [status for _, status in handler.seen] == [
            RecoveryStatus(running, 0, 3),
            RecoveryStatus(running, 130, 3),
            RecoveryStatus(running, 131, 2),
            RecoveryStatus(running, 132, 1),
            RecoveryStatus(RecoveryState.DONE, 132, 0),
        ]
    finally:
        close_service(service)


def test_a_clean_start_has_nothing_to_do(service: MemoryService) -> None:
    recovery = recovery_of(service)
    assert recovery.status == RecoveryStatus(RecoveryState.IDLE, 0, 0)
    assert recovery.status.ready
    recovery.start()
    recovery.wait()
    recovery.run()
    assert recovery.status == RecoveryStatus(RecoveryState.IDLE, 0, 0)


def test_a_failed_replay_keeps_the_journal_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    crash(tmp_path)
    service = open_service(tmp_path)
    try:
        recovery = recovery_of(service)
        service.index.close()
        with caplog.at_level(logging.INFO, logger=LOGGER):
            recovery.run()
        status = recovery.status
        assert (status.state, status.replayed, status.entries_left) == (RecoveryState.FAILED, 0, 3)
        assert status.error == "Cannot operate on a closed database."
        assert status.describe() == "index recovery failed: Cannot operate on a closed database."
        assert not status.ready
        assert (
            logging.ERROR,
            "index recovery failed; the journal keeps what is left for the next start",
        ) in (messages(caplog))
        assert len(service.store.pending()) == 3  # type: ignore[attr-defined]
    finally:
        close_service(service)


def test_a_stopped_recovery_leaves_the_rest_for_the_next_start(tmp_path: Path) -> None:
    crash(tmp_path)
    service = open_service(tmp_path)
    try:
        recovery = recovery_of(service)
        recovery.stop()
        recovery.run()
        assert recovery.status == RecoveryStatus(RecoveryState.RUNNING, 0, 3)
        assert len(service.store.pending()) == 3  # type: ignore[attr-defined]
        assert indexed(service) == set()
    finally:
        close_service(service)


def test_progress_is_logged_every_10000_memories(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    crash(tmp_path, memories=10_100)
    service = open_service(tmp_path)
    try:
        with caplog.at_level(logging.INFO, logger=LOGGER):
            recovery_of(service).run()
        progress = [text for _, text in messages(caplog) if text.endswith("so far")]
        assert progress == ["index recovery: 10048 memories replayed so far"]  # 157 chunks of 64
    finally:
        close_service(service)
