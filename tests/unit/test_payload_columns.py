"""The numpy index's filter columns decide exactly as ``filters.matches``, stay in step through writes,
swaps and growth, and a filter that nothing passes answers at once."""

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from somafractalmemory.adapters.numpy_index import NumpyIndex
from somafractalmemory.adapters.payload_columns import MAX_COLUMNS, PayloadColumns
from somafractalmemory.core.filters import matches, parse_filters
from somafractalmemory.core.models import MemoryType, VectorPoint

BIG = 2**60
VALUES: list[Any] = [
    None, True, False, 0, 1, 1.0, 2.5, -3, "a", "b", "", BIG, BIG + 1, [1], {"x": 1}, "1",
]  # fmt: skip
FILTERS: list[dict[str, Any]] = [
    {"f": "a"},
    {"f": 1},
    {"f": True},
    {"f": None},
    {"f": BIG + 1},
    {"f": ["a", 1, None]},
    {"f": {"$ne": "a"}},
    {"f": {"$nin": [1, "b"]}},
    {"f": {"$gt": 0}},
    {"f": {"$gte": 1, "$lt": 3}},
    {"f": {"$lte": BIG}},
    {"f": {"$gt": BIG}},
    {"f": {"$exists": True}},
    {"f": {"$exists": False}},
    {"f": "never stored"},
    {"g.h": 1},
    {"g.h": {"$exists": False}},
    {"f": "a", "g.h": {"$ne": 2}},
]


def payloads(count: int, seed: int) -> list[dict[str, Any]]:
    chooser = random.Random(seed)
    made: list[dict[str, Any]] = []
    for _ in range(count):
        payload: dict[str, Any] = {}
        if chooser.random() < 0.8:
            payload["f"] = chooser.choice(VALUES)
        if chooser.random() < 0.5:
            payload["g"] = {"h": chooser.choice(VALUES)} if chooser.random() < 0.8 else 7
        made.append(payload)
    return made


def texts(payloads: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(payload) for payload in payloads]


@pytest.mark.parametrize("raw", FILTERS, ids=[str(f) for f in FILTERS])
def test_columns_decide_as_the_filter_rule(raw: dict[str, Any]) -> None:
    rows = payloads(400, seed=len(str(raw)))
    conditions = parse_filters(raw)
    columns = PayloadColumns(len(rows))
    expected = [matches(p, conditions) for p in rows]
    assert columns.mask(conditions, texts(rows)).tolist() == expected
    # Kept in step by later writes: replace every row, then ask again from the same columns.
    replaced = payloads(400, seed=99)
    for row, payload in enumerate(replaced):
        columns.put(row, payload)
    assert columns.mask(conditions, texts(replaced)).tolist() == [matches(p, conditions) for p in replaced]


def test_columns_are_bounded_and_rebuilt_when_asked_again() -> None:
    rows = texts([{f"k{i}": i for i in range(MAX_COLUMNS + 3)} for _ in range(10)])
    columns = PayloadColumns(len(rows))
    for i in range(MAX_COLUMNS + 3):
        assert columns.mask(parse_filters({f"k{i}": i}), rows).sum() == 10
    assert len(columns._columns) == MAX_COLUMNS
    assert columns.mask(parse_filters({"k0": 0}), rows).sum() == 10


def unit(seed: int, dims: int = 16) -> np.ndarray:
    vector = np.random.default_rng(seed).standard_normal(dims).astype(np.float32)
    return vector / np.linalg.norm(vector)


def test_index_filters_follow_deletes_and_growth(tmp_path: Path) -> None:
    index = NumpyIndex(tmp_path / "v.sqlite", 16)
    query = unit(0)
    conditions = parse_filters({"tag": "keep"})
    index.upsert([VectorPoint("ns", (0.0,), unit(1), MemoryType.EPISODIC, {"tag": "keep"})])
    assert len(index.search("ns", query, top_k=5, memory_type=None, conditions=conditions)) == 1
    points = [
        VectorPoint(
            "ns", (float(n),), unit(n), MemoryType.EPISODIC, {"tag": "keep" if n % 100 == 0 else "drop"}
        )
        for n in range(1, 3000)
    ]
    index.upsert(points)  # grows past the initial capacity with the column already built
    index.delete("ns", [(float(n),) for n in range(0, 3000, 200)])  # rows swapped into the holes
    hits = index.search("ns", query, top_k=100, memory_type=None, conditions=conditions)
    assert sorted(int(h.coordinate[0]) for h in hits) == list(range(100, 3000, 200))


def test_a_filter_nothing_passes_finds_nothing_in_a_large_shard(tmp_path: Path) -> None:
    index = NumpyIndex(tmp_path / "v.sqlite", 16)
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((30_000, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index.upsert(
        [VectorPoint("ns", (float(n),), vectors[n], MemoryType.EPISODIC, {"n": n}) for n in range(30_000)]
    )
    query = unit(5)
    none = parse_filters({"n": {"$gt": 30_000}})
    assert index.search("ns", query, top_k=10, memory_type=None, conditions=none) == []
    last = parse_filters({"n": {"$gte": 29_995}})
    found = index.search("ns", query, top_k=10, memory_type=MemoryType.EPISODIC, conditions=last)
    assert sorted(int(h.coordinate[0]) for h in found) == list(range(29_995, 30_000))
