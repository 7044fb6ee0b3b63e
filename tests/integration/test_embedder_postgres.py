"""Each memory records its embedder on PostgreSQL: written by the service, answered by reads, counted per
embedder, null for memories written before migration 6; a change of embedder re-embeds exactly the stale."""

from collections.abc import Callable

from somafractalmemory.cli.reindex import reindex, vector_index
from somafractalmemory.core.service import NewMemory
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import build_embedder, build_runtime, build_store
from support.servers import PostgresServer, RedisServer

OLD, NEW = "hashing:rules-1b13d4b8:256", "hashing:rules-1b13d4b8:384"


def test_a_change_of_embedder_reembeds_exactly_the_stale_memories(
    postgres_server: PostgresServer, redis_server: RedisServer, make_app_settings: Callable[..., Settings]
) -> None:
    old = make_app_settings(postgres_server, redis_server, embedding_dimensions=256)
    runtime = build_runtime(old)
    stored = runtime.service.store_many(
        "a", [NewMemory((float(i),), {"text": f"memory {i}"}) for i in range(6)]
    )
    assert stored.stored == 6
    assert runtime.service.get("a", (0.0,)).embedder == OLD
    runtime.close()

    new = old.model_copy(update={"embedding_dimensions": 384})
    store = build_store(new)
    with store.connection() as conn:  # two memories as written before migration 6 recorded embedders
        conn.execute(
            "UPDATE soma_memories SET embedder = NULL WHERE namespace = 'a' AND coord_key IN ('4.0', '5.0')"
        )
    assert store.embedder_counts("a") == {OLD: 4, None: 2}
    runtime = build_runtime(new)
    runtime.service.store_many("a", [NewMemory((float(i),), {"text": f"memory {i} again"}) for i in (0, 1)])
    runtime.close()
    assert store.embedder_counts("a") == {OLD: 2, NEW: 2, None: 2}

    embedder = build_embedder(new)
    with vector_index(new, embedder.dimensions, every_namespace=True) as (index, _):
        assert reindex(store, index, embedder, ["a"], every=False, batch=256, quiet=True) == {"a": 4}
        assert store.embedder_counts("a") == {NEW: 6}
        assert reindex(store, index, embedder, ["a"], every=False, batch=256, quiet=True) == {"a": 0}
    assert store.get("a", (5.0,)).embedder == NEW  # type: ignore[union-attr]
    store.close()
