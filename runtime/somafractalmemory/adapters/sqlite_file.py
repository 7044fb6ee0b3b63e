"""A SQLite file opened the way the embedded adapters use it: write-ahead log, one connection shared by
the server's threads under a lock, explicit transactions, and the log copied back into the file by a
thread of its own (``Checkpointer``)."""

import logging
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from somafractalmemory.core.errors import BackendUnavailable
from somafractalmemory.datadir import private_file, tighten

log = logging.getLogger(__name__)

SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
# How often the checkpointer copies what was committed since back into the file, at most; a commit wakes
# it. The log's frames cost a lookup on every read until they are copied.
CHECKPOINT_PAUSE_SECONDS = 0.05


class Checkpointer:
    """Copies committed pages from the write-ahead log into the database file, on a connection and a
    thread of its own. SQLite would do it inside the commit that crosses 1,000 pages of log (its
    auto-checkpoint), with the writer's lock held and the file synced: at bulk-ingest rates one commit in
    two. A passive checkpoint takes no lock a writer waits for, and a commit is as durable either way
    (``synchronous=NORMAL``: against a crash of the process, the log holds it)."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._committed = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=f"checkpoint {path.name}", daemon=True)
        self._thread.start()

    def committed(self) -> None:
        self._committed.set()

    def checkpoint(self) -> tuple[int, int, int]:
        """(1 when a reader or writer kept it from finishing, frames in the log, frames copied)."""
        busy, frames, copied = self._db.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return busy, frames, copied

    def _run(self) -> None:
        while True:
            self._committed.wait()
            if self._stopping:
                return
            self._committed.clear()
            try:
                self.checkpoint()
            except sqlite3.Error as error:  # the next commit tries again; the log only grows meanwhile
                log.warning("checkpoint of %s failed: %s", self._thread.name, error)
            time.sleep(CHECKPOINT_PAUSE_SECONDS)

    def close(self) -> None:
        self._stopping = True
        self._committed.set()
        self._thread.join()
        self._db.close()


class SQLiteFile:
    def __init__(self, path: Path, schema: str, backend: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # SQLite creates its -wal and -shm files with the database file's mode: owner-only, like it.
        private_file(path)
        for companion in SQLITE_COMPANIONS:
            tighten(path.with_name(path.name + companion))
        self.path = path
        self.backend = backend
        self.lock = threading.RLock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # durable on commit against a crash of this process
        self.db.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's job
        self.db.executescript(schema)
        self.checkpointer = Checkpointer(path)

    def ping(self) -> None:
        try:
            with self.lock:
                self.db.execute("SELECT 1").fetchone()
        except sqlite3.Error as error:
            raise BackendUnavailable(self.backend, str(error)) from error

    def close(self) -> None:
        """The checkpointer's connection first: the last one to close copies the rest of the log into
        the file and removes it."""
        with self.lock:
            self.checkpointer.close()
            self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """BEGIN IMMEDIATE ... COMMIT under the lock; ROLLBACK when the body raises."""
        with self.lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")
        self.checkpointer.committed()
