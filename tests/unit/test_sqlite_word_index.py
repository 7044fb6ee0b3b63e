"""The embedded store's word index: BM25 values, relevance order, filters inside the lexical leg, kept
in step with every write, and built on open for a file that does not have it (or lost it mid-build)."""

import logging
import math
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from somafractalmemory.adapters.sqlite_store import SQLiteStore
from somafractalmemory.core.filters import parse_filters
from somafractalmemory.core.models import Memory, MemoryType

NS = "words"


def memory(n: float, text: str, *, importance: float = 0.5, **extra: object) -> Memory:
    kind = MemoryType.SEMANTIC if extra.pop("semantic", False) else MemoryType.EPISODIC
    return Memory(NS, (n,), {"text": text, **extra}, kind, importance, n, n)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "memories.sqlite"


@pytest.fixture
def store(path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(path)
    yield opened
    opened.close()


def found(store: SQLiteStore, *terms: str, **options: object) -> list[tuple[float, ...]]:
    hits = store.lexical_search(
        NS,
        list(terms),
        memory_type=options.get("memory_type"),  # type: ignore[arg-type]
        conditions=options.get("conditions", ()),  # type: ignore[arg-type]
        limit=options.get("limit", 10),  # type: ignore[arg-type]
    )
    return [hit.memory.coordinate for hit in hits]


def test_the_score_is_fts5_bm25(store: SQLiteStore) -> None:
    store.put_many([memory(1, "alpha beta"), memory(2, "gamma delta"), memory(3, "epsilon zeta")])
    [hit] = store.lexical_search(NS, ["alpha"], memory_type=None, conditions=(), limit=10)
    # idf log((N - n + 0.5) / (n + 0.5)) with N 3, n 1; one occurrence in a text of average length
    assert hit.score == pytest.approx(math.log(2.5 / 1.5), rel=1e-9)
    assert hit.memory.coordinate == (1.0,)


def test_relevance_orders_rare_words_and_stems(store: SQLiteStore) -> None:
    store.put_many(
        [
            memory(1, "the cat sat on the mat"),
            memory(2, "the dog ran"),
            memory(3, "cats running everywhere, cats"),
            memory(4, "nothing here"),
        ]
    )
    assert found(store, "cat") == [(3.0,), (1.0,)]  # porter: cats is cat; two occurrences first
    assert found(store, "run") == [(3.0,)]  # running stems to run; ran does not (a stemmer, no lemmas)
    assert found(store, "the dog") == [(2.0,)]  # a phrase: its words in order
    assert found(store, "mat", "dog") == [(2.0,), (1.0,)]  # any of the terms, the shorter text first
    assert found(store, "the", "dog") == [(2.0,)]  # "the" is in half the texts: left out next to "dog"
    assert found(store, "the") == [(1.0,), (2.0,)]  # but kept when every term is that common
    assert found(store, "!!", "") == []
    assert found(store, 'say "hi"') == []  # quotes are words' boundaries, not syntax


def test_filters_type_and_limit_apply_inside_the_leg(store: SQLiteStore) -> None:
    store.put_many(
        [memory(float(n), "jazz " * (n + 1), tag="even" if n % 2 == 0 else "odd") for n in range(6)]
        + [memory(10, "jazz", semantic=True)]
    )
    everything = found(store, "jazz")
    assert len(everything) == 7
    assert found(store, "jazz", conditions=parse_filters({"tag": "odd"})) == [
        c for c in everything if c in {(1.0,), (3.0,), (5.0,)}
    ]
    assert found(store, "jazz", conditions=parse_filters({"tag": "odd"}), limit=1) == [everything[0]]
    assert found(store, "jazz", memory_type=MemoryType.SEMANTIC) == [(10.0,)]
    assert found(store, "jazz", limit=2) == everything[:2]


def test_the_index_follows_every_write(store: SQLiteStore) -> None:
    store.put_many([memory(1, "violin"), memory(2, "violin lessons")])
    assert found(store, "violin") == [(1.0,), (2.0,)]
    store.put_many([memory(1, "cello")])  # a replace moves its words
    assert found(store, "violin") == [(2.0,)]
    assert found(store, "cello") == [(1.0,)]
    assert store.delete(NS, (2.0,))
    assert found(store, "violin") == []
    assert found(store, "lessons") == []
    store.put_many([memory(3, "cello", semantic=True)])
    assert found(store, "cello", memory_type=MemoryType.SEMANTIC) == [(3.0,)]
    store.put_many([memory(3, "cello")])  # a replace with another type moves its scope
    assert found(store, "cello", memory_type=MemoryType.SEMANTIC) == []
    assert found(store, "cello", memory_type=MemoryType.EPISODIC) == [(1.0,), (3.0,)]


def test_a_namespace_sees_only_its_own_memories(store: SQLiteStore) -> None:
    store.put_many([memory(1, "oboe")])
    assert found(store, "oboe") == [(1.0,)]  # alone in the file: no scope needed
    assert store.lexical_search("other", ["oboe"], memory_type=None, conditions=(), limit=5) == []
    store.put_many([Memory("other", (1.0,), {"text": "oboe"}, MemoryType.EPISODIC, 0.5, 0, 0)])
    assert found(store, "oboe") == [(1.0,)]
    hits = store.lexical_search("other", ["oboe"], memory_type=None, conditions=(), limit=5)
    assert [h.memory.namespace for h in hits] == ["other"]
    assert store.lexical_search("Ünï ns", ["oboe"], memory_type=None, conditions=(), limit=5) == []


def test_keyword_search_ranks_by_relevance_then_importance(store: SQLiteStore) -> None:
    store.put_many(
        [
            memory(1, "a long note that mentions jazz once among many other words", importance=0.9),
            memory(2, "jazz jazz", importance=0.1),
            memory(3, "jazzy tunes", importance=1.0),
        ]
    )
    search = store.keyword_search
    ranked = search(NS, "jazz", exact=False, case_sensitive=False, memory_type=None, limit=10)
    assert [m.coordinate for m in ranked] == [(2.0,), (1.0,), (3.0,)]  # "jazzy" holds no word "jazz"
    substring = search(NS, "azz", exact=False, case_sensitive=False, memory_type=None, limit=10)
    assert [m.coordinate for m in substring] == [(3.0,), (1.0,), (2.0,)]  # no word: importance order
    assert search(NS, "jazz jazz", exact=True, case_sensitive=False, memory_type=None, limit=10)[
        0
    ].coordinate == (2.0,)


def _drop_word_index(path: Path, *, keep_empty_table: bool) -> None:
    with sqlite3.connect(path) as db:
        for trigger in ("memories_words_insert", "memories_words_delete", "memories_words_update"):
            db.execute(f"DROP TRIGGER {trigger}")
        db.execute("DROP TABLE memory_words")
        if keep_empty_table:
            db.execute(
                "CREATE VIRTUAL TABLE memory_words USING fts5(text, scope, content='', "
                "tokenize='porter unicode61 remove_diacritics 2')"
            )


@pytest.mark.parametrize("keep_empty_table", [False, True], ids=["older file", "crash before the build"])
def test_a_file_without_a_filled_word_index_gets_it_on_open(
    path: Path, keep_empty_table: bool, caplog: pytest.LogCaptureFixture
) -> None:
    first = SQLiteStore(path)
    first.put_many([memory(1, "harbour lights"), memory(2, "harbour cranes"), memory(3, "field")])
    first.close()
    _drop_word_index(path, keep_empty_table=keep_empty_table)
    with caplog.at_level(logging.INFO, logger="somafractalmemory.adapters.sqlite_store"):
        reopened = SQLiteStore(path)
    try:
        assert [r.getMessage() for r in caplog.records] == ["built the word index from 3 memories"]
        assert sorted(found(reopened, "harbour")) == [(1.0,), (2.0,)]
        reopened.put_many([memory(4, "harbour seals")])
        assert len(found(reopened, "harbour")) == 3  # the triggers are back too
    finally:
        reopened.close()
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="somafractalmemory.adapters.sqlite_store"):
        SQLiteStore(path).close()
    assert caplog.records == []  # in step: nothing to build


