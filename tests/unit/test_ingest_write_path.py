"""The bulk write path made cheaper (issue 15) without a change in what it writes: the embedded store's
memories go in with one statement for many rows (so each write adds one segment to each text index,
not one per row), the hashing embedder builds a batch in one flat array, a write keeps a memory
already stamped with the embedder as it is, and a coordinate is checked against its whole grammar at
once."""

import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from embedded_service import close_service, open_service

from somafractalmemory.adapters import sqlite_file
from somafractalmemory.adapters.sqlite_file import rows_per_statement, statement_sizes, values_statement
from somafractalmemory.adapters.sqlite_store import (
    INSERT_MEMORIES,
    MEMORY_ROW_FIELDS,
    UPSERT_MEMORIES,
    SQLiteStore,
)
from somafractalmemory.core.coordinates import coordinate_from_floats, coordinate_key, parse_coordinate
from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.models import Memory, MemoryType
from somafractalmemory.core.service import NewMemory
from somafractalmemory.embedding.hashing import HashingEmbedder, word_features

NS = "ingest"


def memory(n: int, text: str, *, at: float = 1.0, semantic: bool = False) -> Memory:
    kind = MemoryType.SEMANTIC if semantic else MemoryType.EPISODIC
    return Memory(NS, (float(n),), {"text": text}, kind, 0.5, at, at)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "memories.sqlite")
    yield opened
    opened.close()


def data_rows(store: SQLiteStore, table: str) -> int:
    return int(store._db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_one_statement_holds_rows_of_fourteen_values() -> None:
    statement = values_statement(INSERT_MEMORIES, MEMORY_ROW_FIELDS, 3, UPSERT_MEMORIES)
    assert MEMORY_ROW_FIELDS == 14
    assert statement.count("?") == 3 * 14
    assert statement.count("(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)") == 3
    assert "ON CONFLICT (namespace, coord_key) DO UPDATE" in statement
    assert values_statement("INSERT INTO t (a)", 1, 2, "") == "INSERT INTO t (a) VALUES (?), (?) "


def test_a_write_takes_statements_of_the_most_rows_then_halves() -> None:
    assert list(statement_sizes(2347, 1000)) == [1000, 1000, 250, 62, 31, 3, 1]
    assert list(statement_sizes(1000, 1000)) == [1000]
    assert list(statement_sizes(500, 1000)) == [500]
    assert list(statement_sizes(8, 3)) == [3, 3, 1, 1]
    assert list(statement_sizes(1, 1000)) == [1]
    assert list(statement_sizes(0, 1000)) == []
    shapes = {size for rows in range(1, 3001) for size in statement_sizes(rows, 1000)}
    assert shapes == {1000, 500, 250, 125, 62, 31, 15, 7, 3, 1}


def test_statements_hold_as_many_rows_as_the_variable_limit_allows(store: SQLiteStore) -> None:
    limit = store._db.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    assert sqlite_file.ROWS_PER_STATEMENT == 1000
    assert rows_per_statement(store._db, 14) == min(1000, limit // 14)
    store._db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 30)
    try:
        assert rows_per_statement(store._db, 14) == 2
        assert rows_per_statement(store._db, 31) == 1  # never none
    finally:
        store._db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, limit)


def test_a_write_split_over_statements_stores_indexes_and_counts_every_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_file, "ROWS_PER_STATEMENT", 3)
    store = SQLiteStore(tmp_path / "memories.sqlite")
    try:
        assert rows_per_statement(store._db, 14) == 3
        store.put_many([memory(1, "old zebra text", semantic=True)])
        # statements of 3, 3, 1 and 1 rows; 1 replaces, 2..8 are new
        written = [memory(n, f"marker{n} quokka") for n in range(1, 9)]
        store.put_many(written, keep_versions=5)
        stored = store.get_many(NS, [m.coordinate for m in written])
        assert {c: m.payload["text"] for c, m in stored.items()} == {
            (float(n),): f"marker{n} quokka" for n in range(1, 9)
        }
        assert stored[(1.0,)].memory_type is MemoryType.EPISODIC
        stats = store.stats(NS)
        assert (stats.total_memories, stats.episodic, stats.semantic) == (8, 8, 0)
        words = store.lexical_search(NS, ["quokka"], memory_type=None, conditions=(), limit=20)
        assert sorted(hit.memory.coordinate for hit in words) == [(float(n),) for n in range(1, 9)]
        assert store.lexical_search(NS, ["zebra"], memory_type=None, conditions=(), limit=20) == []
        found = store.keyword_search(
            NS, "rker7 quo", exact=False, case_sensitive=False, memory_type=None, limit=20
        )
        assert [m.coordinate for m in found] == [(7.0,)]
        assert (
            store.keyword_search(NS, "zebra", exact=False, case_sensitive=False, memory_type=None, limit=5)
            == []
        )
        [version] = store.versions(NS, (1.0,))
        assert version.payload == {"text": "old zebra text"}
        assert data_rows(store, "memories") == 8
    finally:
        store.close()


