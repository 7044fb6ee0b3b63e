"""The embedded SQLite files copy their write-ahead log back into the database file on a thread of their
own (issue 15): a commit never waits for a checkpoint, and what it committed still reaches the file."""

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from somafractalmemory.adapters import sqlite_file
from somafractalmemory.adapters.sqlite_file import SQLiteFile
from somafractalmemory.adapters.sqlite_store import SQLiteStore
from somafractalmemory.cli.bench_workload import Workload
from somafractalmemory.core.models import Memory

SCHEMA = "CREATE TABLE IF NOT EXISTS blobs (id INTEGER PRIMARY KEY, data BLOB NOT NULL);"
ROWS, ROW_BYTES = 200, 16_384  # 3.2 MB: several times what a checkpoint at 1,000 pages would hold back


def write(file: SQLiteFile) -> None:
    with file.transaction() as db:
        db.executemany("INSERT INTO blobs (data) VALUES (?)", [(bytes(ROW_BYTES),) for _ in range(ROWS)])


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def checkpoint_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("checkpoint ")]


def test_the_writer_never_checkpoints_and_the_checkpointer_copies_the_commit_into_the_file(
    tmp_path: Path,
) -> None:
    path = tmp_path / "data.sqlite"
    file = SQLiteFile(path, SCHEMA, "test")
    try:
        assert file.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 0
        assert file.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert file.db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
        before = path.stat().st_size
        write(file)
        assert wait_for(lambda: path.stat().st_size >= before + ROWS * ROW_BYTES)
        # every frame of the log is in the file: a checkpoint now has nothing left to copy
        busy, frames, copied = file.checkpointer.checkpoint()
        assert (busy, copied) == (0, frames)
    finally:
        file.close()


def test_the_checkpointer_waits_for_a_commit(tmp_path: Path) -> None:
    path = tmp_path / "data.sqlite"
    file = SQLiteFile(path, SCHEMA, "test")
    try:
        with file.lock:
            file.db.execute("BEGIN IMMEDIATE")
            file.db.executemany(
                "INSERT INTO blobs (data) VALUES (?)", [(bytes(ROW_BYTES),) for _ in range(ROWS)]
            )
            file.db.execute("COMMIT")  # committed outside ``transaction``: nothing tells the checkpointer
        size = path.stat().st_size
        time.sleep(sqlite_file.CHECKPOINT_PAUSE_SECONDS * 6)
        assert path.stat().st_size == size
        write(file)  # the next commit wakes it, and it copies both
        assert wait_for(lambda: path.stat().st_size >= size + 2 * ROWS * ROW_BYTES)
    finally:
        file.close()


def test_close_stops_the_checkpointer_and_leaves_no_log(tmp_path: Path) -> None:
    path = tmp_path / "data.sqlite"
    file = SQLiteFile(path, SCHEMA, "test")
    assert [thread.name for thread in checkpoint_threads()].count("checkpoint data.sqlite") == 1
    write(file)
    file.close()
    assert "checkpoint data.sqlite" not in [thread.name for thread in checkpoint_threads()]
    assert not path.with_name("data.sqlite-wal").exists()
    reopened = SQLiteFile(path, SCHEMA, "test")
    try:
        assert reopened.db.execute("SELECT count(*) FROM blobs").fetchone()[0] == ROWS
    finally:
        reopened.close()


def test_commits_close_together_share_one_checkpoint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_file, "CHECKPOINT_PAUSE_SECONDS", 0.5)
    path = tmp_path / "data.sqlite"
    file = SQLiteFile(path, SCHEMA, "test")
    checkpoints: list[float] = []
    checkpoint = file.checkpointer.checkpoint

    def counted() -> tuple[int, int, int]:
        checkpoints.append(time.monotonic())
        return checkpoint()

    file.checkpointer.checkpoint = counted  # type: ignore[method-assign]
    try:
        for _ in range(5):
            with file.transaction() as db:
                db.execute("INSERT INTO blobs (data) VALUES (?)", (bytes(100),))
        assert wait_for(lambda: len(checkpoints) == 1)
        time.sleep(0.7)
        assert len(checkpoints) == 1  # five commits, one checkpoint
    finally:
        file.close()


def test_close_does_not_wait_out_the_pause(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_file, "CHECKPOINT_PAUSE_SECONDS", 600.0)
    file = SQLiteFile(tmp_path / "data.sqlite", SCHEMA, "test")
    write(file)  # the checkpointer now waits out its pause
    file.close()  # returns at once: the stop ends the pause
    assert "checkpoint data.sqlite" not in [thread.name for thread in checkpoint_threads()]


def temporary_files() -> list[str]:
    """The SQLite temporary files this process holds open (unlinked once opened: /proc still names them)."""
    fds = Path("/proc/self/fd")
    found = []
    for fd in fds.iterdir():
        try:
            target = str(fd.readlink())
        except OSError:
            continue
        if "etilqs_" in target:
            found.append(target)
    return found


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to see the open files")
@pytest.mark.parametrize(("temp_store", "on_disk"), [(None, False), ("DEFAULT", True)])
def test_a_bulk_write_journals_its_statements_in_memory(
    tmp_path: Path, temp_store: str | None, on_disk: bool
) -> None:
    """The store's write of 1,000 memories over 3,000 (its triggers fill both text indexes) journals
    the pages each statement changes; the file keeps that journal in memory. With SQLite's default, a
    temporary file, the same write opens one: the test sees what it looks for (files are looked at
    while the statements run)."""
    store = SQLiteStore(tmp_path / "memories.sqlite")
    seen: list[str] = []

    def look() -> int:
        seen.extend(temporary_files())
        return 0

    try:
        assert store._db.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
        if temp_store is not None:
            store._db.execute(f"PRAGMA temp_store={temp_store}")
        workload = Workload(3)
        now = time.time()
        for _ in range(4):
            memories = [
                Memory("ns", item.coordinate, item.payload, item.memory_type, 0.5, now, now)
                for item in workload.memories(1_000)
            ]
            store._db.set_progress_handler(look, 10_000)
            store.put_many(memories)
        assert bool(seen) is on_disk
    finally:
        store._db.set_progress_handler(None, 0)
        store.close()
