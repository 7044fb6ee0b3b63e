"""A snapshot of the embedded store: a read transaction on a connection of its own.

The store's file is in write-ahead-log mode (``SQLiteFile`` sets it), where a reader sees the database
as of its transaction's first read and never blocks the writers of the serving process, nor they it.
"""

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from somafractalmemory.adapters.sqlite_store import (
    MEMORY_COLUMNS,
    STORED_COLUMNS,
    link_from_row,
    memory_from_row,
    version_from_row,
)
from somafractalmemory.core.coordinates import coordinate_from_key
from somafractalmemory.core.errors import BackendUnavailable
from somafractalmemory.core.models import Link, Memory, StoredVersion
from somafractalmemory.core.snapshot import StoreSnapshot

BACKEND = "sqlite"
WAL = "wal"


class SQLiteSnapshot:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._columns: str | None = None

    def _memory_columns(self) -> str:
        """With the memories' embedder, unless the file was made before memories recorded it."""
        if self._columns is None:
            names = {row[1] for row in self._db.execute("PRAGMA table_info(memories)")}
            self._columns = STORED_COLUMNS if "embedder" in names else MEMORY_COLUMNS
        return self._columns

    def namespaces(self) -> list[str]:
        rows = self._db.execute(
            "SELECT namespace FROM memories UNION SELECT namespace FROM links ORDER BY namespace"
        )
        return [row[0] for row in rows]

    def memories(self, namespace: str) -> Iterator[Memory]:
        rows = self._db.execute(
            f"SELECT {self._memory_columns()} FROM memories WHERE namespace = ? ORDER BY id", (namespace,)
        )
        yield from (memory_from_row(row) for row in rows)

    def links(self, namespace: str) -> Iterator[Link]:
        rows = self._db.execute(
            "SELECT * FROM links WHERE namespace = ? ORDER BY source_key, target_key, link_type",
            (namespace,),
        )
        yield from (link_from_row(row, namespace) for row in rows)

    def versions(self, namespace: str) -> Iterator[StoredVersion]:
        rows = self._db.execute(
            "SELECT * FROM memory_versions WHERE namespace = ? ORDER BY coord_key, number", (namespace,)
        )
        for row in rows:
            yield StoredVersion(namespace, coordinate_from_key(row["coord_key"]), version_from_row(row))


class EmptySnapshot:
    """A data directory where nothing was ever stored."""

    def namespaces(self) -> list[str]:
        return []

    def memories(self, namespace: str) -> Iterator[Memory]:
        yield from ()

    def links(self, namespace: str) -> Iterator[Link]:
        yield from ()

    def versions(self, namespace: str) -> Iterator[StoredVersion]:
        yield from ()


@contextmanager
def sqlite_snapshot(path: Path) -> Iterator[StoreSnapshot]:
    if not path.exists():
        yield EmptySnapshot()
        return
    try:
        with closing(sqlite3.connect(path, isolation_level=None)) as db:
            db.row_factory = sqlite3.Row
            mode = db.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != WAL:
                raise BackendUnavailable(
                    BACKEND,
                    f"{path.name} is in journal mode {mode!r}, not {WAL!r}: open it once with soma serve",
                )
            db.execute("BEGIN")
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # the first read fixes the snapshot
            try:
                yield SQLiteSnapshot(db)
            finally:
                db.execute("ROLLBACK")
    except sqlite3.Error as error:
        raise BackendUnavailable(BACKEND, f"{path.name}: {error}") from error
