"""`soma reindex` on the production backends: PostgreSQL as the store, Qdrant (local mode) as the index.
After a change of embedder dimensions (256 -> 384), dense recall finds each memory with the new vectors."""

from collections.abc import Callable

from somafractalmemory.cli.reindex import reindex, vector_index
from somafractalmemory.core.fusion import Ranking
from somafractalmemory.core.service import NewMemory
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import build_embedder, build_runtime, build_store
from support.servers import PostgresServer, RedisServer

TEXTS = [
    "the lighthouse keeper painted the stairs red",
    "a recipe for lemon cake with poppy seeds",
    "train timetable between Lyon and Geneva",
    "notes on repotting an orchid in spring",
    "the chess club meets on thursday evenings",
]
QUERIES = {"orchid repotting in spring": 3, "Lyon Geneva timetable": 2, "lemon poppy cake": 1}


def dense_firsts(settings: Settings, namespace: str) -> dict[str, int]:
    runtime = build_runtime(settings)
    try:
        return {
            query: int(
                runtime.service.recall(namespace, query, top_k=1, ranking=Ranking.DENSE)[0].memory.coordinate[
                    0
                ]
            )
            for query in QUERIES
        }
    finally:
        runtime.close()


def test_reindex_moves_every_memory_into_the_new_dimensions(
    postgres_server: PostgresServer, redis_server: RedisServer, make_app_settings: Callable[..., Settings]
) -> None:
    old = make_app_settings(postgres_server, redis_server, embedding_dimensions=256)
    runtime = build_runtime(old)
    for namespace in ("a", "b"):
        items = [NewMemory((float(i),), {"text": text}) for i, text in enumerate(TEXTS)]
        runtime.service.store_many(namespace, list(items))
    runtime.close()
    assert dense_firsts(old, "b") == QUERIES

    new = old.model_copy(update={"embedding_dimensions": 384})
    before = build_runtime(new)  # the 384 collection exists, empty: recall finds nothing yet
    assert before.service.recall("b", "orchid repotting in spring", top_k=1, ranking=Ranking.DENSE) == []
    before.close()

    store, embedder = build_store(new), build_embedder(new)
    with vector_index(new, embedder.dimensions, every_namespace=True) as (index, rebuilt):
        assert not rebuilt  # Qdrant: a collection per dimension, the new one already there
        assert reindex(store, index, embedder, ["a", "b"], every=False, batch=2, quiet=True) == {
            "a": 5,
            "b": 5,
        }
        assert index.name == "qdrant"
    with vector_index(new, embedder.dimensions, every_namespace=False) as (index, _):  # again: nothing stale
        assert reindex(store, index, embedder, ["b"], every=False, batch=256, quiet=True) == {"b": 0}
        assert reindex(store, index, embedder, ["b"], every=True, batch=256, quiet=True) == {"b": 5}
    assert store.embedder_counts("a") == {"hashing:rules-1b13d4b8:384": 5}
    store.close()
    assert dense_firsts(new, "a") == QUERIES
    assert dense_firsts(new, "b") == QUERIES
