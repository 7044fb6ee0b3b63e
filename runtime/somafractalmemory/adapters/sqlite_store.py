"""The embedded document store: one SQLite file holds memories, links and per-namespace counters.

Two FTS5 indexes over the payload text follow every write by trigger, in the writing transaction:
a trigram index gives keyword search its candidates (exact and substring alike), and a word index
(unicode61 with the Porter stemmer, so "runs" finds "running") ranks with FTS5's ``bm25()``: the lexical
leg of recall, and keyword search's order. A file made before the word index existed gets it built from
its rows when opened (and rebuilt whenever its row count differs from the memories', e.g. after a crash
between creating it and filling it). Coordinate range uses an index on the first three components;
stats read counters kept on write.

The store is also the vector index's journal (``IndexJournal``): every write records its keys in
``index_journal`` in its own transaction, so a crash between this file and the index leaves a trace
that start-up recovery replays. Entries the index has applied are deleted in a later write's
transaction (no extra commit, and no extra statement on the hot path of single stores), once
JOURNAL_CLEAR_EVERY entries or JOURNAL_CLEAR_KEYS memories were recorded since the last time, and at a
clean close. After a crash, recovery replays the applied entries not deleted yet again: the index ends
the same, but it embeds and indexes their memories anew, so bulk writes (a thousand memories an entry)
clear as they go rather than leave 64,000 memories to replay.
"""

import json
import logging
import math
import re
import sqlite3
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from pathlib import Path
from typing import Any

from somafractalmemory.adapters import sqlite_audit
from somafractalmemory.adapters.sqlite_file import SQLiteFile, insert_rows
from somafractalmemory.core.audit import AuditEntry, AuditTrail
from somafractalmemory.core.budget import DEFAULT_SCAN_ROWS
from somafractalmemory.core.coordinates import Coordinate, coordinate_from_key, coordinate_key
from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.filters import MemoryFilter, matches
from somafractalmemory.core.importance import MemoryOrder
from somafractalmemory.core.json_text import compact_json
from somafractalmemory.core.models import (
    Link,
    Memory,
    MemoryType,
    MemoryVersion,
    ScoredMemory,
    Stats,
    StoredVersion,
    stats_from_counts,
)
from somafractalmemory.core.ports import PendingWrite
from somafractalmemory.core.scoring import term_matches
from somafractalmemory.core.terms import SCORED_ROWS, by_rarity
from somafractalmemory.core.text import payload_text

log = logging.getLogger(__name__)

INDEXED_COMPONENTS = 3
TRIGRAM = 3
SQL_VARIABLE_CHUNK = 500
JOURNAL_CLEAR_EVERY = 64
JOURNAL_CLEAR_KEYS = 1_000
# FTS5 merges the segments of a level once this many wait there (its default is 4): the largest it
# allows, so a term's entries are rewritten on fewer levels. Measured on the bench workload at 300,000
# memories: a store's insert 23 us a memory where it was 25 to 27, bm25 queries no slower (fewer levels
# make up for more segments a level).
TEXT_INDEX_MERGE_WIDTH = 16
TEXT_INDEXES = ("memory_text", "memory_words")
# The pages the store's connection keeps in memory (SQLite's default is 2 MiB). A recall's lexical leg
# reads the word index's entries of its terms: at 1,000,000 memories with the default, each query read
# its pages again from the file (p50 11 to 13 ms); with 16 MiB it is 7 ms, and 32 or 64 did no better.
PAGE_CACHE_KIB = 16_384
WORD_CHARACTER = re.compile(r"\w")
BM25 = "bm25(memory_words, 1.0, 0.0)"  # the text column only: the scope is a filter, not evidence


def _scope_sql(row: str) -> str:
    """The scope column of a row: its namespace as one token ('ns', the UTF-8 bytes in hex, then '0':
    ending in a digit, no stemming rule applies) and its memory type. A MATCH on the scope narrows a
    search to one namespace (and type) inside the index, with no row of ``memories`` read."""
    return f"'ns' || hex({row}.namespace) || '0 ' || {row}.memory_type"


