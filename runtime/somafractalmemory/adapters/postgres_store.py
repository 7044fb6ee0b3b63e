"""The production document store: PostgreSQL through psycopg 3 and a connection pool.

Memories, links, per-namespace counters and (in evented mode) the outbox live in one database, so a memory
write and its outbox event commit together or not at all. Every connection failure surfaces as
``BackendUnavailable("postgres", ...)``: nothing is acknowledged that was not stored.
"""

import logging
import math
import select
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg_pool
from psycopg.rows import TupleRow
from psycopg.types.json import Jsonb

from somafractalmemory.adapters import postgres_audit
from somafractalmemory.adapters.access_counts import AccessCounts, Key
from somafractalmemory.adapters.postgres_outbox import (
    OUTBOX_INSERT,
    outbox_rows_for_delete,
    outbox_rows_for_put,
)
from somafractalmemory.adapters.postgres_schema import migrate
from somafractalmemory.adapters.term_counts import TermCounts
from somafractalmemory.core.audit import AuditEntry, AuditTrail
from somafractalmemory.core.budget import DEFAULT_SCAN_ROWS
from somafractalmemory.core.coordinates import Coordinate, coordinate_from_key, coordinate_key
from somafractalmemory.core.errors import BackendUnavailable, InvalidInput
from somafractalmemory.core.filters import MemoryFilter, matches
from somafractalmemory.core.importance import MemoryOrder
from somafractalmemory.core.models import (
    Link,
    Memory,
    MemoryType,
    MemoryVersion,
    ScoredMemory,
    Stats,
    StoredVersion,
)
from somafractalmemory.core.terms import SCORED_ROWS, by_rarity
from somafractalmemory.core.text import VALUE_SEPARATOR, payload_text, string_values

logger = logging.getLogger(__name__)

BACKEND = "postgres"

MEMORY_COLUMNS = (
    "namespace, coord_key, payload, memory_type, importance, created_at, updated_at, access_count, embedder"
)

UPSERT_MEMORY = """
INSERT INTO soma_memories (namespace, coord_key, coord, dimensions, payload, memory_type, importance,
    created_at, updated_at, access_count, search_text, folded_text, string_values, folded_values, embedder)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (namespace, coord_key) DO UPDATE SET
    payload = EXCLUDED.payload, memory_type = EXCLUDED.memory_type, importance = EXCLUDED.importance,
    updated_at = EXCLUDED.updated_at, search_text = EXCLUDED.search_text,
    folded_text = EXCLUDED.folded_text, string_values = EXCLUDED.string_values,
    folded_values = EXCLUDED.folded_values, embedder = EXCLUDED.embedder
"""

# Before the upsert: the rows it will replace become their memory's next version (the keys are unique).
ARCHIVE_VERSIONS = """
INSERT INTO soma_memory_versions (namespace, coord_key, number, memory_type, payload, importance,
    updated_at, replaced_at)
SELECT m.namespace, m.coord_key,
    coalesce((SELECT max(v.number) FROM soma_memory_versions v
              WHERE v.namespace = m.namespace AND v.coord_key = m.coord_key), 0) + 1,
    m.memory_type, m.payload, m.importance, m.updated_at, w.replaced_at
FROM unnest(%s::text[], %s::text[], %s::float8[]) AS w (namespace, coord_key, replaced_at)
JOIN soma_memories m ON m.namespace = w.namespace AND m.coord_key = w.coord_key
"""

TRIM_VERSIONS = """
DELETE FROM soma_memory_versions v USING unnest(%s::text[], %s::text[]) AS w (namespace, coord_key)
WHERE v.namespace = w.namespace AND v.coord_key = w.coord_key AND v.number <= (
    SELECT max(x.number) FROM soma_memory_versions x
    WHERE x.namespace = w.namespace AND x.coord_key = w.coord_key) - %s
"""

# A restore's versions, numbers included; a number the memory already has stays as stored.
ADD_VERSIONS = """
INSERT INTO soma_memory_versions (namespace, coord_key, number, memory_type, payload, importance,
    updated_at, replaced_at)
SELECT * FROM unnest(%s::text[], %s::text[], %s::int[], %s::text[], %s::jsonb[], %s::float8[], %s::float8[],
    %s::float8[])
ON CONFLICT DO NOTHING
"""

