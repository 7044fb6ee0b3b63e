from pathlib import Path

import numpy as np
import pytest

from somafractalmemory.adapters.numpy_index import INITIAL_CAPACITY, NumpyIndex, Shard
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


def test_large_shards_search_by_sketch_then_rank_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from somafractalmemory.adapters import numpy_index

    monkeypatch.setattr(numpy_index, "EXACT_SEARCH_LIMIT", 500)
    monkeypatch.setattr(numpy_index, "MIN_CANDIDATES", 200)
    index = NumpyIndex(tmp_path / "v.sqlite", 64)
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((3000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index.upsert(
        [
            VectorPoint("ns", (float(n),), vectors[n], MemoryType.EPISODIC, {"even": n % 2 == 0})
            for n in range(3000)
        ]
    )
    found = 0
    queries = vectors[:20] + 0.3 * rng.standard_normal((20, 64)).astype(np.float32)
    for query in queries / np.linalg.norm(queries, axis=1, keepdims=True):
        hits = index.search("ns", query, top_k=10, memory_type=None, conditions=())
        exact = {(float(n),) for n in np.argsort(-(vectors @ query))[:10]}
        found += len({h.coordinate for h in hits} & exact)
        scores = [h.score for h in hits]
        assert scores == sorted(scores, reverse=True)
        assert (
            abs(scores[0] - float(vectors[int(hits[0].coordinate[0])] @ query)) < 1e-5
        )  # cosine, not the sketch
        filtered = index.search(
            "ns", query, top_k=10, memory_type=None, conditions=parse_filters({"even": True})
        )
        assert len(filtered) == 10 and all(int(h.coordinate[0]) % 2 == 0 for h in filtered)
    assert found / 200 >= 0.9


def test_rows_added_in_bulk_rebuild_the_filter_columns_from_their_source() -> None:
    texts = ['{"n":0}']
    shard = Shard(DIMS, sketch_words=0, payload_source=texts)
    point = VectorPoint("ns", (0.0,), unit(0), MemoryType.EPISODIC, {"n": 0})
    rows = shard.put_many([point], ['{"n":0}'], unit(0)[None, :], np.empty((1, 0)), np.array([100]))
    assert rows.tolist() == [0]
    assert shard.payloads == []  # the texts stay with their source
    first = shard.passing(None, parse_filters({"n": 0}))  # builds the column for "n"
    assert first is not None and np.flatnonzero(first).tolist() == [0]
    texts += [f'{{"n":{n}}}' for n in range(1, 2000)]
    shard.extend(
        [(float(n),) for n in range(1, 2000)],
        np.zeros(1999, dtype=np.int8),
        np.stack([unit(n) for n in range(1, 2000)]),
        np.arange(101, 2100),
    )
    assert shard.size == 2000 and len(shard.vectors) == 2048
    passing = shard.passing(None, parse_filters({"n": 1500}))
    assert passing is not None and np.flatnonzero(passing).tolist() == [1500]
    assert shard.row_of[(1500.0,)] == 1500
    hits = shard.search(unit(1234), np.empty(0, dtype=np.uint64), 1, None, ())
    assert [h.coordinate for h in hits] == [(1234.0,)]
    assert shard.ids[[0, 1, 1999]].tolist() == [100, 101, 2099]
    assert shard.remove((1.0,)) == 1  # the last row's point moves into the hole, with its id
    assert (shard.coordinates[1], int(shard.ids[1]), shard.size) == ((1999.0,), 2099, 1999)
    assert shard.remove((1999.0,)) == 1
    assert shard.remove((1997.0,)) == 1997  # the last row itself: nothing moves
    assert shard.remove((1.0,)) is None
    with pytest.raises(TypeError, match="only to a shard that reads its payloads from a file"):
        Shard(DIMS).extend([(1.0,)], np.zeros(1, dtype=np.int8), unit(1)[None, :], np.ones(1, dtype=np.int64))
