"""The Qdrant vector index through qdrant-client's local mode (the same adapter code as against a server)."""

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from somafractalmemory.adapters.qdrant_index import QdrantIndex, collection_name, point_id
from somafractalmemory.core.filters import matches, parse_filters
from somafractalmemory.core.models import MemoryType, VectorPoint

DIMS = 8
NS = "ns"


def unit(seed: int) -> np.ndarray[Any, np.dtype[np.float32]]:
    vector = np.random.default_rng(seed).normal(size=DIMS).astype(np.float32)
    return vector / np.linalg.norm(vector)


def point(
    i: int,
    payload: dict[str, Any] | None = None,
    memory_type: MemoryType = MemoryType.EPISODIC,
    namespace: str = NS,
) -> VectorPoint:
    return VectorPoint(namespace, (float(i),), unit(i), memory_type, payload or {"i": i})


@pytest.fixture
def index() -> QdrantIndex:
    return QdrantIndex.connect(path=":memory:", dimensions=DIMS)


def search(
    index: QdrantIndex,
    query: Any,
    top_k: int = 10,
    memory_type: MemoryType | None = None,
    filters: dict[str, Any] | None = None,
    namespace: str = NS,
) -> list[tuple[float, ...]]:
    hits = index.search(
        namespace, query, top_k=top_k, memory_type=memory_type, conditions=parse_filters(filters)
    )
    return [hit.coordinate for hit in hits]


def test_collection_is_named_by_dimension_and_distance_and_created_once(tmp_path: Path) -> None:
    first = QdrantIndex.connect(path=str(tmp_path), dimensions=DIMS)
    first.ping()
    assert first.collection == collection_name(DIMS, "cosine") == "soma_8_cosine"
    first.upsert([point(1)])
    first.close()
    reopened = QdrantIndex.connect(path=str(tmp_path), dimensions=DIMS)
    assert search(reopened, unit(1)) == [(1.0,)]
    reopened.close()


def test_point_ids_are_deterministic_per_namespace_and_coordinate() -> None:
    assert point_id("a", (1.0, 2.0)) == point_id("a", (1, 2.0))
    assert point_id("a", (1.0, 2.0)) != point_id("b", (1.0, 2.0))
    assert point_id("a", (1.0, 2.0)) != point_id("a", (2.0, 1.0))


def test_nearest_first_with_cosine_scores(index: QdrantIndex) -> None:
    index.upsert([point(i) for i in range(20)])
    hits = index.search(NS, unit(7), top_k=3, memory_type=None, conditions=())
    assert hits[0].coordinate == (7.0,)
    assert hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_reupsert_replaces_and_delete_removes(index: QdrantIndex) -> None:
    index.upsert([point(1), point(2)])
    index.upsert([point(1, {"i": "again"}), point(1, {"i": "again"})])
    assert search(index, unit(1)) == [(1.0,), (2.0,)]
    index.delete(NS, [(1.0,), (99.0,)])
    assert search(index, unit(1)) == [(2.0,)]
    index.delete(NS, [])


def test_namespaces_and_types_are_separate(index: QdrantIndex) -> None:
    index.upsert([point(1), point(2, memory_type=MemoryType.SEMANTIC), point(3, namespace="other")])
    assert sorted(search(index, unit(1))) == [(1.0,), (2.0,)]
    assert search(index, unit(1), memory_type=MemoryType.SEMANTIC) == [(2.0,)]
    assert search(index, unit(1), namespace="other") == [(3.0,)]
    index.delete("other", [(1.0,)])
    assert len(search(index, unit(1))) == 2


def test_a_filtered_search_returns_top_k_when_enough_points_match(index: QdrantIndex) -> None:
    """The 5 matching points are the least similar of 300: filtering after a plain top-k would miss them."""
    query = unit(0)
    index.upsert([point(i, {"tag": "rare" if i >= 295 else "common"}) for i in range(300)])
    for filters in ({"tag": "rare"}, {"tag": {"$ne": "common"}}, {"tag": {"$nin": ["common"]}}):
        assert sorted(search(index, query, top_k=5, filters=filters)) == [
            (float(i),) for i in range(295, 300)
        ]


# Filters pushed into Qdrant must agree with the core's evaluator on every payload shape.
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([1.0, 2.5, -0.5]),
    st.sampled_from(["a", "b", "A"]),
    st.lists(st.sampled_from(["a", "b", 1, 2]), max_size=3),
    st.fixed_dictionaries({"x": st.sampled_from([1, "a", None])}),
)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from([1.0, 2.5, "a", "b"]))
FIELDS = st.sampled_from(["f", "g", "f.x"])
FILTERS = st.dictionaries(
    FIELDS,
    st.one_of(
        SCALARS,
        st.lists(SCALARS, max_size=3),
        st.dictionaries(st.sampled_from(["$eq", "$ne"]), SCALARS, min_size=1, max_size=1),
        st.dictionaries(st.sampled_from(["$in", "$nin"]), st.lists(SCALARS, max_size=3), min_size=1),
        st.dictionaries(st.sampled_from(["$gt", "$gte", "$lt", "$lte"]), st.integers(-3, 3), min_size=1),
        st.dictionaries(st.just("$exists"), st.booleans(), min_size=1, max_size=1),
    ),
    max_size=2,
)
PAYLOADS = st.lists(st.dictionaries(st.sampled_from(["f", "g"]), VALUES, max_size=2), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payloads=PAYLOADS, raw_filters=FILTERS)
def test_filtered_search_agrees_with_the_core_evaluator(
    payloads: list[dict[str, Any]], raw_filters: dict[str, Any]
) -> None:
    index = QdrantIndex.connect(path=":memory:", dimensions=DIMS)
    index.upsert([point(i, payload) for i, payload in enumerate(payloads)])
    conditions = parse_filters(raw_filters)
    expected = sorted((float(i),) for i, payload in enumerate(payloads) if matches(payload, conditions))
    found = index.search(NS, unit(0), top_k=len(payloads), memory_type=None, conditions=conditions)
    assert sorted(hit.coordinate for hit in found) == expected
    index.close()