def test_a_coordinate_twice_in_one_statement_keeps_the_last(store: SQLiteStore) -> None:
    store.put_many([memory(1, "first wording", at=1.0), memory(1, "second wording", at=2.0)])
    stored = store.get(NS, (1.0,))
    assert stored is not None
    assert (stored.payload, stored.updated_at) == ({"text": "second wording"}, 2.0)
    assert store.lexical_search(NS, ["first"], memory_type=None, conditions=(), limit=5) == []
    [hit] = store.lexical_search(NS, ["second"], memory_type=None, conditions=(), limit=5)
    assert hit.memory.coordinate == (1.0,)


def test_a_write_adds_one_index_segment_per_statement(store: SQLiteStore) -> None:
    for table in ("memory_text", "memory_words"):  # no merging: each segment stays a row of its own
        store._db.execute(f"INSERT INTO {table} ({table}, rank) VALUES ('automerge', 0)")
        store._db.execute(f"INSERT INTO {table} ({table}, rank) VALUES ('crisismerge', 1000)")
    store.put_many([memory(n, f"word{n} shared text") for n in range(200)])
    # Statements of 125, 62, 7, 3 and 3 rows: five segments, besides the structure and averages rows
    # (a statement per row made 200 segments: 202 rows).
    assert data_rows(store, "memory_words_data") == 2 + 5
    assert data_rows(store, "memory_text_data") == 2 + 5
    hits = store.lexical_search(NS, ["shared"], memory_type=None, conditions=(), limit=500)
    assert len(hits) == 200


def test_a_batch_embeds_each_text_as_it_would_alone() -> None:
    embedder = HashingEmbedder(16)
    texts = ["alpha beta", "", "the of", "gamma alpha alpha", "!!", "delta"]
    batch = embedder.embed(texts)
    alone = np.vstack([embedder.embed([text]) for text in texts])
    assert batch.dtype == np.float32
    assert batch.shape == (6, 16)
    assert np.array_equal(batch, alone)
    assert not batch[1].any() and not batch[4].any()  # no word: a zero row


def test_a_text_is_the_normalised_sum_of_its_words_features() -> None:
    embedder = HashingEmbedder(8)
    expected = np.zeros(8)
    for word in ("gamma", "alpha", "alpha"):
        slots, weights = word_features(word, 8)
        for slot, weight in zip(slots, weights, strict=True):
            expected[slot] += weight
    expected /= np.linalg.norm(expected)
    [row] = embedder.embed(["Gamma alpha ALPHA"])
    assert np.allclose(row, expected.astype(np.float32), rtol=0, atol=1e-7)
    assert embedder.embed([]).shape == (0, 8)


def test_a_write_stamps_the_embedder_on_a_memory_that_names_another(tmp_path: Path) -> None:
    service = open_service(tmp_path)
    try:
        identity = service.embedder.identity
        service._write([memory(1, "from elsewhere")])  # embedder None: unknown
        stored = service.store_many(NS, [NewMemory((2.0,), {"text": "new one"})])
        assert stored.stored == 1
        assert service.get(NS, (1.0,)).embedder == identity
        assert service.get(NS, (2.0,)).embedder == identity
    finally:
        close_service(service)


def test_a_coordinate_parses_the_same_through_the_whole_grammar_at_once() -> None:
    assert parse_coordinate(" 1 ,-0,\t2.5e1") == (1.0, 0.0, 25.0)
    assert math.copysign(1.0, parse_coordinate(" 1 ,-0,\t2.5e1")[1]) == 1.0
    assert coordinate_from_floats([np.float64(-0.0), 2]) == (0.0, 2.0)
    assert coordinate_key(parse_coordinate("3,-1e-3")) == "3.0,-0.001"
    with pytest.raises(InvalidInput, match=r"^coordinate component 1 is not a number: ' 1e288'"):
        parse_coordinate("1, 1e288")


def test_audit_entries_and_vector_points_split_over_statements_keep_every_row_in_order(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_file, "ROWS_PER_STATEMENT", 3)
    service = open_service(tmp_path)
    try:
        items = [NewMemory((float(n),), {"text": f"entry {n}"}) for n in range(8)]
        assert service.store_many(NS, items).stored == 8
        logged = service.audit(NS, None, 20, None)
        assert [entry.coordinate for entry in logged] == [(float(n),) for n in range(7, -1, -1)]
        assert [entry.entry for entry in logged] == list(range(8, 0, -1))
        assert {entry.action.value for entry in logged} == {"store"}
        for n in (0, 4, 7):
            [hit] = service.recall(NS, f"entry {n}", top_k=1)
            assert hit.memory.coordinate == (float(n),)
    finally:
        close_service(service)
