"""PostgreSQL's lexical leg is bounded as SQLite's: only the rare terms are ranked (rarest first, while
the texts holding them add up to the budget), and when every term is common the texts holding all of them,
then any, come most recent first (scores 2 and 1), without a ts_rank each."""

import math
from collections.abc import Iterator

import psycopg_pool
import pytest

from somafractalmemory.adapters.postgres_store import PostgresStore
from somafractalmemory.core.models import Memory, MemoryType

NS = "bounds"


def memory(x: float, text: str) -> Memory:
    return Memory(NS, (x,), {"text": text}, MemoryType.EPISODIC, 0.5, x, x)  # created in the order of x


def bm25_idf(total: int, holding: int) -> float:
    return math.log(1 + (total - holding + 0.5) / (holding + 0.5))


def budgeted(url: str, scored_rows: int) -> PostgresStore:
    pool: psycopg_pool.ConnectionPool = psycopg_pool.ConnectionPool(url, min_size=1, max_size=2, open=True)
    store = PostgresStore(pool, evented=False, scored_rows=scored_rows)
    store.migrate()
    return store


@pytest.fixture
def three(postgres_url: str) -> Iterator[PostgresStore]:
    store = budgeted(postgres_url, 3)
    yield store
    store.close()


@pytest.fixture
def one(postgres_url: str) -> Iterator[PostgresStore]:
    store = budgeted(postgres_url, 1)
    yield store
    store.close()


def scored(store: PostgresStore, *terms: str, limit: int = 10) -> list[tuple[tuple[float, ...], float]]:
    hits = store.lexical_search(NS, list(terms), memory_type=None, conditions=(), limit=limit)
    return [(hit.memory.coordinate, hit.score) for hit in hits]


def found(store: PostgresStore, *terms: str) -> list[tuple[float, ...]]:
    return [coordinate for coordinate, _ in scored(store, *terms)]


def test_only_rare_terms_are_ranked_rarest_first_within_the_budget(three: PostgresStore) -> None:
    three.put_many(
        [memory(1, "apple"), memory(2, "berry"), memory(3, "berry cherry"), memory(4, "cherry")]
        + [memory(float(n), f"plum filler{n}") for n in range(5, 9)]
        + [memory(float(n), f"filler{n}") for n in range(9, 13)]
    )
    # plum is in 4 of 12 texts: more than 3, so common; apple (1) and berry (2) fill the budget of 3
    # texts, so cherry (2 more) is left out
    hits = scored(three, "plum", "berry", "cherry", "apple")
    assert [coordinate for coordinate, _ in hits] == [(1.0,), (2.0,), (3.0,)]
    # the scores are the IDF of the kept terms a text holds (among the namespace's 12), then ts_rank
    assert 0 < hits[0][1] - bm25_idf(12, 1) < 1
    assert all(0 < score - bm25_idf(12, 2) < 1 for _, score in hits[1:])
    # equally rare terms keep the query's order: cherry (2) before berry, which no longer fits
    assert found(three, "plum", "cherry", "berry", "apple") == [(1.0,), (4.0,), (3.0,)]
    assert found(three, "cherry", "nowhere") == [(4.0,), (3.0,)]  # a term in no text is left out
    assert found(three, "nowhere") == []


def test_when_every_term_is_common_texts_with_all_then_any_come_most_recent_first(one: PostgresStore) -> None:
    one.put_many(
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
    assert scored(one, "red", "blue") == [((5.0,), 2.0), ((2.0,), 2.0), ((3.0,), 1.0), ((1.0,), 1.0)]
    assert scored(one, "red", "blue", limit=3) == [((5.0,), 2.0), ((2.0,), 2.0), ((3.0,), 1.0)]
    ((coordinate, score),) = scored(one, "green")  # in one text: rare, ranked by its IDF and ts_rank
    assert coordinate == (4.0,) and 0 < score - bm25_idf(7, 1) < 1


def test_a_common_term_counts_less_but_is_still_searched_next_to_a_rare_one(three: PostgresStore) -> None:
    """No half-of-the-texts rule here: PostgreSQL's IDF of a term in most texts is small, not nil."""
    three.put_many([memory(1, "zebra"), memory(2, "horse"), memory(3, "horse")])
    assert found(three, "horse", "zebra") == [(1.0,), (2.0,), (3.0,)]


def test_a_count_is_remembered_a_while_but_a_term_in_no_text_is_counted_every_time(
    one: PostgresStore,
) -> None:
    one.put_many([memory(1, "red"), memory(2, "red"), memory(3, "blue")])
    assert found(one, "red") == [(2.0,), (1.0,)]  # common (counted up to 2, one past the budget of 1)
    assert (one._term_counts.get(NS, "red"), one._term_counts.get(NS, "blue")) == (2, None)
    assert found(one, "zebra") == []
    assert one._term_counts.get(NS, "zebra") is None
    one.put_many([memory(4, "zebra")])
    assert found(one, "zebra") == [(4.0,)]  # found at once
    one.delete(NS, (1.0,))
    # red is still remembered in 2 texts, so common: most recent first, though only one text holds it now
    assert scored(one, "red") == [((2.0,), 2.0)]