SCHEMA_TEMPLATE = """
CREATE TABLE IF NOT EXISTS memories (
    id INTEGER PRIMARY KEY,
    namespace TEXT NOT NULL,
    coord_key TEXT NOT NULL,
    dims INTEGER NOT NULL,
    c0 REAL, c1 REAL, c2 REAL,
    memory_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    text TEXT NOT NULL,
    importance REAL NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    access_count INTEGER NOT NULL DEFAULT 0,
    embedder TEXT,
    UNIQUE (namespace, coord_key)
);
CREATE INDEX IF NOT EXISTS memories_by_range ON memories (namespace, dims, c0, c1, c2);
CREATE INDEX IF NOT EXISTS memories_by_importance ON memories (namespace, importance, created_at);
CREATE INDEX IF NOT EXISTS memories_by_update ON memories (namespace, updated_at);
CREATE VIRTUAL TABLE IF NOT EXISTS memory_text USING fts5(
    text, content='memories', content_rowid='id', tokenize='trigram', detail='none', columnsize=0
);
CREATE TRIGGER IF NOT EXISTS memories_text_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memory_text (rowid, text) VALUES (new.id, new.text);
END;
CREATE TRIGGER IF NOT EXISTS memories_text_delete AFTER DELETE ON memories BEGIN
    INSERT INTO memory_text (memory_text, rowid, text) VALUES ('delete', old.id, old.text);
END;
CREATE TRIGGER IF NOT EXISTS memories_text_update AFTER UPDATE OF text ON memories BEGIN
    INSERT INTO memory_text (memory_text, rowid, text) VALUES ('delete', old.id, old.text);
    INSERT INTO memory_text (rowid, text) VALUES (new.id, new.text);
END;
CREATE VIRTUAL TABLE IF NOT EXISTS memory_words USING fts5(
    text, scope, content='', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS memories_words_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memory_words (rowid, text, scope) VALUES (new.id, new.text, {new_scope});
END;
CREATE TRIGGER IF NOT EXISTS memories_words_delete AFTER DELETE ON memories BEGIN
    INSERT INTO memory_words (memory_words, rowid, text, scope)
    VALUES ('delete', old.id, old.text, {old_scope});
END;
CREATE TRIGGER IF NOT EXISTS memories_words_update
AFTER UPDATE OF namespace, memory_type, text ON memories BEGIN
    INSERT INTO memory_words (memory_words, rowid, text, scope)
    VALUES ('delete', old.id, old.text, {old_scope});
    INSERT INTO memory_words (rowid, text, scope) VALUES (new.id, new.text, {new_scope});
END;
CREATE TABLE IF NOT EXISTS links (
    namespace TEXT NOT NULL,
    source_key TEXT NOT NULL,
    target_key TEXT NOT NULL,
    link_type TEXT NOT NULL,
    weight REAL NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (namespace, source_key, target_key, link_type)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS links_by_target ON links (namespace, target_key);
CREATE TABLE IF NOT EXISTS index_journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    namespace TEXT NOT NULL,
    keys TEXT
);
CREATE TABLE IF NOT EXISTS memory_versions (
    namespace TEXT NOT NULL,
    coord_key TEXT NOT NULL,
    number INTEGER NOT NULL,
    memory_type TEXT NOT NULL,
    payload TEXT NOT NULL,
    importance REAL NOT NULL,
    updated_at REAL NOT NULL,
    replaced_at REAL NOT NULL,
    PRIMARY KEY (namespace, coord_key, number)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS counters (
    namespace TEXT NOT NULL,
    memory_type TEXT NOT NULL,
    total INTEGER NOT NULL,
    PRIMARY KEY (namespace, memory_type)
) WITHOUT ROWID;
"""

SCHEMA = (
    SCHEMA_TEMPLATE.format(new_scope=_scope_sql("new"), old_scope=_scope_sql("old"))
    + sqlite_audit.AUDIT_SCHEMA
)

MEMORY_COLUMNS = (
    "namespace, coord_key, memory_type, payload, importance, created_at, updated_at, access_count"
)
# What the store reads: a snapshot of a file made before the embedder column reads MEMORY_COLUMNS.
STORED_COLUMNS = MEMORY_COLUMNS + ", embedder"