ORDER_BY = {
    MemoryOrder.RECENT: " ORDER BY updated_at DESC, coord_key",
    MemoryOrder.IMPORTANT: " ORDER BY importance DESC, updated_at DESC, coord_key",
}

VERSION_COLUMNS = "number, payload, memory_type, importance, updated_at, replaced_at"

UPSERT_LINK = """
INSERT INTO soma_links (namespace, source_key, target_key, link_type, weight, created_at)
VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (namespace, source_key, target_key, link_type) DO UPDATE SET
    weight = EXCLUDED.weight, created_at = EXCLUDED.created_at
"""

# Every writer locks its namespaces' counter rows first, in name order, before touching memories: the
# counter trigger would otherwise take that lock after a row lock and two writers could deadlock.
LOCK_COUNTERS = """
INSERT INTO soma_namespace_counters (namespace) SELECT unnest(%s::text[]) ORDER BY 1
ON CONFLICT (namespace) DO UPDATE SET namespace = EXCLUDED.namespace
"""

ITER_BATCH = 1000
WORDS_CONFIGURATION = "soma_words"  # the text search configuration of search_words (schema migration 2)

# The access counts a batch adds (``AccessCounts``), in key order.
ADD_ACCESSES = """
UPDATE soma_memories m SET access_count = m.access_count + a.accesses
FROM unnest(%s::text[], %s::text[], %s::bigint[]) AS a (namespace, coord_key, accesses)
WHERE m.namespace = a.namespace AND m.coord_key = a.coord_key
"""

Pool = psycopg_pool.ConnectionPool[psycopg.Connection[TupleRow]]


def check_when_readable(conn: psycopg.Connection[TupleRow]) -> None:
    """The pool's check of a connection it hands out. An idle connection has nothing to read: when its
    socket is readable the server has closed it (a terminated backend, a restart) or said something
    unasked, and only then is it checked with a round trip (which fails for a closed one, and the pool
    replaces it). A healthy connection is handed out without a round trip."""
    if conn.closed:
        raise psycopg.OperationalError("the connection is closed")
    readable, _, _ = select.select([conn.fileno()], [], [], 0)
    if readable:
        psycopg_pool.ConnectionPool.check_connection(conn)


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _phrase_query(placeholder: str) -> str:
    """A tsquery for the phrase in ``placeholder``, in the configuration of the generated ``search_words``."""
    return f"phraseto_tsquery('{WORDS_CONFIGURATION}', {placeholder})"


def _frequencies(count: int) -> str:
    """The namespace's memories and the texts holding each phrase %(t0)s .. %(t{count-1})s, each count
    stopping at %(cap)s (GIN-indexed: one bounded scan a phrase), in one row."""
    held = [
        f"(SELECT count(*) FROM (SELECT 1 FROM soma_memories WHERE namespace = %(namespace)s"
        f" AND search_words @@ {_phrase_query(f'%(t{n})s')} LIMIT %(cap)s) AS held)"
        for n in range(count)
    ]
    total = (
        "(SELECT coalesce(sum(episodic + semantic), 0) FROM soma_namespace_counters"
        " WHERE namespace = %(namespace)s)"
    )
    return "SELECT " + ", ".join([total, *held])


def _held_weight(count: int) -> str:
    """The weights %(w0)s .. of the phrases %(t0)s .. a text's ``search_words`` hold, summed."""
    return (
        "("
        + " + ".join(f"%(w{n})s * (search_words @@ {_phrase_query(f'%(t{n})s')})::int" for n in range(count))
        + ")"
    )


def _idf(total: int, held: int) -> float:
    """BM25's inverse document frequency: ln(1 + (N - n + 0.5) / (n + 0.5))."""
    return math.log(1 + (total - held + 0.5) / (held + 0.5))


def _any_of(count: int) -> str:
    """A tsquery matching any of ``count`` phrases, the parameters %(t0)s .. %(t{count-1})s."""
    return " || ".join(_phrase_query(f"%(t{n})s") for n in range(count))


def _all_of(count: int) -> str:
    """A tsquery matching all of ``count`` phrases, the parameters %(t0)s .. %(t{count-1})s."""
    return " && ".join(_phrase_query(f"%(t{n})s") for n in range(count))


