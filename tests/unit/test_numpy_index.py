from pathlib import Path

import numpy as np

from somafractalmemory.adapters.numpy_index import INITIAL_CAPACITY, NumpyIndex
from somafractalmemory.core.filters import parse_filters
from somafractalmemory.core.models import MemoryType, VectorPoint

DIMS = 16


def point(n: int, vector: np.ndarray, kind: MemoryType = MemoryType.EPISODIC) -> VectorPoint:
    return VectorPoint("ns", (float(n),), vector, kind, {"n": n, "even": n % 2 == 0})


def unit(seed: int) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(DIMS).astype(np.float32)
    return vector / np.linalg.norm(vector)


def brute_force(vectors: dict[int, np.ndarray], query: np.ndarray, k: int) -> list[tuple[float, ...]]:
    ranked = sorted(vectors, key=lambda n: -float(vectors[n] @ query))
    return [(float(n),) for n in ranked[:k]]


def test_matches_brute_force_through_growth_and_deletes(tmp_path: Path) -> None:
    index = NumpyIndex(tmp_path / "v.sqlite", DIMS)
    vectors = {n: unit(n) for n in range(INITIAL_CAPACITY * 2 + 10)}
    index.upsert([point(n, v) for n, v in vectors.items()])
    removed = list(range(0, len(vectors), 3))
    index.delete("ns", [(float(n),) for n in removed])
    for n in removed:
        del vectors[n]
    query = unit(99_999)
    hits = index.search("ns", query, top_k=10, memory_type=None, conditions=())
    assert [h.coordinate for h in hits] == brute_force(vectors, query, 10)
    assert hits[0].score == np.float32(vectors[int(hits[0].coordinate[0])] @ query)


def test_filters_and_types_apply_inside_the_query(tmp_path: Path) -> None:
    index = NumpyIndex(tmp_path / "v.sqlite", DIMS)
    index.upsert(
        [point(n, unit(n), MemoryType.SEMANTIC if n < 5 else MemoryType.EPISODIC) for n in range(500)]
    )
    query = unit(1234)
    odd = index.search("ns", query, top_k=20, memory_type=None, conditions=parse_filters({"even": False}))
    assert len(odd) == 20 and all(int(h.coordinate[0]) % 2 == 1 for h in odd)
    semantic = index.search("ns", query, top_k=20, memory_type=MemoryType.SEMANTIC, conditions=())
    assert sorted(h.coordinate for h in semantic) == [(float(n),) for n in range(5)]
    rare = index.search(
        "ns", query, top_k=3, memory_type=None, conditions=parse_filters({"n": {"$gte": 498}})
    )
    assert sorted(h.coordinate for h in rare) == [(498.0,), (499.0,)]


def test_reupsert_replaces_and_state_survives_reopening(tmp_path: Path) -> None:
    index = NumpyIndex(tmp_path / "v.sqlite", DIMS)
    index.upsert([point(1, unit(1)), point(2, unit(2))])
    index.upsert([point(1, unit(2))])
    index.delete("ns", [(2.0,)])
    index.close()
    reopened = NumpyIndex(tmp_path / "v.sqlite", DIMS)
    hits = reopened.search("ns", unit(2), top_k=5, memory_type=None, conditions=())
    assert [h.coordinate for h in hits] == [(1.0,)]
    assert abs(hits[0].score - 1.0) < 1e-5
    assert reopened.search("other", unit(2), top_k=5, memory_type=None, conditions=()) == []
