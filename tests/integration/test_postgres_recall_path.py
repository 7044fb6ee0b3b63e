"""The PostgreSQL store's recall path: pooled connections handed out without a ping yet replaced when the
server closed them, and access counts written in batches, none lost."""

import math
import threading
import time
from collections.abc import Iterator

import psycopg
import psycopg_pool
import pytest

from somafractalmemory.adapters.postgres_store import PostgresStore
from somafractalmemory.core.models import Memory, MemoryType

NS = "ns"


def memory(coord: tuple[float, ...]) -> Memory:
    return Memory(NS, coord, {"text": "x"}, MemoryType.EPISODIC, 0.5, 1000.0, 1000.0)


def counts(url: str) -> dict[str, int]:
    """The access counts as stored, read on a connection of its own (as another process would)."""
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT coord_key, access_count FROM soma_memories ORDER BY 1").fetchall()
    return {key: count for key, count in rows}


@pytest.fixture
def filled(store: PostgresStore) -> Iterator[PostgresStore]:
    store.put_many([memory((1.0,)), memory((2.0,))])
    yield store


# Connection checks.
def test_a_terminated_backend_is_replaced_and_the_next_request_succeeds(postgres_url: str) -> None:
    store = PostgresStore.connect(postgres_url, evented=False, max_size=1)  # one connection: the killed one
    store.migrate()
    store.put_many([memory((1.0,)), memory((2.0,))])
    with store.connection() as conn:
        pid = conn.info.backend_pid
    with psycopg.connect(postgres_url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,)).fetchone() == (True,)
    assert store.get_many(NS, [(1.0,), (2.0,)]).keys() == {(1.0,), (2.0,)}
    with store.connection() as conn:
        assert conn.info.backend_pid != pid
    store.close()


def test_a_healthy_idle_connection_is_handed_out_without_a_round_trip(postgres_url: str) -> None:
    store = PostgresStore.connect(postgres_url, evented=False, max_size=1)
    with store.connection() as conn:
        conn.execute("SELECT 1")
        pid = conn.info.backend_pid
    with store.connection() as conn, psycopg.connect(postgres_url) as observer:
        assert conn.info.backend_pid == pid
        last = observer.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone()
    store.close()
    assert last == ("COMMIT",)  # the end of the last transaction; a ping would show as the empty query


# Access counts.
def test_a_recall_s_accesses_are_read_at_once_by_its_store_and_written_by_a_flush(
    filled: PostgresStore, postgres_url: str
) -> None:
    filled.record_access(NS, [(1.0,), (2.0,), (1.0,)])
    filled.record_access(NS, [(1.0,)])
    assert {c: m.access_count for c, m in filled.get_many(NS, [(1.0,), (2.0,)]).items()} == {
        (1.0,): 2,
        (2.0,): 1,
    }
    filled.flush_accesses()
    assert counts(postgres_url) == {"1.0": 2, "2.0": 1}
    assert filled.get(NS, (1.0,)).access_count == 2  # type: ignore[union-attr]  # not counted twice


def test_access_counts_arrive_without_a_flush(filled: PostgresStore, postgres_url: str) -> None:
    filled.record_access(NS, [(2.0,)])
    deadline = time.monotonic() + 30
    while counts(postgres_url)["2.0"] != 1:
        assert time.monotonic() < deadline, "the background writer never wrote the access count"
        time.sleep(0.05)


def test_closing_the_store_writes_the_access_counts(postgres_url: str) -> None:
    store = PostgresStore.connect(postgres_url, evented=False)
    store.migrate()
    store.put_many([memory((1.0,))])
    store.record_access(NS, [(1.0,)])
    store.close()
    assert counts(postgres_url) == {"1.0": 1}


def test_concurrent_recalls_lose_no_access(postgres_url: str) -> None:
    store = PostgresStore.connect(postgres_url, evented=False)
    store.migrate()
    store.put_many([memory((1.0,)), memory((2.0,))])

    def recalls() -> None:
        for n in range(200):
            store.record_access(NS, [(1.0,), (2.0,)] if n % 2 else [(1.0,)])
            if n % 50 == 0:
                store.flush_accesses()

    threads = [threading.Thread(target=recalls) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    store.close()
    assert counts(postgres_url) == {"1.0": 1200, "2.0": 600}


# The lexical leg's counts.
def test_the_namespace_s_memories_are_remembered_with_the_term_counts(store: PostgresStore) -> None:
    def search() -> list[tuple[tuple[float, ...], float]]:
        found = store.lexical_search(NS, ["red"], memory_type=None, conditions=(), limit=5)
        return [(s.memory.coordinate, s.score) for s in found]

    store.put_many(
        [
            Memory(NS, (float(n),), {"text": t}, MemoryType.EPISODIC, 0.5, 1.0, 1.0)
            for n, t in enumerate(["red apple", "blue sky", "green tree"])
        ]
    )
    first = search()
    assert [coord for coord, _ in first] == [(0.0,)]
    assert first[0][1] > math.log(1 + (3 - 1 + 0.5) / (1 + 0.5))  # the IDF with N = 3, plus a ts_rank
    store.put_many(
        [Memory(NS, (float(n),), {"text": "grey"}, MemoryType.EPISODIC, 0.5, 1.0, 1.0) for n in range(10, 40)]
    )
    assert search() == first  # N = 3 still: no counting statement while the counts are remembered


def test_a_common_term_s_count_is_remembered_longer_than_a_rare_one_s(postgres_url: str) -> None:
    pool: psycopg_pool.ConnectionPool = psycopg_pool.ConnectionPool(
        postgres_url, min_size=1, max_size=2, open=True
    )
    store = PostgresStore(pool, evented=False, scored_rows=2)  # a term in 3 texts is common
    store.migrate()
    texts = ["red apple", "red sky", "red tree", "blue sky"]
    store.put_many(
        [
            Memory(NS, (float(n),), {"text": t}, MemoryType.EPISODIC, 0.5, 1.0, 1.0)
            for n, t in enumerate(texts)
        ]
    )
    store.lexical_search(NS, ["red", "blue"], memory_type=None, conditions=(), limit=5)
    now = time.monotonic()
    expiry = {term: store._term_counts._counts[(NS, term)] for term in ("red", "blue")}
    store.close()
    assert (expiry["red"][1], expiry["blue"][1]) == (3, 1)  # counted up to one past the budget
    assert expiry["red"][0] - now > 100  # common: a half to all of 300 s
    assert expiry["blue"][0] - now <= 30