def scored(store: SQLiteStore, *terms: str, limit: int = 10) -> list[tuple[tuple[float, ...], float]]:
    hits = store.lexical_search(NS, list(terms), memory_type=None, conditions=(), limit=limit)
    return [(hit.memory.coordinate, hit.score) for hit in hits]


def test_only_rare_terms_are_scored_rarest_first_within_the_budget(path: Path) -> None:
    store = SQLiteStore(path, scored_rows=3)
    try:
        store.put_many(
            [memory(1, "apple"), memory(2, "berry"), memory(3, "berry cherry"), memory(4, "cherry")]
            + [memory(float(n), f"plum filler{n}") for n in range(5, 9)]
            + [memory(float(n), f"filler{n}") for n in range(9, 13)]
        )
        # plum is in 4 of 12 texts: more than 3, so common; apple (1) and berry (2) fill the budget
        # of 3 texts, so cherry (2 more) is left out although it is rarer than half the texts
        assert found(store, "plum", "berry", "cherry", "apple") == [(1.0,), (2.0,), (3.0,)]
        # equally rare terms keep the query's order
        assert found(store, "plum", "cherry", "berry", "apple") == [(1.0,), (4.0,), (3.0,)]
        # the scores are BM25 of the kept terms alone: apple's IDF beats berry's
        apple, berry = scored(store, "apple", "berry")[:2]
        assert apple[1] > berry[1] > 0
        assert found(store, "cherry", "nowhere") == [(4.0,), (3.0,)]  # a term in no text is left out
    finally:
        store.close()


