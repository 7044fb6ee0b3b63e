"""The PostgreSQL document store, method by method, against a real PostgreSQL server."""

import hashlib
import threading
import time

import psycopg
import pytest

from somafractalmemory.adapters.index_events import IndexOp, decode
from somafractalmemory.adapters.postgres_outbox import PostgresOutbox
from somafractalmemory.adapters.postgres_schema import MIGRATIONS
from somafractalmemory.adapters.postgres_store import PostgresStore
from somafractalmemory.core.errors import BackendUnavailable, InvalidInput
from somafractalmemory.core.models import Link, Memory, MemoryType, Stats
from support.servers import PostgresServer

NS = "ns"


def memory(
    coord: tuple[float, ...],
    payload: dict[str, object] | None = None,
    memory_type: MemoryType = MemoryType.EPISODIC,
    importance: float = 0.5,
    at: float = 1000.0,
    namespace: str = NS,
) -> Memory:
    return Memory(namespace, coord, payload or {"text": "x"}, memory_type, importance, at, at)


def link(
    source: tuple[float, ...], target: tuple[float, ...], link_type: str = "related", weight: float = 1.0
) -> Link:
    return Link(NS, source, target, link_type, weight, 1000.0)


# Schema.
def test_migrations_apply_once_and_record_their_versions(store: PostgresStore, postgres_url: str) -> None:
    assert store.migrate() == []
    with psycopg.connect(postgres_url) as conn:
        versions = [row[0] for row in conn.execute("SELECT version FROM soma_schema_migrations ORDER BY 1")]
    assert versions == [migration.version for migration in MIGRATIONS]


