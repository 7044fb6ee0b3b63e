"""A SQLite file opened the way the embedded adapters use it: write-ahead log, one connection shared by
the server's threads under a lock, and explicit transactions."""

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from somafractalmemory.core.errors import BackendUnavailable
from somafractalmemory.datadir import private_file, tighten

SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


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
        self.db.executescript(schema)

    def ping(self) -> None:
        try:
            with self.lock:
                self.db.execute("SELECT 1").fetchone()
        except sqlite3.Error as error:
            raise BackendUnavailable(self.backend, str(error)) from error

    def close(self) -> None:
        with self.lock:
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
