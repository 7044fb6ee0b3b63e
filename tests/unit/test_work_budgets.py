"""Each work budget bounds one request: beyond it a clear InvalidInput (400) and nothing written, or,
for keyword search, the matches among the most important candidates it examined."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from embedded_service import close_service

from somafractalmemory.adapters.memory_cache import MemoryCache
from somafractalmemory.adapters.numpy_index import NumpyIndex
from somafractalmemory.adapters.sqlite_store import SQLiteStore
from somafractalmemory.core.budget import WorkBudget
from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.service import MemoryService, NewMemory
from somafractalmemory.embedding.hashing import HashingEmbedder

NS = "budgets"
BUDGET = WorkBudget(bulk_items=100, batch_results=50, scan_rows=100)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[MemoryService]:
    opened = MemoryService(
        SQLiteStore(tmp_path / "m.sqlite", scan_rows=BUDGET.scan_rows),
        NumpyIndex(tmp_path / "v.sqlite", 384),
        HashingEmbedder(384),
        MemoryCache(),
        budget=BUDGET,
    )
    yield opened
    close_service(opened)


def items(count: int, text: str = "common word") -> list[NewMemory]:
    return [
        NewMemory((float(i),), {"text": f"{text} {i}", "importance": (i + 1) / (count + 1)})
        for i in range(count)
    ]


def test_a_bulk_beyond_the_budget_stores_nothing(service: MemoryService) -> None:
    with pytest.raises(InvalidInput) as refused:
        service.store_many(NS, items(101))
    assert str(refused.value) == (
        "101 items in one request is more than the budget of 100 (SOMA_MAX_BULK_ITEMS): "
        "split them into several requests"
    )
    assert service.stats(NS).total_memories == 0
    assert service.store_many(NS, items(100)).stored == 100


def test_a_batch_beyond_the_budget_is_refused() -> None:
    BUDGET.check_batch(5, 10)
    with pytest.raises(InvalidInput, match="5 queries of top_k 11 ask for 55 results"):
        BUDGET.check_batch(5, 11)


def test_keyword_search_examines_the_most_important_candidates_only(service: MemoryService) -> None:
    service.store_many(NS, items(100))
    service.store_many(
        NS, [NewMemory((float(i),), {"text": f"common word {i}", "importance": 0.0}) for i in range(100, 200)]
    )
    found = service.keyword_search(NS, "common", exact=False, top_k=1000)
    assert len(found) == 100
    assert {m.coordinate for m in found} == {(float(i),) for i in range(100)}


def test_a_range_holding_more_than_the_budget_is_refused(service: MemoryService) -> None:
    service.store_many(NS, items(100))
    assert len(service.coordinate_range(NS, (0.0,), (99.0,))) == 100
    service.store_many(NS, [NewMemory((100.0,), {"text": "one more"})])
    with pytest.raises(InvalidInput) as refused:
        service.coordinate_range(NS, (0.0,), (100.0,))
    assert str(refused.value) == "more than 100 memories lie in the box (SOMA_MAX_SCAN_ROWS): narrow it"


def test_a_path_search_following_more_links_than_the_budget_is_refused(service: MemoryService) -> None:
    service.store_many(NS, items(60))
    for i in range(59):
        service.link(NS, (float(i),), (float(i + 1),))
        service.link(NS, (float(i + 1),), (float(i),))
    assert len(service.shortest_path(NS, (0.0,), (10.0,))) == 11
    with pytest.raises(InvalidInput) as refused:
        service.shortest_path(NS, (0.0,), (59.0,))
    assert str(refused.value) == (
        "the path search: more than the budget of 100 rows to examine (SOMA_MAX_SCAN_ROWS); "
        "narrow the request"
    )