def memory_from_row(row: sqlite3.Row) -> Memory:
    return Memory(
        namespace=row["namespace"],
        coordinate=coordinate_from_key(row["coord_key"]),
        payload=json.loads(row["payload"]),
        memory_type=MemoryType(row["memory_type"]),
        importance=row["importance"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        access_count=row["access_count"],
        embedder=row["embedder"] if "embedder" in row.keys() else None,  # noqa: SIM118 (`in` reads values)
    )


def _memory_row(memory: Memory) -> tuple[Any, ...]:
    components = [*memory.coordinate[:INDEXED_COMPONENTS], None, None, None][:INDEXED_COMPONENTS]
    return (
        memory.namespace,
        coordinate_key(memory.coordinate),
        len(memory.coordinate),
        *components,
        memory.memory_type.value,
        compact_json(memory.payload),
        payload_text(memory.payload),
        memory.importance,
        memory.created_at,
        memory.updated_at,
        memory.access_count,
        memory.embedder,
    )


# Which of some keys are stored: answered from the unique index on (namespace, coord_key) alone.
EXISTING_KEYS = "SELECT coord_key FROM memories WHERE namespace = ? AND coord_key IN ({placeholders})"

MEMORY_ROW_FIELDS = 14  # the values of a ``_memory_row``
INSERT_MEMORIES = """
INSERT INTO memories (namespace, coord_key, dims, c0, c1, c2, memory_type, payload, text, importance,
                      created_at, updated_at, access_count, embedder)"""
UPSERT_MEMORIES = """
ON CONFLICT (namespace, coord_key) DO UPDATE SET
    memory_type = excluded.memory_type, payload = excluded.payload, text = excluded.text,
    importance = excluded.importance, updated_at = excluded.updated_at, embedder = excluded.embedder"""


# The rows a write replaces become versions, and each such memory keeps its newest ``keep``: one statement
# for the write's replaced keys (``insert_rows`` puts them in the VALUES of ``replaced``), not two a key.
ARCHIVE_VERSIONS_HEAD = "WITH replaced (namespace, coord_key, replaced_at) AS ("
ARCHIVE_VERSIONS_TAIL = """)
INSERT INTO memory_versions (namespace, coord_key, number, memory_type, payload, importance, updated_at,
                             replaced_at)
SELECT m.namespace, m.coord_key,
       coalesce((SELECT max(v.number) FROM memory_versions v
                 WHERE v.namespace = m.namespace AND v.coord_key = m.coord_key), 0) + 1,
       m.memory_type, m.payload, m.importance, m.updated_at, r.replaced_at
FROM replaced r JOIN memories m ON m.namespace = r.namespace AND m.coord_key = r.coord_key
"""
TRIM_VERSIONS_HEAD = "WITH replaced (namespace, coord_key) AS ("
TRIM_VERSIONS_TAIL = """)
DELETE FROM memory_versions
WHERE (namespace, coord_key) IN (SELECT namespace, coord_key FROM replaced) AND number <= (
    SELECT max(v.number) FROM memory_versions v
    WHERE v.namespace = memory_versions.namespace AND v.coord_key = memory_versions.coord_key) - {keep:d}
"""


ORDER_BY = {
    MemoryOrder.RECENT: " ORDER BY updated_at DESC, id DESC",
    MemoryOrder.IMPORTANT: " ORDER BY importance DESC, updated_at DESC, id DESC",
}


def version_from_row(row: sqlite3.Row) -> MemoryVersion:
    return MemoryVersion(
        number=row["number"],
        payload=json.loads(row["payload"]),
        memory_type=MemoryType(row["memory_type"]),
        importance=row["importance"],
        updated_at=row["updated_at"],
        replaced_at=row["replaced_at"],
    )


def link_from_row(row: sqlite3.Row, namespace: str) -> Link:
    return Link(
        namespace=namespace,
        source=coordinate_from_key(row["source_key"]),
        target=coordinate_from_key(row["target_key"]),
        link_type=row["link_type"],
        weight=row["weight"],
        created_at=row["created_at"],
    )


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), SQL_VARIABLE_CHUNK):
        yield items[start : start + SQL_VARIABLE_CHUNK]


def _has_table(path: Path, table: str) -> bool:
    with closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT 1 FROM sqlite_master WHERE name = ?", (table,)).fetchone() is not None


def _placeholders(count: int) -> str:
    return ",".join("?" * count)


def _phrase(term: str) -> str:
    """An FTS5 phrase: the term's words in order (quotes doubled, so nothing in it is syntax)."""
    return '"' + term.replace('"', '""') + '"'


def _any_of(terms: Sequence[str]) -> str:
    """An FTS5 query for 'any of these phrases'; terms without a word character are left out."""
    return " OR ".join(_phrase(term) for term in terms if WORD_CHARACTER.search(term))


def _all_of(terms: Sequence[str]) -> str:
    """An FTS5 query for 'all of these phrases'; terms without a word character are left out."""
    return " AND ".join(_phrase(term) for term in terms if WORD_CHARACTER.search(term))


def _scoped(namespace: str, memory_type: MemoryType | None, expression: str, *, alone: bool) -> str:
    """``expression`` on the text column of one namespace's memories (of one type). When the namespace
    is ``alone`` in the file and no type is asked, every text is in scope: matching the scope token,
    which every row holds, would only double the work."""
    if alone and memory_type is None:
        return f"text : ({expression})"
    scope = _phrase(f"ns{namespace.encode().hex()}0")
    if memory_type is not None:
        scope += " AND scope : " + _phrase(memory_type.value)
    return f"scope : {scope} AND text : ({expression})"