def _memory_row(memory: Memory) -> tuple[Any, ...]:
    text = payload_text(memory.payload)
    values = list(string_values(memory.payload))
    return (
        memory.namespace,
        coordinate_key(memory.coordinate),
        list(memory.coordinate),
        len(memory.coordinate),
        Jsonb(memory.payload),
        memory.memory_type.value,
        memory.importance,
        memory.created_at,
        memory.updated_at,
        memory.access_count,
        text,
        text.casefold(),
        values,
        [value.casefold() for value in values],
        memory.embedder,
    )


def memory_from_row(row: TupleRow, accesses: int = 0) -> Memory:
    """The memory of a ``MEMORY_COLUMNS`` row; ``accesses`` are added to its stored access count."""
    namespace, key, payload, memory_type, importance, created_at, updated_at, access_count, embedder = row
    return Memory(
        namespace=namespace,
        coordinate=coordinate_from_key(key),
        payload=payload,
        memory_type=MemoryType(memory_type),
        importance=importance,
        created_at=created_at,
        updated_at=updated_at,
        access_count=access_count + accesses,
        embedder=embedder,
    )


def version_from_row(row: TupleRow) -> MemoryVersion:
    number, payload, memory_type, importance, updated_at, replaced_at = row
    return MemoryVersion(
        number=number,
        payload=payload,
        memory_type=MemoryType(memory_type),
        importance=importance,
        updated_at=updated_at,
        replaced_at=replaced_at,
    )


def link_from_row(row: TupleRow) -> Link:
    namespace, source_key, target_key, link_type, weight, created_at = row
    return Link(
        namespace=namespace,
        source=coordinate_from_key(source_key),
        target=coordinate_from_key(target_key),
        link_type=link_type,
        weight=weight,
        created_at=created_at,
    )


def _stats(episodic: int, semantic: int) -> Stats:
    return Stats(total_memories=episodic + semantic, episodic=episodic, semantic=semantic)


def _last_per_key(memories: Sequence[Memory]) -> list[Memory]:
    """One row per (namespace, coordinate), the last one winning, in key order (a stable lock order)."""
    latest = {(memory.namespace, coordinate_key(memory.coordinate)): memory for memory in memories}
    return [latest[key] for key in sorted(latest)]


