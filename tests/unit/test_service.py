import json
from pathlib import Path

import pytest
from embedded_service import close_service, open_service

from somafractalmemory.core.errors import InvalidInput, NotFound
from somafractalmemory.core.filters import parse_filters
from somafractalmemory.core.fusion import Ranking
from somafractalmemory.core.models import MemoryType, VectorPoint
from somafractalmemory.core.records import parse_ndjson
from somafractalmemory.core.service import MemoryService, NewMemory

NS = "agents"
TOPICS = ["kubernetes operators", "chocolate cake", "sailing boats", "quantum physics", "jazz piano"]


def put(service: MemoryService, coordinate: tuple[float, ...], text: str, **extra: object) -> None:
    service.store_memory(NS, NewMemory(coordinate, {"text": text, **extra}))


def coords(results: list) -> list[tuple[float, ...]]:  # type: ignore[type-arg]
    return [r.memory.coordinate for r in results]


def test_store_get_replace_keeps_creation_and_updates_counters(service: MemoryService) -> None:
    put(service, (1.0, 2.0), "first version")
    first = service.get(NS, (1.0, 2.0))
    service.store_memory(NS, NewMemory((1.0, 2.0), {"text": "second version"}, MemoryType.SEMANTIC))
    second = service.get(NS, (1.0, 2.0))
    assert second.payload == {"text": "second version"}
    assert second.created_at == first.created_at
    stats = service.stats(NS)
    assert (stats.total_memories, stats.episodic, stats.semantic) == (1, 0, 1)


def test_restore_replaces_the_vector_instead_of_adding_one(service: MemoryService) -> None:
    for _ in range(3):
        put(service, (1.0,), "kubernetes operators")
    put(service, (2.0,), "chocolate cake")
    results = service.recall(NS, "kubernetes operators", top_k=5)
    assert coords(results) == [(1.0,), (2.0,)]


def test_deleted_memory_never_comes_back(service: MemoryService) -> None:
    put(service, (1.0,), "kubernetes operators")
    put(service, (2.0,), "kubernetes operators in production")
    service.link(NS, (2.0,), (1.0,))
    assert service.delete(NS, (1.0,)) is True
    assert service.delete(NS, (1.0,)) is False
    assert (1.0,) not in coords(service.recall(NS, "kubernetes operators", top_k=5))
    assert (1.0,) not in coords(service.hybrid_recall(NS, "kubernetes", top_k=5, exact=False))
    assert service.keyword_search(NS, "operators", exact=False) == [service.get(NS, (2.0,))]
    assert service.neighbors(NS, (2.0,)) == []
    with pytest.raises(NotFound):
        service.get(NS, (1.0,))
    assert service.stats(NS).total_memories == 1


def test_recall_skips_index_points_whose_memory_is_gone_and_still_fills_top_k(service: MemoryService) -> None:
    for position in range(10):
        put(service, (float(position),), f"sailing boats number {position}")
    stale = service.embedder.embed(["sailing boats"])[0]
    service.index.upsert(
        [VectorPoint(NS, (100.0 + n,), stale, MemoryType.EPISODIC, {}) for n in range(8)]
    )  # what an index holds between a delete and its event in evented mode
    results = service.recall(NS, "sailing boats", top_k=5)
    assert len(results) == 5
    assert all(c[0] < 100 for c in coords(results))


def test_filtered_recall_returns_top_k_when_enough_matches_exist(service: MemoryService) -> None:
    items = [
        NewMemory((float(n),), {"text": f"kubernetes operators note {n}", "tag": "common"})
        for n in range(300)
    ]
    items += [NewMemory((1000.0 + n,), {"text": f"chocolate cake {n}", "tag": "rare"}) for n in range(7)]
    service.store_many(NS, items)
    rare = service.recall(NS, "kubernetes operators", top_k=5, conditions=parse_filters({"tag": "rare"}))
    assert len(rare) == 5
    assert all(r.memory.payload["tag"] == "rare" for r in rare)
    numbered = service.recall(NS, "kubernetes", top_k=3, conditions=parse_filters({"tag": {"$in": ["rare"]}}))
    assert len(numbered) == 3


def test_type_filter(service: MemoryService) -> None:
    service.store_memory(NS, NewMemory((1.0,), {"text": "jazz piano"}, MemoryType.SEMANTIC))
    service.store_memory(NS, NewMemory((2.0,), {"text": "jazz piano"}, MemoryType.EPISODIC))
    assert coords(service.recall(NS, "jazz", top_k=5, memory_type=MemoryType.SEMANTIC)) == [(1.0,)]