def _like_pattern(term: str) -> str:
    """A LIKE pattern for 'contains term'; the trigram index answers it."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class SQLiteStore:
    """Thread-safe through one connection and a lock: the embedded default serves one process."""

    name = "sqlite"

    def __init__(
        self, path: Path, *, scan_rows: int = DEFAULT_SCAN_ROWS, scored_rows: int = SCORED_ROWS
    ) -> None:
        self._scan_rows = scan_rows
        self._scored_rows = scored_rows
        journaled = path.exists() and _has_table(path, "index_journal")
        self._file = SQLiteFile(path, SCHEMA, self.name)
        self._db = self._file.db
        self._db.execute(f"PRAGMA cache_size = -{PAGE_CACHE_KIB}")  # negative: KiB, not pages
        self._lock = self._file.lock
        self._transaction = self._file.transaction
        self._add_embedder_column()
        with self._transaction() as db:
            sqlite_audit.add_target_column(db)
            for table in TEXT_INDEXES:  # kept in the file's own config: set on every open, old files too
                db.execute(
                    f"INSERT INTO {table} ({table}, rank) VALUES ('automerge', ?)", (TEXT_INDEX_MERGE_WIDTH,)
                )
        if not journaled:
            self._journal_every_namespace()
        self._fill_word_index()
        # Entries up to the floor predate this process: recovery owns them. Later ones are this
        # process's own, cleared once the index applied them.
        self._floor: int = self._db.execute("SELECT coalesce(max(id), 0) FROM index_journal").fetchone()[0]
        # The journal's marks have a lock of their own: the index writer marking a write applied must not
        # wait for the file's lock, which the next write's transaction holds while it runs.
        self._marks = threading.Lock()
        self._recorded: int = self._floor
        self._applied = self._cleared = self._floor
        self._keys_since_clear = 0

    def ping(self) -> None:
        self._file.ping()

    def close(self) -> None:
        with self._lock:
            if self._applied > self._cleared:
                with self._transaction() as db:
                    self._clear_applied(db)
        self._file.close()

    def _add_embedder_column(self) -> None:
        """A file made before memories recorded their embedder gets the column: null, unknown."""
        with self._transaction() as db:
            columns = {row["name"] for row in db.execute("PRAGMA table_info(memories)")}
            if "embedder" not in columns:
                db.execute("ALTER TABLE memories ADD COLUMN embedder TEXT")
                log.info("memories record their embedder from now on (older ones: unknown)")

    def _fill_word_index(self) -> None:
        """Build the word index from the rows when it does not hold exactly one entry per memory."""
        with self._transaction() as db:
            indexed = db.execute("SELECT count(*) FROM memory_words_docsize").fetchone()[0]
            stored = db.execute("SELECT count(*) FROM memories").fetchone()[0]
            if indexed != stored:
                db.execute("INSERT INTO memory_words (memory_words) VALUES ('delete-all')")
                db.execute(
                    "INSERT INTO memory_words (rowid, text, scope) "
                    f"SELECT id, text, {_scope_sql('memories')} FROM memories"
                )
                log.info("built the word index from %d memories", stored)

    # --- index journal ------------------------------------------------------------------------

    def _journal_every_namespace(self) -> None:
        """A store written before the journal existed may hold memories its index never got."""
        with self._transaction() as db:
            db.execute(
                "INSERT INTO index_journal (namespace, keys) "
                "SELECT DISTINCT namespace, NULL FROM counters WHERE total > 0"
            )

    def _record(self, db: sqlite3.Connection, namespace: str, keys: Sequence[str]) -> None:
        if (
            self._applied - self._cleared >= JOURNAL_CLEAR_EVERY
            or self._keys_since_clear >= JOURNAL_CLEAR_KEYS
        ):
            self._clear_applied(db)
        self._keys_since_clear += len(keys)
        cursor = db.execute(
            "INSERT INTO index_journal (namespace, keys) VALUES (?, ?)",
            (namespace, compact_json(list(keys))),
        )
        with self._marks:
            self._recorded = cursor.lastrowid or self._recorded

    def _clear_applied(self, db: sqlite3.Connection) -> None:
        """Delete the entries applied so far (in the caller's transaction, which holds the file's lock)."""
        with self._marks:
            applied = self._applied
        if applied > self._cleared:
            db.execute("DELETE FROM index_journal WHERE id > ? AND id <= ?", (self._floor, applied))
            self._cleared = applied
            self._keys_since_clear = 0

    def recorded(self) -> int:
        with self._marks:
            return self._recorded

    def applied(self, through: int | None = None) -> None:
        with self._marks:
            self._applied = max(self._applied, self._recorded if through is None else through)

    def pending(self) -> list[PendingWrite]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, namespace, keys FROM index_journal WHERE id <= ? ORDER BY id", (self._floor,)
            ).fetchall()
        return [
            PendingWrite(
                row["id"],
                row["namespace"],
                None
                if row["keys"] is None
                else tuple(coordinate_from_key(k) for k in json.loads(row["keys"])),
            )
            for row in rows
        ]

    def resolve(self, entry: int) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM index_journal WHERE id = ?", (entry,))

    # --- memories -----------------------------------------------------------------------------

    def put_many(
        self,
        memories: Sequence[Memory],
        *,
        keep_versions: int = 0,
        audit: AuditTrail | None = None,
        before_commit: Callable[[], object] | None = None,
    ) -> None:
        """One transaction: the versions, the rows (the text indexes follow by trigger), the counters and
        the audit entries."""
        if not memories:
            return
        rows = [_memory_row(memory) for memory in memories]
        with self._transaction() as db:
            self._put(db, memories, rows, keep_versions, audit)
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
        """BEGIN IMMEDIATE holds the file's write lock from the check to the commit: no other connection,
        of this process or another, writes in between."""
        rows = [_memory_row(memory) for memory in memories]
        with self._transaction() as db:
            changed = self._changed_since(db, namespace, read)
            if not changed and memories:
                self._put(db, memories, rows, keep_versions, audit)
                if before_commit is not None:
                    before_commit()
        return changed

    @staticmethod
    def _changed_since(
        db: sqlite3.Connection, namespace: str, read: Mapping[Coordinate, float]
    ) -> list[Coordinate]:
        """The coordinates of ``read`` whose stored updated_at is another (or which are gone)."""
        keys = {coordinate_key(coordinate): coordinate for coordinate in read}
        stored: dict[str, float] = {}
        for chunk in _chunks(list(keys)):
            stored.update(
                db.execute(
                    "SELECT coord_key, updated_at FROM memories "
                    f"WHERE namespace = ? AND coord_key IN ({_placeholders(len(chunk))})",
                    (namespace, *chunk),
                ).fetchall()
            )
        return [coordinate for key, coordinate in keys.items() if stored.get(key) != read[coordinate]]

    def _put(
        self,
        db: sqlite3.Connection,
        memories: Sequence[Memory],
        rows: Sequence[tuple[Any, ...]],
        keep_versions: int,
        audit: AuditTrail | None,
    ) -> None:
        """The versions, the rows (the text indexes follow by trigger), the counters, the journal and
        the audit entries, in the caller's transaction."""
        replaced = self._types_of(db, [(m.namespace, row[1]) for m, row in zip(memories, rows, strict=True)])
        if keep_versions > 0 and replaced:
            self._archive(db, memories, rows, replaced, keep_versions)
        if audit is not None:
            sqlite_audit.append(db, audit)
        insert_rows(db, INSERT_MEMORIES, rows, UPSERT_MEMORIES)
        deltas: Counter[tuple[str, str]] = Counter()
        for (namespace, _), memory_type in replaced.items():
            deltas[namespace, memory_type] -= 1
        for memory in memories:
            deltas[memory.namespace, memory.memory_type.value] += 1
        for (namespace, memory_type), delta in deltas.items():
            self._count(db, namespace, memory_type, delta)
        for namespace in {memory.namespace for memory in memories}:
            self._record(
                db,
                namespace,
                [row[1] for m, row in zip(memories, rows, strict=True) if m.namespace == namespace],
            )

    @staticmethod
    def _archive(
        db: sqlite3.Connection,
        memories: Sequence[Memory],
        rows: Sequence[tuple[Any, ...]],
        replaced: dict[tuple[str, str], str],
        keep: int,
    ) -> None:
        """The rows about to be replaced become versions; each memory keeps its newest ``keep``."""
        archived = {
            (m.namespace, row[1]): m.updated_at
            for m, row in zip(memories, rows, strict=True)
            if (m.namespace, row[1]) in replaced
        }
        insert_rows(
            db,
            ARCHIVE_VERSIONS_HEAD,
            [(ns, key, at) for (ns, key), at in archived.items()],
            ARCHIVE_VERSIONS_TAIL,
        )
        insert_rows(db, TRIM_VERSIONS_HEAD, list(archived), TRIM_VERSIONS_TAIL.format(keep=keep))

    def add_versions(self, versions: Sequence[StoredVersion]) -> int:
        rows = [
            (
                stored.namespace,
                coordinate_key(stored.coordinate),
                stored.version.number,
                stored.version.memory_type.value,
                compact_json(stored.version.payload),
                stored.version.importance,
                stored.version.updated_at,
                stored.version.replaced_at,
            )
            for stored in versions
        ]
        with self._transaction() as db:
            before = db.total_changes
            db.executemany(
                "INSERT INTO memory_versions (namespace, coord_key, number, memory_type, payload, importance,"
                " updated_at, replaced_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                rows,
            )
            return db.total_changes - before

    def versions(self, namespace: str, coordinate: Coordinate) -> list[MemoryVersion]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM memory_versions WHERE namespace = ? AND coord_key = ? ORDER BY number DESC",
                (namespace, coordinate_key(coordinate)),
            ).fetchall()
        return [version_from_row(row) for row in rows]

    def ordered(
        self, namespace: str, order: MemoryOrder, limit: int, memory_type: MemoryType | None
    ) -> list[Memory]:
        query = f"SELECT {STORED_COLUMNS} FROM memories WHERE namespace = ?"
        params: list[Any] = [namespace]
        if memory_type is not None:
            query += " AND memory_type = ?"
            params.append(memory_type.value)
        query += ORDER_BY[order] + " LIMIT ?"
        with self._lock:
            rows = self._db.execute(query, [*params, limit]).fetchall()
        return [memory_from_row(row) for row in rows]

    def replace_version_payloads(
        self, namespace: str, coordinate: Coordinate, payloads: dict[int, dict[str, Any]]
    ) -> None:
        key = coordinate_key(coordinate)
        with self._transaction() as db:
            db.executemany(
                "UPDATE memory_versions SET payload = ? WHERE namespace = ? AND coord_key = ? AND number = ?",
                [(compact_json(p), namespace, key, n) for n, p in payloads.items()],
            )

    @staticmethod
    def _types_of(db: sqlite3.Connection, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """The stored type of each (namespace, key) that already exists: a replace moves its counter."""
        found: dict[tuple[str, str], str] = {}
        for namespace in {namespace for namespace, _ in keys}:
            coordinate_keys = list(dict.fromkeys(key for ns, key in keys if ns == namespace))
            for chunk in _chunks(coordinate_keys):
                for row in db.execute(
                    "SELECT coord_key, memory_type FROM memories "
                    f"WHERE namespace = ? AND coord_key IN ({_placeholders(len(chunk))})",
                    (namespace, *chunk),
                ):
                    found[namespace, row["coord_key"]] = row["memory_type"]
        return found

    @staticmethod
    def _count(db: sqlite3.Connection, namespace: str, memory_type: str, delta: int) -> None:
        db.execute(
            """
            INSERT INTO counters (namespace, memory_type, total) VALUES (?, ?, ?)
            ON CONFLICT (namespace, memory_type) DO UPDATE SET total = total + excluded.total
            """,
            (namespace, memory_type, delta),
        )

    def get(self, namespace: str, coordinate: Coordinate) -> Memory | None:
        return self.get_many(namespace, [coordinate]).get(coordinate)

    def get_many(self, namespace: str, coordinates: Sequence[Coordinate]) -> dict[Coordinate, Memory]:
        keys = [coordinate_key(c) for c in coordinates]
        found: dict[Coordinate, Memory] = {}
        with self._lock:
            for chunk in _chunks(keys):
                rows = self._db.execute(
                    f"SELECT {STORED_COLUMNS} FROM memories "
                    f"WHERE namespace = ? AND coord_key IN ({_placeholders(len(chunk))})",
                    (namespace, *chunk),
                ).fetchall()
                for row in rows:
                    memory = memory_from_row(row)
                    found[memory.coordinate] = memory
        return found

    def existing(self, namespace: str, coordinates: Sequence[Coordinate]) -> set[Coordinate]:
        """Answered by the unique index on (namespace, coord_key), which covers the query."""
        keys = {coordinate_key(c): c for c in coordinates}
        found: set[Coordinate] = set()
        with self._lock:
            for chunk in _chunks(list(keys)):
                rows = self._db.execute(
                    EXISTING_KEYS.format(placeholders=_placeholders(len(chunk))), (namespace, *chunk)
                )
                found.update(keys[key] for (key,) in rows)
        return found

    def delete(
        self,
        namespace: str,
        coordinate: Coordinate,
        *,
        audit: AuditTrail | None = None,
        if_updated_at: float | None = None,
    ) -> bool:
        key = coordinate_key(coordinate)
        condition, params = ("", ()) if if_updated_at is None else (" AND updated_at = ?", (if_updated_at,))
        with self._transaction() as db:
            row = db.execute(
                f"DELETE FROM memories WHERE namespace = ? AND coord_key = ?{condition}"
                " RETURNING memory_type",
                (namespace, key, *params),
            ).fetchone()
            self._record(db, namespace, [key])  # the index may hold a vector even if the store had no row
            if row is None:
                return False
            self._count(db, namespace, row["memory_type"], -1)
            db.execute(
                "DELETE FROM links WHERE namespace = ? AND (source_key = ? OR target_key = ?)",
                (namespace, key, key),
            )
            db.execute("DELETE FROM memory_versions WHERE namespace = ? AND coord_key = ?", (namespace, key))
            if audit is not None:
                sqlite_audit.append(db, audit)
            return True

    def audit_entries(
        self, namespace: str, coordinate: Coordinate | None, limit: int, before: int | None
    ) -> list[AuditEntry]:
        with self._lock:
            return sqlite_audit.entries(self._db, namespace, coordinate, limit, before)

    def record_access(self, namespace: str, coordinates: Sequence[Coordinate]) -> None:
        keys = [coordinate_key(c) for c in coordinates]
        with self._transaction() as db:
            for chunk in _chunks(keys):
                db.execute(
                    "UPDATE memories SET access_count = access_count + 1 "
                    f"WHERE namespace = ? AND coord_key IN ({_placeholders(len(chunk))})",
                    (namespace, *chunk),
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
        """Candidates come from the trigram index (every text that contains the term, ASCII case
        folded); the core's keyword rule then decides, so both modes and both cases share one index.
        They are ranked by the word index's BM25 for the term as a phrase (a term that is no whole
        word, like "tem-17", ranks nothing), then most important and most recent first; at most
        ``scan_rows`` candidates are examined, in that order."""
        phrase = _any_of([term])
        params: list[Any] = [self._scoped(namespace, memory_type, phrase)] if phrase else []
        query = (
            f"WITH relevance AS (SELECT rowid, {BM25} AS rank FROM memory_words WHERE memory_words MATCH ?) "
            if phrase
            else "WITH relevance AS (SELECT NULL AS rowid, NULL AS rank WHERE 0) "
        )
        if len(term) >= TRIGRAM:
            query += (
                "SELECT m.* FROM memory_text t JOIN memories m ON m.id = t.rowid "
                "LEFT JOIN relevance r ON r.rowid = m.id "
                "WHERE t.text LIKE ? ESCAPE '\\' AND m.namespace = ?"
            )
            params += [_like_pattern(term), namespace]
        else:
            # Shorter than a trigram: no index can help, the namespace is scanned.
            query += (
                "SELECT m.* FROM memories m LEFT JOIN relevance r ON r.rowid = m.id "
                "WHERE instr(lower(m.text), lower(?)) > 0 AND m.namespace = ?"
            )
            params += [term, namespace]
        if memory_type is not None:
            query += " AND m.memory_type = ?"
            params.append(memory_type.value)
        query += " ORDER BY r.rank IS NULL, r.rank, m.importance DESC, m.updated_at DESC LIMIT ?"
        params.append(self._scan_rows)
        found: list[Memory] = []
        with self._lock:
            for row in self._db.execute(query, params):
                memory = memory_from_row(row)
                if term_matches(memory, term, exact=exact, case_sensitive=case_sensitive):
                    found.append(memory)
                    if len(found) == limit:
                        break
        return found

    def lexical_search(
        self,
        namespace: str,
        terms: Sequence[str],
        *,
        memory_type: MemoryType | None,
        conditions: MemoryFilter,
        limit: int,
    ) -> list[ScoredMemory]:
        """BM25 over the word index (its score negated, so higher is better) of the query's rare terms
        (``_by_rarity``), so that ``bm25()`` scores at most ``scored_rows`` texts. When every term is
        common (each in more than ``scored_rows`` texts), the texts holding all of them come first,
        then those holding any, most recent first, scored 2 and 1: no term tells texts apart much, and
        scoring them all would cost a ``bm25()`` call per text. The conditions are checked in rank
        order until ``limit`` memories pass, examining at most ``scan_rows``."""
        wanted = self._scan_rows if conditions else limit
        with self._lock:
            alone = self._alone(namespace)
            rare, common = self._by_rarity(terms)
            if rare:
                hits = self._db.execute(
                    f"SELECT rowid, -{BM25} AS score FROM memory_words WHERE memory_words MATCH ? "
                    "ORDER BY score DESC LIMIT ?",
                    (_scoped(namespace, memory_type, _any_of(rare), alone=alone), wanted),
                ).fetchall()
            else:
                hits = self._most_recent(namespace, memory_type, common, alone=alone, limit=wanted)
            return self._passing([(hit[0], hit[1]) for hit in hits], conditions, limit)

    def _most_recent(
        self, namespace: str, memory_type: MemoryType | None, terms: Sequence[str], *, alone: bool, limit: int
    ) -> list[tuple[int, float]]:
        """The most recent texts holding all ``terms`` (score 2), then those holding any (score 1)."""
        hits: dict[int, float] = {}
        for expression, score in ((_all_of(terms), 2.0), (_any_of(terms), 1.0)):
            if not expression or len(hits) >= limit:
                continue
            for (rowid,) in self._db.execute(
                "SELECT rowid FROM memory_words WHERE memory_words MATCH ? ORDER BY rowid DESC LIMIT ?",
                (_scoped(namespace, memory_type, expression, alone=alone), limit),
            ):
                hits.setdefault(rowid, score)
        return list(hits.items())[:limit]

    def _passing(
        self, hits: Sequence[tuple[int, float]], conditions: MemoryFilter, limit: int
    ) -> list[ScoredMemory]:
        """The memories of ``hits`` (rowid, score), in their order, that pass the conditions."""
        found: list[ScoredMemory] = []
        for chunk_start in range(0, len(hits), SQL_VARIABLE_CHUNK):
            chunk = hits[chunk_start : chunk_start + SQL_VARIABLE_CHUNK]
            rows = {
                row["id"]: row
                for row in self._db.execute(
                    f"SELECT id, {STORED_COLUMNS} FROM memories WHERE id IN ({_placeholders(len(chunk))})",
                    [rowid for rowid, _ in chunk],
                )
            }
            for rowid, score in chunk:
                memory = memory_from_row(rows[rowid])
                if matches(memory.payload, conditions):
                    found.append(ScoredMemory(memory, score))
                    if len(found) == limit:
                        return found
        return found

    def _alone(self, namespace: str) -> bool:
        """Whether ``namespace`` is the only one holding memories in the file (the caller holds the lock)."""
        held = self._db.execute("SELECT DISTINCT namespace FROM counters WHERE total > 0 LIMIT 2").fetchall()
        return [row[0] for row in held] == [namespace]

    def _scoped(self, namespace: str, memory_type: MemoryType | None, expression: str) -> str:
        with self._lock:
            return _scoped(namespace, memory_type, expression, alone=self._alone(namespace))

    def _by_rarity(self, terms: Sequence[str]) -> tuple[list[str], list[str]]:
        """The rare and the common terms (``core.terms.by_rarity``), from their document frequencies
        counted in the whole file, as ``bm25()`` counts them (each count stopping at ``scored_rows`` + 1
        texts, or at half the texts when that is fewer; the caller holds the lock). FTS5's BM25 gives a
        term in half of the texts or more an IDF of 1e-6 (it floors log((N - n + 0.5) / (n + 0.5))):
        such a term is left out next to a rarer one."""
        words = [term for term in terms if WORD_CHARACTER.search(term)]
        half = math.ceil(self._db.execute("SELECT count(*) FROM memory_words_docsize").fetchone()[0] / 2)
        cap = min(half, self._scored_rows + 1)
        counted = [
            (
                self._db.execute(
                    "SELECT count(*) FROM (SELECT 1 FROM memory_words WHERE memory_words MATCH ? LIMIT ?)",
                    (f"text : {_phrase(term)}", cap),
                ).fetchone()[0],
                term,
            )
            for term in words
        ]
        return by_rarity(counted, self._scored_rows, negligible=half)

    def coordinate_range(
        self, namespace: str, low: Coordinate, high: Coordinate, memory_type: MemoryType | None
    ) -> list[Coordinate]:
        query = "SELECT coord_key FROM memories WHERE namespace = ? AND dims = ?"
        params: list[Any] = [namespace, len(low)]
        for position in range(min(len(low), INDEXED_COMPONENTS)):
            query += f" AND c{position} BETWEEN ? AND ?"
            params += [low[position], high[position]]
        if memory_type is not None:
            query += " AND memory_type = ?"
            params.append(memory_type.value)
        query += " ORDER BY c0, c1, c2 LIMIT ?"
        params.append(self._scan_rows + 1)
        with self._lock:
            rows = self._db.execute(query, params).fetchall()
        if len(rows) > self._scan_rows:
            raise InvalidInput(
                f"more than {self._scan_rows} memories lie in the box (SOMA_MAX_SCAN_ROWS): narrow it"
            )
        coordinates = [coordinate_from_key(row[0]) for row in rows]
        return [
            c
            for c in coordinates
            if all(
                lo <= x <= hi
                for lo, x, hi in zip(
                    low[INDEXED_COMPONENTS:], c[INDEXED_COMPONENTS:], high[INDEXED_COMPONENTS:], strict=True
                )
            )
        ]

    def stats(self, namespace: str) -> Stats:
        return self._stats("WHERE namespace = ?", (namespace,)).get(namespace, Stats(0, 0, 0))

    def all_stats(self) -> dict[str, Stats]:
        return self._stats("", ())

    def _stats(self, where: str, params: tuple[str, ...]) -> dict[str, Stats]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT namespace, memory_type, total FROM counters {where}", params
            ).fetchall()
        totals: dict[str, dict[str, int]] = {}
        for row in rows:
            totals.setdefault(row["namespace"], {})[row["memory_type"]] = row["total"]
        return {
            namespace: stats_from_counts(counts)
            for namespace, counts in totals.items()
            if any(counts.values())
        }

    def least_important(self, namespace: str, count: int) -> list[Coordinate]:
        with self._lock:
            rows = self._db.execute(
                "SELECT coord_key FROM memories WHERE namespace = ? ORDER BY importance, created_at LIMIT ?",
                (namespace, count),
            ).fetchall()
        return [coordinate_from_key(row[0]) for row in rows]

    def mark_embedder(self, namespace: str, coordinates: Sequence[Coordinate], embedder: str) -> None:
        keys = [coordinate_key(coordinate) for coordinate in coordinates]
        with self._transaction() as db:
            for chunk in _chunks(keys):
                db.execute(
                    "UPDATE memories SET embedder = ? "
                    f"WHERE namespace = ? AND coord_key IN ({_placeholders(len(chunk))})",
                    (embedder, namespace, *chunk),
                )

    def embedder_counts(self, namespace: str) -> dict[str | None, int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT embedder, count(*) FROM memories WHERE namespace = ? GROUP BY embedder", (namespace,)
            ).fetchall()
        return {row[0]: row[1] for row in rows}

    def iter_memories(self, namespace: str) -> Iterator[Memory]:
        last_id = 0
        while True:
            with self._lock:
                rows = self._db.execute(
                    f"SELECT id, {STORED_COLUMNS} FROM memories "
                    "WHERE namespace = ? AND id > ? ORDER BY id LIMIT ?",
                    (namespace, last_id, SQL_VARIABLE_CHUNK),
                ).fetchall()
            if not rows:
                return
            last_id = rows[-1]["id"]
            yield from (memory_from_row(row) for row in rows)

    # --- links --------------------------------------------------------------------------------

    def add_link(self, link: Link, *, audit: AuditTrail | None = None) -> None:
        self.add_links([link], audit=audit)

    def add_links(self, links: Sequence[Link], *, audit: AuditTrail | None = None) -> None:
        with self._transaction() as db:
            if audit is not None:
                sqlite_audit.append(db, audit)
            db.executemany(
                """
                INSERT INTO links (namespace, source_key, target_key, link_type, weight, created_at)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (namespace, source_key, target_key, link_type) DO UPDATE SET
                    weight = excluded.weight, created_at = excluded.created_at
                """,
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
        query = "SELECT * FROM links WHERE namespace = ? AND source_key = ?"
        params: list[Any] = [namespace, coordinate_key(coordinate)]
        if link_type is not None:
            query += " AND link_type = ?"
            params.append(link_type)
        query += " ORDER BY weight DESC, target_key"
        if limit is not None:
            query += " LIMIT ?"
            params.append(limit)
        with self._lock:
            return [link_from_row(row, namespace) for row in self._db.execute(query, params).fetchall()]

    def iter_links(self, namespace: str) -> Iterator[Link]:
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM links WHERE namespace = ? ORDER BY source_key, target_key, link_type",
                (namespace,),
            ).fetchall()
        yield from (link_from_row(row, namespace) for row in rows)