class PostgresStore:
    """DocumentStore on PostgreSQL. ``evented`` writes an outbox event with every put and delete."""

    def __init__(
        self,
        pool: "Pool",
        *,
        evented: bool,
        scan_rows: int = DEFAULT_SCAN_ROWS,
        scored_rows: int = SCORED_ROWS,
    ) -> None:
        self._pool = pool
        self.evented = evented
        self._scan_rows = scan_rows
        self._scored_rows = scored_rows
        self._term_counts = TermCounts()
        self._accesses = AccessCounts(self._add_accesses)

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        evented: bool,
        min_size: int = 1,
        max_size: int = 10,
        timeout: float = 3.0,
        scan_rows: int = DEFAULT_SCAN_ROWS,
    ) -> "PostgresStore":
        """Open a pool (connections are made lazily, so this works while the server is still down)."""
        pool: Pool = psycopg_pool.ConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            open=False,
            check=check_when_readable,
            kwargs={"connect_timeout": max(1, int(timeout))},
            name="soma-postgres",
        )
        pool.open(wait=False)
        return cls(pool, evented=evented, scan_rows=scan_rows)

    @property
    def name(self) -> str:
        return BACKEND

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[TupleRow]]:
        """A pooled connection in a transaction; a connection failure becomes BackendUnavailable, a value
        PostgreSQL cannot hold (e.g. a NUL character, which SQLite would take) becomes InvalidInput."""
        try:
            with self._pool.connection() as conn:
                yield conn
        except (psycopg.OperationalError, psycopg_pool.PoolTimeout) as error:
            raise BackendUnavailable(BACKEND, str(error).strip() or type(error).__name__) from error
        except psycopg.DataError as error:
            raise InvalidInput(f"the database cannot store this value: {str(error).strip()}") from error

    def ping(self) -> None:
        with self.connection() as conn:
            conn.execute("SELECT 1")

    def migrate(self) -> list[int]:
        with self.connection() as conn:
            conn.autocommit = True
            try:
                return migrate(conn)
            finally:
                conn.autocommit = False

    def close(self) -> None:
        self._accesses.close()
        self._pool.close()

    def _memory(self, row: TupleRow) -> Memory:
        """The memory of a row, with the access counts this process has not written yet."""
        return memory_from_row(row, self._accesses.pending((row[0], row[1])))

    # Memories.
    def put_many(
        self,
        memories: Sequence[Memory],
        *,
        keep_versions: int = 0,
        audit: AuditTrail | None = None,
        before_commit: Callable[[], object] | None = None,
    ) -> None:
        if not memories:
            return
        rows = _last_per_key(memories)
        # One pipeline: the statements go out together instead of one round trip each.
        with self.connection() as conn, conn.pipeline(), conn.cursor() as cur:
            cur.execute(LOCK_COUNTERS, (sorted({memory.namespace for memory in rows}),))
            self._put(cur, rows, keep_versions, audit)
            if before_commit is not None:
                before_commit()

    def put_if_unchanged(
        self,
        namespace: str,
        memories: Sequence[Memory],
        read: Mapping[Coordinate, float],
        *,
        keep_versions: int = 0,
        audit: AuditTrail | None = None,
        before_commit: Callable[[], object] | None = None,
    ) -> list[Coordinate]:
        """The rows read are locked (FOR UPDATE, after the counter row, in key order like every writer)
        and their updated_at compared in the transaction that writes: a write of another connection
        either committed before (and is seen) or waits for this one to commit."""
        rows = _last_per_key(memories)
        keys = {coordinate_key(coordinate): coordinate for coordinate in read}
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute(LOCK_COUNTERS, ([namespace],))
            stored = dict(
                cur.execute(
                    "SELECT coord_key, updated_at FROM soma_memories WHERE namespace = %s"
                    " AND coord_key = ANY(%s) ORDER BY coord_key FOR UPDATE",
                    (namespace, sorted(keys)),
                ).fetchall()
            )
            changed = [coordinate for key, coordinate in keys.items() if stored.get(key) != read[coordinate]]
            if changed:
                conn.rollback()
            elif rows:
                self._put(cur, rows, keep_versions, audit)
                if before_commit is not None:
                    before_commit()
        return changed

    def _put(
        self, cur: psycopg.Cursor[TupleRow], rows: list[Memory], keep_versions: int, audit: AuditTrail | None
    ) -> None:
        """The versions, the rows, the audit entries and the outbox events, in the caller's transaction
        (which holds the counter rows' lock)."""
        if keep_versions > 0:
            namespaces = [memory.namespace for memory in rows]
            keys = [coordinate_key(memory.coordinate) for memory in rows]
            cur.execute(ARCHIVE_VERSIONS, (namespaces, keys, [memory.updated_at for memory in rows]))
            cur.execute(TRIM_VERSIONS, (namespaces, keys, keep_versions))
        cur.executemany(UPSERT_MEMORY, [_memory_row(memory) for memory in rows])
        if audit is not None:
            postgres_audit.append(cur, audit)
        if self.evented:
            cur.executemany(OUTBOX_INSERT, outbox_rows_for_put(rows))

    def add_versions(self, versions: Sequence[StoredVersion]) -> int:
        if not versions:
            return 0
        columns = [
            list(column)
            for column in zip(
                *(
                    (
                        stored.namespace,
                        coordinate_key(stored.coordinate),
                        stored.version.number,
                        stored.version.memory_type.value,
                        Jsonb(stored.version.payload),
                        stored.version.importance,
                        stored.version.updated_at,
                        stored.version.replaced_at,
                    )
                    for stored in versions
                ),
                strict=True,
            )
        ]
        with self.connection() as conn, conn.cursor() as cur:
            cur.execute(ADD_VERSIONS, columns)
            return cur.rowcount

    def versions(self, namespace: str, coordinate: Coordinate) -> list[MemoryVersion]:
        with self.connection() as conn:
            rows = conn.execute(
                f"SELECT {VERSION_COLUMNS} FROM soma_memory_versions WHERE namespace = %s AND coord_key = %s"
                " ORDER BY number DESC",
                (namespace, coordinate_key(coordinate)),
            ).fetchall()
        return [version_from_row(row) for row in rows]

    def ordered(
        self, namespace: str, order: MemoryOrder, limit: int, memory_type: MemoryType | None
    ) -> list[Memory]:
        query = f"SELECT {MEMORY_COLUMNS} FROM soma_memories WHERE namespace = %s"
        params: list[Any] = [namespace]
        if memory_type is not None:
            query += " AND memory_type = %s"
            params.append(memory_type.value)
        with self.connection() as conn:
            rows = conn.execute(query + ORDER_BY[order] + " LIMIT %s", [*params, limit]).fetchall()
        return [self._memory(row) for row in rows]

    def replace_version_payloads(
        self, namespace: str, coordinate: Coordinate, payloads: dict[int, dict[str, Any]]
    ) -> None:
        key = coordinate_key(coordinate)
        with self.connection() as conn, conn.cursor() as cur:
            cur.executemany(
                "UPDATE soma_memory_versions SET payload = %s"
                " WHERE namespace = %s AND coord_key = %s AND number = %s",
                [(Jsonb(p), namespace, key, n) for n, p in payloads.items()],
            )

    def get(self, namespace: str, coordinate: Coordinate) -> Memory | None:
        return self.get_many(namespace, [coordinate]).get(coordinate)

    def get_many(self, namespace: str, coordinates: Sequence[Coordinate]) -> dict[Coordinate, Memory]:
        if not coordinates:
            return {}
        keys = [coordinate_key(coord) for coord in coordinates]
        with self.connection() as conn:
            rows = conn.execute(
                f"SELECT {MEMORY_COLUMNS} FROM soma_memories WHERE namespace = %s AND coord_key = ANY(%s)",
                (namespace, keys),
            ).fetchall()
        found = {row[1]: self._memory(row) for row in rows}
        return {coord: found[key] for coord, key in zip(coordinates, keys, strict=True) if key in found}

    def existing(self, namespace: str, coordinates: Sequence[Coordinate]) -> set[Coordinate]:
        """An index-only scan of the primary key (namespace, coord_key) where the visibility map allows."""
        if not coordinates:
            return set()
        keys = {coordinate_key(c): c for c in coordinates}
        with self.connection() as conn:
            rows = conn.execute(
                "SELECT coord_key FROM soma_memories WHERE namespace = %s AND coord_key = ANY(%s)",
                (namespace, list(keys)),
            ).fetchall()
        return {keys[key] for (key,) in rows}

    def delete(
        self,
        namespace: str,
        coordinate: Coordinate,
        *,
        audit: AuditTrail | None = None,
        if_updated_at: float | None = None,
    ) -> bool:
        key = coordinate_key(coordinate)
        condition, params = ("", ()) if if_updated_at is None else (" AND updated_at = %s", (if_updated_at,))
        with self.connection() as conn:
            conn.execute(LOCK_COUNTERS, ([namespace],))
            deleted = conn.execute(
                f"DELETE FROM soma_memories WHERE namespace = %s AND coord_key = %s{condition}",
                (namespace, key, *params),
            ).rowcount
            if if_updated_at is not None and not deleted:
                return False
            conn.execute(
                "DELETE FROM soma_links WHERE namespace = %s AND (source_key = %s OR target_key = %s)",
                (namespace, key, key),
            )
            conn.execute(
                "DELETE FROM soma_memory_versions WHERE namespace = %s AND coord_key = %s", (namespace, key)
            )
            if self.evented and deleted:
                conn.cursor().executemany(OUTBOX_INSERT, outbox_rows_for_delete(namespace, coordinate))
            if audit is not None and deleted:
                postgres_audit.append(conn.cursor(), audit)
        return deleted > 0

    def audit_entries(
        self, namespace: str, coordinate: Coordinate | None, limit: int, before: int | None
    ) -> list[AuditEntry]:
        with self.connection() as conn:
            return postgres_audit.entries(conn, namespace, coordinate, limit, before)

    def record_access(self, namespace: str, coordinates: Sequence[Coordinate]) -> None:
        """Counted in process and written in batches (``AccessCounts``): the caller does not wait."""
        self._accesses.add((namespace, key) for key in {coordinate_key(coord) for coord in coordinates})

    def flush_accesses(self) -> None:
        """Write the access counts gathered so far now (the background writer does it every 0.2 s)."""
        self._accesses.flush()

    def _add_accesses(self, accesses: Mapping[Key, int]) -> None:
        """One statement, not waiting for the disk (a count lost in a crash is no harm)."""
        keys = sorted(accesses)
        with self.connection() as conn, conn.pipeline():
            conn.execute("SET LOCAL synchronous_commit = off")
            conn.execute(
                ADD_ACCESSES,
                ([ns for ns, _ in keys], [key for _, key in keys], [accesses[key] for key in keys]),
            )

    def keyword_search(
        self,
        namespace: str,
        term: str,
        *,
        exact: bool,
        case_sensitive: bool,
        memory_type: MemoryType | None,
        limit: int,
    ) -> list[Memory]:
        if not term or VALUE_SEPARATOR in term:
            return []  # a term never spans two values
        folded = term.casefold()
        if exact:
            condition = "folded_values @> ARRAY[%(folded)s]"
            if case_sensitive:
                condition += " AND string_values @> ARRAY[%(term)s]"
        else:
            condition = "folded_text LIKE %(folded_like)s"
            if case_sensitive:
                condition += " AND search_text LIKE %(like)s"
        if memory_type is not None:
            condition += " AND memory_type = %(memory_type)s"
        params = {
            "namespace": namespace,
            "term": term,
            "folded": folded,
            "like": _like_pattern(term),
            "folded_like": _like_pattern(folded),
            "memory_type": memory_type.value if memory_type else None,
            "limit": limit,
        }
        with self.connection() as conn:
            rows = conn.execute(
                f"SELECT {MEMORY_COLUMNS} FROM soma_memories WHERE namespace = %(namespace)s AND {condition}"
                f" ORDER BY ts_rank(search_words, {_phrase_query('%(term)s')}, 1) DESC,"
                " importance DESC, updated_at DESC LIMIT %(limit)s",
                params,
            ).fetchall()
        return [self._memory(row) for row in rows]

    def lexical_search(
        self,
        namespace: str,
        terms: Sequence[str],
        *,
        memory_type: MemoryType | None,
        conditions: MemoryFilter,
        limit: int,
    ) -> list[ScoredMemory]:
        """Over the GIN-indexed ``search_words``, bounded as on SQLite (``core.terms.by_rarity``): the
        rare terms rank the texts holding any of them, by the sum of the inverse document frequencies
        (in the namespace, as BM25 weighs them: a rare name counts more than a common word) of the terms
        a text holds, then ``ts_rank`` (length-normalised, and scaled into [0, 1) by flag 32) among texts
        holding as much. ``ts_rank`` alone knows no IDF, and one short text holding one common term
        would outrank a longer one holding every term. When every term is common, the texts holding all
        of them come first, then those holding any, most recent first (scores 2 and 1): ranking tens of
        thousands of texts would cost a ``ts_rank`` each. The conditions are checked in rank order until
        ``limit`` memories pass, examining at most ``scan_rows``."""
        phrases = [term for term in terms if term and VALUE_SEPARATOR not in term]
        if not phrases:
            return []
        wanted = self._scan_rows if conditions else limit
        type_condition = "" if memory_type is None else " AND memory_type = %(memory_type)s"
        params: dict[str, Any] = {
            "namespace": namespace,
            "memory_type": None if memory_type is None else memory_type.value,
            "limit": wanted,
        }
        with self.connection() as conn:
            total, counted = self._frequencies(conn, namespace, phrases)
            rare, common = by_rarity(counted, self._scored_rows)
            if rare:
                held = dict((term, count) for count, term in counted)
                params.update({f"t{n}": term for n, term in enumerate(rare)})
                params.update({f"w{n}": _idf(total, held[term]) for n, term in enumerate(rare)})
                rows = conn.execute(
                    f"WITH q AS (SELECT {_any_of(len(rare))} AS query)"
                    f" SELECT {MEMORY_COLUMNS},"
                    f" {_held_weight(len(rare))} + ts_rank(search_words, q.query, 33) AS rank"
                    " FROM soma_memories, q"
                    f" WHERE namespace = %(namespace)s AND search_words @@ q.query{type_condition}"
                    " ORDER BY rank DESC, coord_key LIMIT %(limit)s",
                    params,
                ).fetchall()
            else:  # every term common, or in no text (none then)
                params.update({f"t{n}": term for n, term in enumerate(common)})
                rows = self._most_recent(conn, len(common), type_condition, params) if common else []
        found: list[ScoredMemory] = []
        for row in rows:
            memory = self._memory(row[:-1])
            if matches(memory.payload, conditions):
                found.append(ScoredMemory(memory, float(row[-1])))
                if len(found) == limit:
                    break
        return found

    def _frequencies(
        self, conn: "psycopg.Connection[TupleRow]", namespace: str, phrases: Sequence[str]
    ) -> tuple[int, list[tuple[int, str]]]:
        """The namespace's memories, and the texts holding each phrase (counted up to one past
        ``scored_rows``: all ``by_rarity`` needs), in one statement; a phrase counted a short while ago
        (``TermCounts``) is not counted again, and nothing is counted when the phrases and the namespace's
        memories all were."""
        known = {phrase: self._term_counts.get(namespace, phrase) for phrase in phrases}
        counted = [phrase for phrase, count in known.items() if count is None]
        total = self._term_counts.total(namespace)
        if counted or total is None:
            params: dict[str, Any] = {f"t{n}": phrase for n, phrase in enumerate(counted)}
            params.update(namespace=namespace, cap=self._scored_rows + 1)
            row = conn.execute(_frequencies(len(counted)), params).fetchone()
            assert row is not None  # one row, always
            total = int(row[0])
            self._term_counts.remember_total(namespace, total)
            for phrase, count in zip(counted, row[1:], strict=True):
                known[phrase] = int(count)
                self._term_counts.remember(namespace, phrase, int(count), common=count > self._scored_rows)
        held = [(count or 0, phrase) for phrase, count in known.items()]
        return max([total, *(count for count, _ in held)]), held  # N remembered may be older than an n

    @staticmethod
    def _most_recent(
        conn: "psycopg.Connection[TupleRow]", count: int, type_condition: str, params: dict[str, Any]
    ) -> list[tuple[Any, ...]]:
        """The most recent texts holding all the phrases (score 2), then those holding any but not all
        (score 1), up to %(limit)s, along the (namespace, created_at) index, in one statement: the second
        part is not run when the first fills the limit."""
        every, some = _all_of(count), _any_of(count)
        parts = [
            f"(SELECT {MEMORY_COLUMNS}, {score}::float8 FROM soma_memories WHERE namespace = %(namespace)s"
            f" AND {condition}{type_condition} ORDER BY created_at DESC, coord_key DESC LIMIT %(limit)s)"
            for score, condition in (
                (2, f"search_words @@ ({every})"),
                (1, f"search_words @@ ({some}) AND NOT search_words @@ ({every})"),
            )
        ]
        return conn.execute(" UNION ALL ".join(parts) + " LIMIT %(limit)s", params).fetchall()

    def coordinate_range(
        self, namespace: str, low: Coordinate, high: Coordinate, memory_type: MemoryType | None
    ) -> list[Coordinate]:
        type_condition = "" if memory_type is None else " AND memory_type = %(memory_type)s"
        with self.connection() as conn:
            rows = conn.execute(
                "SELECT coord_key FROM soma_memories"
                " WHERE namespace = %(namespace)s AND dimensions = %(dimensions)s"
                " AND coord[1] BETWEEN %(first_low)s AND %(first_high)s"
                " AND NOT EXISTS (SELECT 1 FROM unnest(coord, %(low)s::float8[], %(high)s::float8[])"
                "                 AS axis(value, low, high) WHERE value < low OR value > high)"
                f"{type_condition} ORDER BY coord",
                {
                    "namespace": namespace,
                    "dimensions": len(low),
                    "first_low": low[0],
                    "first_high": high[0],
                    "low": list(low),
                    "high": list(high),
                    "memory_type": memory_type.value if memory_type else None,
                },
            ).fetchall()
        return [coordinate_from_key(row[0]) for row in rows]

    def stats(self, namespace: str) -> Stats:
        with self.connection() as conn:
            row = conn.execute(
                "SELECT episodic, semantic FROM soma_namespace_counters WHERE namespace = %s", (namespace,)
            ).fetchone()
        return _stats(*row) if row else Stats(0, 0, 0)

    def all_stats(self) -> dict[str, Stats]:
        with self.connection() as conn:
            rows = conn.execute(
                "SELECT namespace, episodic, semantic FROM soma_namespace_counters"
                " WHERE episodic + semantic > 0"
            ).fetchall()
        return {namespace: _stats(episodic, semantic) for namespace, episodic, semantic in rows}

    def least_important(self, namespace: str, count: int) -> list[Coordinate]:
        with self.connection() as conn:
            rows = conn.execute(
                "SELECT coord_key FROM soma_memories WHERE namespace = %s"
                " ORDER BY importance, created_at LIMIT %s",
                (namespace, count),
            ).fetchall()
        return [coordinate_from_key(row[0]) for row in rows]

    def mark_embedder(self, namespace: str, coordinates: Sequence[Coordinate], embedder: str) -> None:
        with self.connection() as conn:
            conn.execute(
                "UPDATE soma_memories SET embedder = %s WHERE namespace = %s AND coord_key = ANY(%s)",
                (embedder, namespace, [coordinate_key(coordinate) for coordinate in coordinates]),
            )

    def embedder_counts(self, namespace: str) -> dict[str | None, int]:
        with self.connection() as conn:
            rows = conn.execute(
                "SELECT embedder, count(*) FROM soma_memories WHERE namespace = %s GROUP BY embedder",
                (namespace,),
            ).fetchall()
        return {row[0]: int(row[1]) for row in rows}

    def iter_memories(self, namespace: str) -> Iterator[Memory]:
        """Keyset pagination: no transaction stays open while the caller consumes the stream."""
        after: tuple[float, str] = (float("-inf"), "")
        while True:
            with self.connection() as conn:
                rows = conn.execute(
                    f"SELECT {MEMORY_COLUMNS} FROM soma_memories WHERE namespace = %s"
                    " AND (created_at, coord_key) > (%s, %s) ORDER BY created_at, coord_key LIMIT %s",
                    (namespace, *after, ITER_BATCH),
                ).fetchall()
            yield from (self._memory(row) for row in rows)
            if len(rows) < ITER_BATCH:
                return
            after = (rows[-1][5], rows[-1][1])

    # Links.
    def add_link(self, link: Link, *, audit: AuditTrail | None = None) -> None:
        self.add_links([link], audit=audit)

    def add_links(self, links: Sequence[Link], *, audit: AuditTrail | None = None) -> None:
        if not links:
            return
        with self.connection() as conn, conn.pipeline(), conn.cursor() as cur:
            if audit is not None:
                postgres_audit.append(cur, audit)
            cur.executemany(
                UPSERT_LINK,
                [
                    (
                        link.namespace,
                        coordinate_key(link.source),
                        coordinate_key(link.target),
                        link.link_type,
                        link.weight,
                        link.created_at,
                    )
                    for link in links
                ],
            )

    def neighbors(
        self, namespace: str, coordinate: Coordinate, link_type: str | None, limit: int | None
    ) -> list[Link]:
        type_condition = "" if link_type is None else " AND link_type = %(link_type)s"
        with self.connection() as conn:
            rows = conn.execute(
                "SELECT namespace, source_key, target_key, link_type, weight, created_at FROM soma_links"
                f" WHERE namespace = %(namespace)s AND source_key = %(source)s{type_condition}"
                " ORDER BY weight DESC, target_key, link_type LIMIT %(limit)s",
                {
                    "namespace": namespace,
                    "source": coordinate_key(coordinate),
                    "link_type": link_type,
                    "limit": limit,
                },
            ).fetchall()
        return [link_from_row(row) for row in rows]

    def iter_links(self, namespace: str) -> Iterator[Link]:
        after = ("", "", "")
        while True:
            with self.connection() as conn:
                rows = conn.execute(
                    "SELECT namespace, source_key, target_key, link_type, weight, created_at FROM soma_links"
                    " WHERE namespace = %s AND (source_key, target_key, link_type) > (%s, %s, %s)"
                    " ORDER BY source_key, target_key, link_type LIMIT %s",
                    (namespace, *after, ITER_BATCH),
                ).fetchall()
            yield from (link_from_row(row) for row in rows)
            if len(rows) < ITER_BATCH:
                return
            after = (rows[-1][1], rows[-1][2], rows[-1][3])