def test_dense_scores_are_cosine_similarities_and_fused_ones_reciprocal_ranks(service: MemoryService) -> None:
    put(service, (1.0,), "quantum physics")
    [dense] = service.recall(NS, "quantum physics", top_k=1, ranking=Ranking.DENSE)
    assert dense.score == pytest.approx(1.0, abs=1e-5)
    [fused] = service.recall(NS, "quantum physics", top_k=1)
    assert fused.score == 2 / 61  # first in both legs, weights 1, k 60


def test_keyword_search_modes(service: MemoryService) -> None:
    put(service, (1.0,), "Deploying Operators", tag="Ops")
    put(service, (2.0,), "cooking dinner", tag="food")
    assert coords_of(service.keyword_search(NS, "ops", exact=True)) == [(1.0,)]
    assert service.keyword_search(NS, "ops", exact=True, case_sensitive=True) == []
    assert coords_of(service.keyword_search(NS, "operat", exact=False)) == [(1.0,)]
    assert service.keyword_search(NS, "operat", exact=False, case_sensitive=True) == []
    assert coords_of(service.keyword_search(NS, "Operat", exact=False, case_sensitive=True)) == [(1.0,)]
    assert set(coords_of(service.keyword_search(NS, "in", exact=False))) == {
        (1.0,),
        (2.0,),
    }  # below a trigram
    assert service.keyword_search(NS, "Deploying Operators", exact=True, top_k=1)[0].coordinate == (1.0,)
    with pytest.raises(InvalidInput):
        service.keyword_search(NS, "  ")


def coords_of(memories: list) -> list[tuple[float, ...]]:  # type: ignore[type-arg]
    return [m.coordinate for m in memories]


def test_hybrid_boosts_memories_that_match_the_terms(service: MemoryService) -> None:
    put(service, (1.0,), "kubernetes operators reconcile state")
    put(service, (2.0,), "an unrelated note about tea", code="K-42")
    plain = service.recall(NS, "kubernetes operators K-42", top_k=2, ranking=Ranking.DENSE)
    assert coords(plain)[0] == (1.0,)
    boosted = service.hybrid_recall(NS, "kubernetes operators", terms=["K-42"], top_k=2, exact=True)
    assert coords(boosted) == [(2.0,), (1.0,)]
    # second by cosine, first in the lexical leg (its weight doubled by the boost); the other first by cosine
    assert [s.score for s in boosted] == [1 / 62 + 2 / 61, 1 / 61]


def test_coordinate_range_uses_every_component(service: MemoryService) -> None:
    put(service, (1.0, 1.0, 1.0, 1.0), "inside")
    put(service, (1.0, 1.0, 1.0, 9.0), "outside on the fourth")
    put(service, (1.0, 1.0), "other dimension")
    found = service.coordinate_range(NS, (0.0, 0.0, 0.0, 0.0), (2.0, 2.0, 2.0, 2.0))
    assert found == [(1.0, 1.0, 1.0, 1.0)]
    with pytest.raises(InvalidInput):
        service.coordinate_range(NS, (0.0,), (1.0, 1.0))
    with pytest.raises(InvalidInput):
        service.coordinate_range(NS, (2.0,), (1.0,))


def test_bulk_stores_valid_items_and_reports_invalid(service: MemoryService) -> None:
    result = service.store_many(
        NS,
        [
            NewMemory((1.0,), {"text": "ok"}),
            InvalidInput("coordinate is bad"),
            NewMemory((2.0,), {"text": float("nan")}),
            NewMemory((3.0,), {"text": "also ok"}),
        ],
    )
    assert [item.ok for item in result.items] == [True, False, False, True]
    assert result.stored == 2
    assert service.stats(NS).total_memories == 2


def test_graph_links_neighbors_paths(service: MemoryService) -> None:
    for position in range(4):
        put(service, (float(position),), f"node {position}")
    service.link(NS, (0.0,), (3.0,), "related", 10.0)
    service.link(NS, (0.0,), (1.0,), "related", 1.0)
    service.link(NS, (1.0,), (2.0,), "causes", 1.0)
    service.link(NS, (2.0,), (3.0,), "related", 1.0)
    assert service.shortest_path(NS, (0.0,), (3.0,)) == [(0.0,), (1.0,), (2.0,), (3.0,)]
    assert service.shortest_path(NS, (0.0,), (3.0,), link_type="related") == [(0.0,), (3.0,)]
    assert service.shortest_path(NS, (3.0,), (0.0,)) == []
    strongest = service.neighbors(NS, (0.0,), limit=1)
    assert [link.target for link in strongest] == [(3.0,)]
    assert [link.target for link in service.neighbors(NS, (1.0,), link_type="causes")] == [(2.0,)]
    with pytest.raises(NotFound):
        service.link(NS, (0.0,), (9.0,))
    with pytest.raises(NotFound):
        service.shortest_path(NS, (9.0,), (0.0,))
    with pytest.raises(InvalidInput):
        service.link(NS, (0.0,), (1.0,), weight=-1.0)


