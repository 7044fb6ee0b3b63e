"""A fused recall reads from the store only the memories it answers: its dense leg's candidates are
checked on the store's key index (``DocumentStore.existing``), and only the fused ranking's first
``top_k`` are read (those the lexical leg read already are not read again)."""

from collections.abc import Sequence
from pathlib import Path

import pytest

from somafractalmemory.adapters.sqlite_store import EXISTING_KEYS, SQL_VARIABLE_CHUNK, SQLiteStore
from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.fusion import Ranking
from somafractalmemory.core.models import Memory, MemoryType, VectorPoint
from somafractalmemory.core.service import MemoryService, NewMemory, fusion_pool

NS = "agents"


class ReadsRecorded:
    """The service's real store, with the coordinates each ``get_many`` and ``existing`` was asked for;
    ``delete_after_existing`` deletes those memories right after ``existing`` answers (a delete that
    lands between the dense leg and the read of the fused ranking)."""

    def __init__(self, store: SQLiteStore) -> None:
        self._store = store
        self.read: list[list[Coordinate]] = []
        self.checked: list[list[Coordinate]] = []
        self.delete_after_existing: list[Coordinate] = []

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)

    def get_many(self, namespace: str, coordinates: Sequence[Coordinate]) -> dict[Coordinate, Memory]:
        self.read.append(list(coordinates))
        return self._store.get_many(namespace, coordinates)

    def existing(self, namespace: str, coordinates: Sequence[Coordinate]) -> set[Coordinate]:
        self.checked.append(list(coordinates))
        found = self._store.existing(namespace, coordinates)
        for coordinate in self.delete_after_existing:
            self._store.delete(namespace, coordinate)
        return found


@pytest.fixture
def recorded(service: MemoryService) -> ReadsRecorded:
    store = ReadsRecorded(service.store)  # type: ignore[arg-type]
    service.store = store  # type: ignore[assignment]
    return store


def test_existing_answers_the_stored_coordinates_of_the_namespace_only(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "memories.sqlite")
    try:
        stored = [
            Memory(NS, (float(n),), {"text": "x"}, MemoryType.EPISODIC, 0.5, 1.0, 1.0) for n in range(600)
        ]
        store.put_many([*stored, Memory("other", (9000.0,), {}, MemoryType.EPISODIC, 0.5, 1.0, 1.0)])
        store.delete(NS, (3.0,))
        asked = [(float(n),) for n in range(SQL_VARIABLE_CHUNK + 200)] + [(9000.0,)]  # two chunks
        assert store.existing(NS, asked) == {(float(n),) for n in range(600)} - {(3.0,)}
        assert store.existing("other", [(1.0,), (9000.0,)]) == {(9000.0,)}
        assert store.existing(NS, []) == set()
    finally:
        store.close()


def test_existing_reads_the_key_index_alone(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "memories.sqlite")
    try:
        plan = store._db.execute(
            "EXPLAIN QUERY PLAN " + EXISTING_KEYS.format(placeholders="?, ?"), (NS, "1.0", "2.0")
        ).fetchall()
        assert [row[3] for row in plan] == [
            "SEARCH memories USING COVERING INDEX sqlite_autoindex_memories_1 (namespace=? AND coord_key=?)"
        ]
    finally:
        store.close()


def test_fused_recall_checks_the_dense_pool_and_reads_only_what_it_answers(
    service: MemoryService, recorded: ReadsRecorded
) -> None:
    service.store_many(
        NS, [NewMemory((float(n),), {"text": f"kubernetes operator note {n}"}) for n in range(120)]
    )
    results = service.recall(NS, "kubernetes operator", top_k=3)
    assert len(results) == 3
    assert [len(asked) for asked in recorded.checked] == [fusion_pool(3)]  # one round: the pool, all stored
    answered = {r.memory.coordinate for r in results}
    read = [coordinate for asked in recorded.read for coordinate in asked]
    assert set(read) <= answered  # never a candidate the fusion dropped
    assert len(read) == len(set(read))


def test_a_dense_candidate_deleted_before_its_read_is_dropped(
    service: MemoryService, recorded: ReadsRecorded
) -> None:
    service.store_many(NS, [NewMemory((1.0,), {"text": "sailing boats"}), NewMemory((2.0,), {"text": "x"})])
    recorded.delete_after_existing = [(2.0,)]
    results = service.recall(NS, "sailing boats", top_k=5)
    assert [r.memory.coordinate for r in results] == [(1.0,)]
    assert recorded.read == [[(2.0,)]]  # (1.0,) came with the lexical leg, (2.0,) only from the dense one


def test_hybrid_recall_looks_past_index_points_whose_memory_is_gone(
    service: MemoryService, recorded: ReadsRecorded
) -> None:
    service.store_many(NS, [NewMemory((float(n),), {"text": f"sailing boats {n}"}) for n in range(10)])
    stale = service.embedder.embed(["sailing boats"])[0]
    service.index.upsert([VectorPoint(NS, (100.0 + n,), stale, MemoryType.EPISODIC, {}) for n in range(110)])
    results = service.hybrid_recall(NS, "sailing boats", top_k=5)
    assert len(results) == 5
    assert all(r.memory.coordinate[0] < 100 for r in results)
    # 110 points nearer than any memory: the pool of 50, then 100, hold none; the third round asks for 200
    # and finds the 10 memories among the 120 points.
    assert [len(asked) for asked in recorded.checked] == [50, 100, 120]
    assert recorded.read == []  # every memory answered came with the lexical leg


def test_a_later_round_answers_no_more_than_top_k(service: MemoryService) -> None:
    service.store_many(NS, [NewMemory((float(n),), {"text": f"sailing boats {n}"}) for n in range(10)])
    stale = service.embedder.embed(["sailing boats"])[0]
    service.index.upsert([VectorPoint(NS, (100.0 + n,), stale, MemoryType.EPISODIC, {}) for n in range(3)])
    # The first round's 5 hits hold 2 memories; the second's 10 hold 7, of which the first 5 are answered.
    results = service.recall(NS, "sailing boats", top_k=5, ranking=Ranking.DENSE)
    assert len(results) == 5
    assert all(r.memory.coordinate[0] < 100 for r in results)
