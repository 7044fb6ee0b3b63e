"""A snapshot of the production store: one REPEATABLE READ, READ ONLY transaction, streamed through
server-side cursors, on a connection of its own (the API's pool is never held)."""

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from somafractalmemory.adapters.postgres_store import (
    BACKEND,
    ITER_BATCH,
    MEMORY_COLUMNS,
    VERSION_COLUMNS,
    link_from_row,
    memory_from_row,
    version_from_row,
)
from somafractalmemory.core.coordinates import coordinate_from_key
from somafractalmemory.core.errors import BackendUnavailable
from somafractalmemory.core.models import Link, Memory, StoredVersion
from somafractalmemory.core.snapshot import StoreSnapshot

LINK_COLUMNS = "namespace, source_key, target_key, link_type, weight, created_at"


class PostgresSnapshot:
    def __init__(self, conn: psycopg.Connection[tuple[object, ...]]) -> None:
        self._conn = conn

    def namespaces(self) -> list[str]:
        rows = self._conn.execute(
            "SELECT namespace FROM soma_memories UNION SELECT namespace FROM soma_links ORDER BY namespace"
        ).fetchall()
        return [str(row[0]) for row in rows]

    def _stream(self, cursor_name: str, query: str, namespace: str) -> Iterator[tuple[object, ...]]:
        with self._conn.cursor(name=cursor_name) as cursor:
            cursor.itersize = ITER_BATCH
            cursor.execute(query, (namespace,))
            yield from cursor

    def memories(self, namespace: str) -> Iterator[Memory]:
        query = (
            f"SELECT {MEMORY_COLUMNS} FROM soma_memories WHERE namespace = %s ORDER BY created_at, coord_key"
        )
        yield from (memory_from_row(row) for row in self._stream("soma_backup_memories", query, namespace))

    def links(self, namespace: str) -> Iterator[Link]:
        query = (
            f"SELECT {LINK_COLUMNS} FROM soma_links WHERE namespace = %s"
            " ORDER BY source_key, target_key, link_type"
        )
        yield from (link_from_row(row) for row in self._stream("soma_backup_links", query, namespace))

    def versions(self, namespace: str) -> Iterator[StoredVersion]:
        query = (
            f"SELECT coord_key, {VERSION_COLUMNS} FROM soma_memory_versions WHERE namespace = %s"
            " ORDER BY coord_key, number"
        )
        for row in self._stream("soma_backup_versions", query, namespace):
            yield StoredVersion(namespace, coordinate_from_key(str(row[0])), version_from_row(row[1:]))


@contextmanager
def postgres_snapshot(url: str) -> Iterator[StoreSnapshot]:
    try:
        conn = psycopg.connect(url)
    except psycopg.Error as error:
        raise BackendUnavailable(BACKEND, str(error)) from error
    with conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        try:
            with conn.transaction():
                conn.execute("SELECT 1")  # the first statement fixes the snapshot: now, not at a later read
                yield PostgresSnapshot(conn)
        except psycopg.OperationalError as error:
            raise BackendUnavailable(BACKEND, str(error)) from error