def test_when_every_term_is_common_texts_with_all_then_any_come_most_recent_first(path: Path) -> None:
    store = SQLiteStore(path, scored_rows=1)
    try:
        store.put_many(
            [
                memory(1, "red"),
                memory(2, "red blue"),
                memory(3, "blue"),
                memory(4, "green"),
                memory(5, "red blue"),
                memory(6, "grey"),
                memory(7, "grey"),
            ]
        )
        assert scored(store, "red", "blue") == [
            ((5.0,), 2.0),
            ((2.0,), 2.0),
            ((3.0,), 1.0),
            ((1.0,), 1.0),
        ]
        assert scored(store, "red", "blue", limit=3) == [((5.0,), 2.0), ((2.0,), 2.0), ((3.0,), 1.0)]
        assert scored(store, "red", "blue", limit=1) == [((5.0,), 2.0)]
        assert found(store, "blue", conditions=parse_filters({"text": "blue"})) == [(3.0,)]
    finally:
        store.close()


def merge_widths(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {
            table: db.execute(f"SELECT v FROM {table}_config WHERE k = 'automerge'").fetchone()[0]
            for table in ("memory_text", "memory_words")
        }


def test_both_text_indexes_merge_sixteen_segments_a_level(store: SQLiteStore, path: Path) -> None:
    assert merge_widths(path) == {"memory_text": 16, "memory_words": 16}


def test_a_file_with_fts5_default_merging_gets_the_width_on_open(path: Path) -> None:
    SQLiteStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("DELETE FROM memory_text_config WHERE k = 'automerge'")
        db.execute("DELETE FROM memory_words_config WHERE k = 'automerge'")
    reopened = SQLiteStore(path)
    try:
        assert merge_widths(path) == {"memory_text": 16, "memory_words": 16}
    finally:
        reopened.close()


def test_merged_segments_keep_every_write_findable(store: SQLiteStore) -> None:
    """Forty writes of one memory: level 0 fills past sixteen segments twice, so merges run."""
    for n in range(40):
        store.put_many([memory(n, f"batch{n} shared")])
    assert sorted(found(store, "shared", limit=50)) == [(float(n),) for n in range(40)]
    assert found(store, "batch17") == [(17.0,)]
    substring = store.keyword_search(
        NS, "atch3", exact=False, case_sensitive=False, memory_type=None, limit=50
    )
    assert sorted(m.coordinate for m in substring) == [(3.0,)] + [(float(n),) for n in range(30, 40)]


def test_the_store_keeps_16_mib_of_pages(store: SQLiteStore) -> None:
    assert store._db.execute("PRAGMA cache_size").fetchone()[0] == -16_384
