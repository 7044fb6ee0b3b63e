"""A SQLite file opened the way the embedded adapters use it: write-ahead log, one connection shared by
the server's threads under a lock, explicit transactions, and the log copied back into the file by a
thread of its own (``Checkpointer``)."""

import functools
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from somafractalmemory.core.errors import BackendUnavailable
from somafractalmemory.datadir import private_file, tighten

log = logging.getLogger(__name__)

SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")
# A write's rows go in with one statement for up to this many (the file's limit on a statement's
# variables permitting): see ``insert_rows``.
ROWS_PER_STATEMENT = 1000
# After a commit wakes it, the checkpointer waits this long before it copies, so the commits of that time
# share one checkpoint: each syncs the log and the file, which at one a commit slowed single stores.
CHECKPOINT_PAUSE_SECONDS = 0.5


class Checkpointer:
    """Copies committed pages from the write-ahead log into the database file, on a connection and a
    thread of its own. SQLite would do it inside the commit that crosses 1,000 pages of log (its
    auto-checkpoint), with the writer's lock held and the file synced: at bulk-ingest rates one commit in
    two. A passive checkpoint takes no lock a writer waits for, and a commit is as durable either way
    (``synchronous=NORMAL``: against a crash of the process, the log holds it)."""

    def __init__(self, path: Path) -> None:
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._committed = threading.Event()
        self._stopping = threading.Event()
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
            if self._stopping.wait(CHECKPOINT_PAUSE_SECONDS):
                return  # the last connection to close copies the rest
            self._committed.clear()
            try:
                self.checkpoint()
            except sqlite3.Error as error:  # the next commit tries again; the log only grows meanwhile
                log.warning("checkpoint of %s failed: %s", self._thread.name, error)

    def close(self) -> None:
        self._stopping.set()
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
        # Statement journals and temporary tables in memory: a write's statement of 1,000 rows (and the
        # text indexes' triggers) journals the pages it changes in case it must be undone alone, and in a
        # temporary file that was the largest writer of a bulk ingest (35 MB in 4 s, more than both WALs).
        self.db.execute("PRAGMA temp_store=MEMORY")
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


def statement_sizes(rows: int, most: int) -> Iterator[int]:
    """How many rows each insert statement of a write takes: the largest of ``most``, ``most // 2``,
    ``most // 4`` ... down to 1 that fits in what remains (a write of 500 or 1,000 rows is one
    statement). So a connection prepares about ten statement shapes a table, not one per batch size:
    the sqlite3 module keeps up to 128 prepared statements, and one of 1,000 rows holds about 1.4 MiB."""
    size = most
    while rows:
        while size > rows:
            size //= 2
        yield size
        rows -= size


def rows_per_statement(db: sqlite3.Connection, width: int) -> int:
    """The most rows of ``width`` values one statement takes: ROWS_PER_STATEMENT, or fewer when the
    file's limit on a statement's variables is lower."""
    return max(1, min(ROWS_PER_STATEMENT, db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // width))


@functools.lru_cache(maxsize=64)
def values_statement(head: str, width: int, count: int, tail: str) -> str:
    """``head VALUES (?, ...), ... tail``: ``count`` rows of ``width`` values."""
    row = f"({', '.join(['?'] * width)})"
    return f"{head} VALUES {', '.join([row] * count)} {tail}"


def insert_rows(
    db: sqlite3.Connection, head: str, rows: Sequence[tuple[object, ...]], tail: str = ""
) -> None:
    """Insert ``rows`` (each of the same width) with as few statements as ``statement_sizes`` gives,
    rather than one per row (``executemany``), which costs several times more:
    - inside a transaction, each statement that fires triggers opens a savepoint, and at a savepoint
      FTS5 writes out the terms it holds in memory, so each row became a segment of the text indexes of
      its own, to be merged later (measured on SQLite 3.40: 66 us a row through the memories' triggers
      row by row, 9 us in statements of 1,000 rows);
    - the sqlite3 module takes the GIL back after each statement, and with other threads running Python
      (the index writer, the embedding) each time can mean a wait for them."""
    if not rows:
        return
    width = len(rows[0])
    start = 0
    for size in statement_sizes(len(rows), rows_per_statement(db, width)):
        chunk = rows[start : start + size]
        db.execute(values_statement(head, width, size, tail), [value for row in chunk for value in row])
        start += size