def test_graph_is_per_namespace(service: MemoryService) -> None:
    service.store_memory("a", NewMemory((1.0,), {"text": "x"}))
    service.store_memory("a", NewMemory((2.0,), {"text": "y"}))
    service.store_memory("b", NewMemory((1.0,), {"text": "x"}))
    service.link("a", (1.0,), (2.0,))
    assert service.neighbors("b", (1.0,)) == []
    with pytest.raises(NotFound):
        service.link("b", (1.0,), (2.0,))


def test_export_import_round_trip(service: MemoryService) -> None:
    put(service, (1.0,), "jazz piano", importance=0.9)
    put(service, (2.0,), "sailing boats")
    service.link(NS, (1.0,), (2.0,), "related", 2.5)
    lines = [json.dumps(r) for r in service.export_records(NS)]
    report = service.import_records(
        "copy", parse_ndjson([*lines, "not json", '{"kind": "link", "from": [1], "to": [7]}'])
    )
    assert (report.memories, report.links) == (2, 1)
    assert len(report.errors) == 2
    assert report.errors[0].startswith("line 4:")
    assert service.get("copy", (1.0,)).importance == 0.9
    assert [link.weight for link in service.neighbors("copy", (1.0,))] == [2.5]
    assert coords(service.recall("copy", "jazz piano", top_k=1)) == [(1.0,)]


def test_importance_is_normalised() -> None:
    from somafractalmemory.core.models import normalise_importance

    assert normalise_importance(7) == 1.0
    assert normalise_importance(-1) == 0.0
    assert normalise_importance(0.25) == 0.25
    assert normalise_importance("high") == 0.5
    assert normalise_importance(float("inf")) == 0.5


def test_access_counts_grow_on_recall(service: MemoryService) -> None:
    put(service, (1.0,), "jazz piano")
    service.recall(NS, "jazz", top_k=1)
    service.recall(NS, "jazz", top_k=1)
    assert service.store.get(NS, (1.0,)).access_count == 2  # type: ignore[union-attr]


def test_memory_limit_evicts_least_important(tmp_path: Path) -> None:
    limited = open_service(tmp_path, max_memories_per_namespace=2)
    try:
        limited.store_memory(NS, NewMemory((1.0,), {"text": "keep", "importance": 0.9}))
        limited.store_memory(NS, NewMemory((2.0,), {"text": "drop", "importance": 0.1}))
        limited.store_memory(NS, NewMemory((3.0,), {"text": "new", "importance": 0.5}))
        assert limited.stats(NS).total_memories == 2
        assert set(coords(limited.recall(NS, "keep drop new", top_k=5))) == {(1.0,), (3.0,)}
    finally:
        close_service(limited)


def test_everything_survives_reopening(tmp_path: Path) -> None:
    first = open_service(tmp_path)
    put(first, (1.0,), "kubernetes operators")
    put(first, (2.0,), "chocolate cake")
    first.link(NS, (1.0,), (2.0,))
    first.delete(NS, (2.0,))
    put(first, (3.0,), "sailing boats")
    close_service(first)
    second = open_service(tmp_path)
    try:
        assert coords(second.recall(NS, "kubernetes operators", top_k=5)) == [(1.0,), (3.0,)]
        assert second.stats(NS).total_memories == 2
        assert second.neighbors(NS, (1.0,)) == []
    finally:
        close_service(second)


def test_invalid_queries_are_rejected(service: MemoryService) -> None:
    for bad in ("", "   "):
        with pytest.raises(InvalidInput):
            service.recall(NS, bad)
    for top_k in (0, 1001, True):
        with pytest.raises(InvalidInput):
            service.recall(NS, "x", top_k=top_k)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        service.store_memory(NS, NewMemory((1.0,), {"a": [1.0, float("inf")]}))


def test_substring_search_treats_like_wildcards_literally(service: MemoryService) -> None:
    put(service, (1.0,), "progress 100% done_now")
    put(service, (2.0,), "progress 1000 donexnow")
    assert coords_of(service.keyword_search(NS, "100%", exact=False)) == [(1.0,)]
    assert coords_of(service.keyword_search(NS, "done_now", exact=False)) == [(1.0,)]
    assert coords_of(service.keyword_search(NS, "DONE_NOW", exact=False)) == [(1.0,)]