def test_concurrent_migrators_apply_each_migration_once(postgres_server: PostgresServer, unique: str) -> None:
    url = postgres_server.create_database(unique)
    stores = [PostgresStore.connect(url, evented=False) for _ in range(4)]
    results: list[list[int]] = []
    threads = [threading.Thread(target=lambda s=s: results.append(s.migrate())) for s in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for each in stores:
        each.close()
    assert sorted(results, key=len) == [[], [], [], [m.version for m in MIGRATIONS]]


# Memories.
def test_store_get_and_replace_keeps_creation_time_and_access_count(store: PostgresStore) -> None:
    store.put_many([memory((1.0, 2.0), {"text": "first"}, at=100.0)])
    store.record_access(NS, [(1.0, 2.0), (1.0, 2.0)])
    store.put_many([Memory(NS, (1.0, 2.0), {"text": "second"}, MemoryType.SEMANTIC, 0.9, 200.0, 200.0)])
    got = store.get(NS, (1.0, 2.0))
    assert got is not None
    assert (got.payload, got.memory_type, got.importance) == ({"text": "second"}, MemoryType.SEMANTIC, 0.9)
    assert (got.created_at, got.updated_at, got.access_count) == (100.0, 200.0, 1)
    assert store.get(NS, (9.0,)) is None
    assert store.get("other", (1.0, 2.0)) is None


def test_a_bulk_with_one_coordinate_twice_keeps_the_last(store: PostgresStore) -> None:
    store.put_many([memory((1.0,), {"v": 1}), memory((2.0,)), memory((1.0,), {"v": 2})])
    assert store.get_many(NS, [(1.0,), (2.0,), (3.0,)]).keys() == {(1.0,), (2.0,)}
    assert store.get(NS, (1.0,)) == memory((1.0,), {"v": 2})
    assert store.stats(NS) == Stats(2, 2, 0)


def test_existing_answers_the_stored_coordinates_of_the_namespace_only(store: PostgresStore) -> None:
    store.put_many([memory((1.0,)), memory((2.0,)), memory((3.0,)), memory((4.0,), namespace="other")])
    store.delete(NS, (3.0,))
    assert store.existing(NS, [(1.0,), (2.0,), (3.0,), (4.0,), (5.0,)]) == {(1.0,), (2.0,)}
    assert store.existing("other", [(1.0,), (4.0,)]) == {(4.0,)}
    assert store.existing(NS, []) == set()


def test_a_failed_bulk_writes_nothing(evented_store: PostgresStore) -> None:
    bad = memory((2.0,), {"text": "nul \u0000 is not storable in jsonb"})
    with pytest.raises(InvalidInput, match="NUL"):
        evented_store.put_many([memory((1.0,)), bad])
    assert evented_store.get_many(NS, [(1.0,), (2.0,)]) == {}
    assert evented_store.stats(NS) == Stats(0, 0, 0)
    assert PostgresOutbox(evented_store.connection).backlog() == 0


def test_before_commit_runs_inside_the_transaction_and_its_failure_writes_nothing(
    evented_store: PostgresStore, postgres_url: str
) -> None:
    seen: list[int] = []

    def count_committed() -> None:
        with psycopg.connect(postgres_url) as other:
            seen.append(other.execute("SELECT count(*) FROM soma_memories").fetchone()[0])  # type: ignore[index]

    def fail() -> None:
        raise RuntimeError("the model is gone")

    evented_store.put_many([memory((1.0,)), memory((2.0,))], before_commit=count_committed)
    assert seen == [0]  # called before the commit: another connection sees nothing yet
    with pytest.raises(RuntimeError, match="the model is gone"):
        evented_store.put_many([memory((3.0,))], before_commit=fail)
    with pytest.raises(RuntimeError, match="the model is gone"):
        evented_store.put_if_unchanged(NS, [memory((1.0,), {"v": 2})], {(1.0,): 1000.0}, before_commit=fail)
    assert (
        evented_store.put_if_unchanged(
            NS, [memory((2.0,), {"v": 3})], {(2.0,): 1000.0}, before_commit=count_committed
        )
        == []
    )
    assert seen == [0, 2]
    assert evented_store.get_many(NS, [(1.0,), (2.0,), (3.0,)]).keys() == {(1.0,), (2.0,)}
    assert evented_store.get(NS, (1.0,)) == memory((1.0,))
    assert evented_store.get(NS, (2.0,)) == memory((2.0,), {"v": 3})
    assert evented_store.stats(NS) == Stats(2, 2, 0)
    with psycopg.connect(postgres_url) as other:
        events = other.execute("SELECT count(*) FROM soma_outbox").fetchone()
    assert events == (3,)  # the events of the two writes that committed, none of the others


def test_delete_removes_the_memory_its_links_and_its_count(store: PostgresStore) -> None:
    store.put_many([memory((1.0,)), memory((2.0,)), memory((3.0,))])
    store.add_link(link((1.0,), (2.0,)))
    store.add_link(link((2.0,), (3.0,)))
    store.add_link(link((1.0,), (3.0,)))
    assert store.delete(NS, (2.0,)) is True
    assert store.delete(NS, (2.0,)) is False
    assert [lnk.target for lnk in store.neighbors(NS, (1.0,), None, None)] == [(3.0,)]
    assert store.neighbors(NS, (2.0,), None, None) == []
    assert store.stats(NS) == Stats(2, 2, 0)


def test_stats_follow_inserts_type_changes_and_deletes(store: PostgresStore) -> None:
    store.put_many([memory((float(i),), memory_type=MemoryType.EPISODIC) for i in range(5)])
    store.put_many([memory((0.0,), memory_type=MemoryType.SEMANTIC), memory((1.0,))])
    store.put_many([memory((0.0,), namespace="other")])
    store.delete(NS, (4.0,))
    assert store.stats(NS) == Stats(4, 3, 1)
    assert store.all_stats() == {NS: Stats(4, 3, 1), "other": Stats(1, 1, 0)}


def test_stats_read_the_counters_table(store: PostgresStore, postgres_url: str) -> None:
    store.put_many([memory((1.0,))])
    with psycopg.connect(postgres_url) as conn:
        conn.execute("UPDATE soma_namespace_counters SET episodic = 42 WHERE namespace = %s", (NS,))
    assert store.stats(NS).episodic == 42


def test_concurrent_writers_keep_exact_counts(store: PostgresStore) -> None:
    def write(worker: int) -> None:
        for batch in range(10):
            store.put_many([memory((float(i), float(batch))) for i in range(worker, worker + 20)])

    threads = [threading.Thread(target=write, args=(w * 5,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    distinct = {(float(i), float(b)) for w in range(4) for b in range(10) for i in range(w * 5, w * 5 + 20)}
    assert store.stats(NS).total_memories == len(distinct)


def test_record_access_counts_each_call(store: PostgresStore) -> None:
    store.put_many([memory((1.0,)), memory((2.0,))])
    store.record_access(NS, [(1.0,), (2.0,)])
    store.record_access(NS, [(1.0,)])
    assert {c: m.access_count for c, m in store.get_many(NS, [(1.0,), (2.0,)]).items()} == {
        (1.0,): 2,
        (2.0,): 1,
    }


# Keyword search.
@pytest.fixture
def texts(store: PostgresStore) -> PostgresStore:
    store.put_many(
        [
            memory((1.0,), {"text": "The Quick brown fox", "tag": "Animal"}, importance=0.2),
            memory((2.0,), {"text": "a quick test", "nested": {"tag": "animal"}}, MemoryType.SEMANTIC, 0.9),
            memory((3.0,), {"text": "100% sure_thing", "list": ["quick", "slow"]}, importance=0.5),
            memory((4.0,), {"text": "Größe"}, importance=0.1),
        ]
    )
    return store


def search(store: PostgresStore, term: str, **options: object) -> list[tuple[float, ...]]:
    params: dict[str, object] = {"exact": False, "case_sensitive": False, "memory_type": None, "limit": 50}
    params.update(options)
    return [m.coordinate for m in store.keyword_search(NS, term, **params)]  # type: ignore[arg-type]


def test_substring_search_ignores_case_and_orders_by_importance(texts: PostgresStore) -> None:
    assert search(texts, "QUICK") == [(2.0,), (3.0,), (1.0,)]
    assert search(texts, "Quick", case_sensitive=True) == [(1.0,)]
    assert search(texts, "quick", memory_type=MemoryType.SEMANTIC) == [(2.0,)]
    assert search(texts, "quick", limit=1) == [(2.0,)]
    assert search(texts, "GRÖSSE") == [(4.0,)]


def test_like_wildcards_in_the_term_are_literal(texts: PostgresStore) -> None:
    assert search(texts, "0% s") == [(3.0,)]
    assert search(texts, "e_t") == [(3.0,)]
    assert search(texts, "%") == [(3.0,)]
    assert search(texts, "_") == [(3.0,)]


def test_a_term_never_spans_two_values(texts: PostgresStore) -> None:
    assert search(texts, "fox\nAnimal") == []


def test_exact_search_matches_whole_string_values(texts: PostgresStore) -> None:
    assert search(texts, "animal", exact=True) == [(2.0,), (1.0,)]
    assert search(texts, "Animal", exact=True, case_sensitive=True) == [(1.0,)]
    assert search(texts, "quick", exact=True) == [(3.0,)]
    assert search(texts, "qui", exact=True) == []


def test_values_postgres_cannot_hold_are_input_errors(store: PostgresStore) -> None:
    with pytest.raises(InvalidInput):
        store.keyword_search("ns\u0000", "x", exact=True, case_sensitive=False, memory_type=None, limit=5)
    with pytest.raises(InvalidInput):
        store.add_link(Link(NS, (1.0,), (2.0,), "nul\u0000type", 1.0, 1.0))


def test_keyword_search_and_range_predicates_are_served_by_indexes(
    store: PostgresStore, postgres_url: str
) -> None:
    words = [hashlib.sha256(str(i).encode()).hexdigest()[:16] for i in range(3000)]
    store.put_many([memory((float(i), float(i % 10)), {"text": word}) for i, word in enumerate(words)])
    with psycopg.connect(postgres_url) as conn:
        conn.execute("ANALYZE soma_memories")
        conn.execute("SET enable_seqscan = off")  # the table is small here; what matters is what can serve it

        def plan(where: str) -> str:
            return str(conn.execute(f"EXPLAIN SELECT 1 FROM soma_memories WHERE {where}").fetchall())

        assert "soma_memories_folded_text" in plan(f"folded_text LIKE '%{words[1234][2:10]}%'")
        assert "soma_memories_folded_values" in plan(f"folded_values @> ARRAY['{words[1234]}']")
        assert "soma_memories_range" in plan(
            "namespace = 'ns' AND dimensions = 2 AND coord[1] BETWEEN 10 AND 20"
        )


# Coordinate range.
def test_range_is_inclusive_and_per_dimension(store: PostgresStore) -> None:
    store.put_many(
        [
            memory((1.0, 1.0, 1.0)),
            memory((2.0, 5.0, 1.0), memory_type=MemoryType.SEMANTIC),
            memory((2.0, 9.0, 1.0)),
            memory((0.5, 1.0, 1.0)),
            memory((1.0, 1.0)),
            memory((1.5, 1.5, 1.5), namespace="other"),
        ]
    )
    assert store.coordinate_range(NS, (1.0, 1.0, 1.0), (2.0, 5.0, 1.0), None) == [
        (1.0, 1.0, 1.0),
        (2.0, 5.0, 1.0),
    ]
    assert store.coordinate_range(NS, (1.0, 1.0, 1.0), (2.0, 5.0, 1.0), MemoryType.SEMANTIC) == [
        (2.0, 5.0, 1.0)
    ]
    assert store.coordinate_range(NS, (0.0, 0.0), (3.0, 3.0), None) == [(1.0, 1.0)]


# Eviction order, iteration.
def test_least_important_orders_by_importance_then_age(store: PostgresStore) -> None:
    store.put_many([memory((1.0,), importance=0.5, at=1.0), memory((2.0,), importance=0.1, at=5.0)])
    store.put_many([memory((3.0,), importance=0.5, at=0.5), memory((4.0,), importance=0.9)])
    assert store.least_important(NS, 3) == [(2.0,), (3.0,), (1.0,)]


def test_iteration_pages_through_every_memory_and_link(store: PostgresStore) -> None:
    count = 2500
    store.put_many([memory((float(i),), at=float(i % 7)) for i in range(count)])
    for i in range(1200):
        store.add_link(link((float(i),), (float(i + 1),)))
    assert sorted(m.coordinate for m in store.iter_memories(NS)) == [(float(i),) for i in range(count)]
    assert len({(lnk.source, lnk.target) for lnk in store.iter_links(NS)}) == 1200
    assert list(store.iter_memories("other")) == []


# Links.
def test_neighbors_are_strongest_first_filtered_and_limited(store: PostgresStore) -> None:
    store.put_many([memory((float(i),)) for i in range(4)])
    store.add_link(link((0.0,), (1.0,), weight=0.5))
    store.add_link(link((0.0,), (2.0,), weight=2.0))
    store.add_link(link((0.0,), (3.0,), "cites", 1.0))
    store.add_link(link((0.0,), (1.0,), weight=3.0))  # replaces the first edge
    assert [(lnk.target, lnk.weight) for lnk in store.neighbors(NS, (0.0,), None, None)] == [
        ((1.0,), 3.0),
        ((2.0,), 2.0),
        ((3.0,), 1.0),
    ]
    assert [lnk.target for lnk in store.neighbors(NS, (0.0,), "cites", None)] == [(3.0,)]
    assert len(store.neighbors(NS, (0.0,), None, 2)) == 2
    assert store.neighbors(NS, (1.0,), None, None) == []


# Outbox.
def test_evented_writes_and_deletes_leave_outbox_events_in_order(evented_store: PostgresStore) -> None:
    outbox = PostgresOutbox(evented_store.connection)
    evented_store.put_many([memory((1.0,)), memory((2.0,))])
    evented_store.delete(NS, (1.0,))
    evented_store.delete(NS, (7.0,))  # nothing deleted: no event
    with outbox.drain(10) as batch:
        events = [decode(entry.event) for entry in batch.entries]
        batch.delivered.add(batch.entries[0].id)
    assert [(e.op, e.coordinate) for e in events] == [
        (IndexOp.UPSERT, (1.0,)),
        (IndexOp.UPSERT, (2.0,)),
        (IndexOp.DELETE, (1.0,)),
    ]
    with outbox.drain(10) as batch:
        assert len(batch.entries) == 2


def test_plain_store_writes_no_outbox(store: PostgresStore) -> None:
    store.put_many([memory((1.0,))])
    assert PostgresOutbox(store.connection).backlog() == 0


def test_only_one_relay_drains_at_a_time(evented_store: PostgresStore) -> None:
    outbox = PostgresOutbox(evented_store.connection)
    evented_store.put_many([memory((1.0,))])
    with outbox.drain(10) as first, outbox.drain(10) as second:
        assert (len(first.entries), len(second.entries)) == (1, 0)


def test_undelivered_entries_stay_for_the_next_drain(evented_store: PostgresStore) -> None:
    outbox = PostgresOutbox(evented_store.connection)
    evented_store.put_many([memory((1.0,)), memory((2.0,))])
    with pytest.raises(RuntimeError), outbox.drain(10) as batch:
        batch.delivered.update(entry.id for entry in batch.entries)
        raise RuntimeError("relay died before committing")
    assert outbox.backlog() == 2


# Outage.
def test_a_stopped_server_is_reported_and_recovered_without_a_new_store(own_postgres: PostgresServer) -> None:
    store = PostgresStore.connect(own_postgres.url(), evented=False, timeout=2.0)
    store.migrate()
    store.put_many([memory((1.0,))])
    own_postgres.stop()
    with pytest.raises(BackendUnavailable) as failure:
        store.put_many([memory((2.0,))])
    assert failure.value.backend == "postgres"
    with pytest.raises(BackendUnavailable):
        store.ping()
    own_postgres.start()
    deadline = time.monotonic() + 30
    while True:
        try:
            store.ping()
            break
        except BackendUnavailable:
            if time.monotonic() > deadline:
                raise
    store.put_many([memory((2.0,))])
    assert store.get_many(NS, [(1.0,), (2.0,)]).keys() == {(1.0,), (2.0,)}
    store.close()
