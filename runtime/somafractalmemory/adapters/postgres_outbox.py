"""The transactional outbox in PostgreSQL: written with each memory write, drained by one relay at a time.

The store inserts outbox rows inside the writing transaction. The relay drains them in id order under a
transaction-scoped advisory lock, so of several API replicas exactly one relays at any moment and the events
of one memory keep their order; rows are deleted only once the broker acknowledged them, in the same
transaction that read them (a relay that dies mid-batch leaves them for the next one).
"""

from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field

import psycopg
from psycopg.rows import TupleRow

from somafractalmemory.adapters.index_events import encode_delete, encode_upsert, event_key
from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.models import Memory

OUTBOX_INSERT = "INSERT INTO soma_outbox (event_key, event) VALUES (%s, %s)"

RELAY_LOCK_KEY = 0x50_4D_41_5F_52_4C_59  # "SOMA_RLY"

ConnectionFactory = Callable[[], AbstractContextManager[psycopg.Connection[TupleRow]]]


def outbox_rows_for_put(memories: Sequence[Memory]) -> list[tuple[str, bytes]]:
    return [(event_key(memory.namespace, memory.coordinate), encode_upsert(memory)) for memory in memories]


def outbox_rows_for_delete(namespace: str, coordinate: Coordinate) -> list[tuple[str, bytes]]:
    return [(event_key(namespace, coordinate), encode_delete(namespace, coordinate))]


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    key: str
    event: bytes


@dataclass(slots=True)
class OutboxBatch:
    """Entries to publish; the relay marks the ones the broker acknowledged."""

    entries: list[OutboxEntry]
    delivered: set[int] = field(default_factory=set)


class PostgresOutbox:
    def __init__(self, connection: ConnectionFactory) -> None:
        self._connection = connection

    @contextmanager
    def drain(self, limit: int) -> Iterator[OutboxBatch]:
        """The oldest ``limit`` entries (none when another relay holds the lock); delivered ones are deleted
        when the block exits normally."""
        with self._connection() as conn:
            row = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (RELAY_LOCK_KEY,)).fetchone()
            if not row or not row[0]:
                yield OutboxBatch([])
                return
            rows = conn.execute(
                "SELECT id, event_key, event FROM soma_outbox ORDER BY id LIMIT %s", (limit,)
            ).fetchall()
            batch = OutboxBatch([OutboxEntry(int(id_), key, bytes(event)) for id_, key, event in rows])
            yield batch
            if batch.delivered:
                conn.execute("DELETE FROM soma_outbox WHERE id = ANY(%s)", (sorted(batch.delivered),))

    def backlog(self) -> int:
        """How many entries wait (an upper bound from the id range: no scan of the table)."""
        with self._connection() as conn:
            row = conn.execute("SELECT coalesce(max(id) - min(id) + 1, 0) FROM soma_outbox").fetchone()
        return int(row[0]) if row else 0
