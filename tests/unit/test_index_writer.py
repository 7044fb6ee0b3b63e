"""The embedded default's vector index written behind the store (issue 15): reads wait for the writes
handed over before them, writes keep their order, the journal is marked applied only through what the
index holds, a refused write is reported and replayed at the next start, and close drains."""

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from somafractalmemory.adapters.numpy_index import NumpyIndex
from somafractalmemory.adapters.sqlite_store import SQLiteStore
from somafractalmemory.core import index_writer
from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.errors import BackendUnavailable
from somafractalmemory.core.filters import parse_filters
from somafractalmemory.core.index_recovery import IndexRecovery, RecoveryState
from somafractalmemory.core.index_writer import IndexWriter
from somafractalmemory.core.indexing import THREADED_AT
from somafractalmemory.core.models import Memory, MemoryType, VectorPoint
from somafractalmemory.core.service import MemoryService, NewMemory
from somafractalmemory.embedding.hashing import HashingEmbedder
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import DOCUMENT_FILE, build_runtime

NS = "writer"
DIMS = 8
QUERY = np.ones(DIMS, dtype=np.float32) / np.sqrt(DIMS)


class GatedIndex(NumpyIndex):
    """A real index whose writes wait at a gate (open unless closed by the test), and which can be told
    to refuse them."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, DIMS)
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Semaphore(0)
        self.refusing = False

    def upsert(self, points: Sequence[VectorPoint]) -> None:
        self.entered.release()
        self.gate.wait()
        if self.refusing:
            raise OSError("disk full")
        super().upsert(points)


def point(n: int, namespace: str = NS) -> VectorPoint:
    return VectorPoint(namespace, (float(n),), QUERY, MemoryType.EPISODIC, {"n": n})


def handed(n: int) -> list[VectorPoint]:
    """A write large enough to be handed over: point ``n`` and filler points of another namespace."""
    return [point(n), *(point(i, "filler") for i in range(THREADED_AT - 1))]


def memory(n: int) -> Memory:
    return Memory(NS, (float(n),), {"n": n}, MemoryType.EPISODIC, 0.5, 1.0, 1.0)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    opened = SQLiteStore(tmp_path / "memories.sqlite")
    yield opened
    opened.close()


@pytest.fixture
def gated(tmp_path: Path) -> GatedIndex:
    return GatedIndex(tmp_path / "vectors.sqlite")


def found(index: IndexWriter) -> set[Coordinate]:
    return {hit.coordinate for hit in index.search(NS, QUERY, top_k=100, memory_type=None, conditions=())}


def test_at_most_two_writes_wait() -> None:
    assert index_writer.WRITES_AHEAD == 2


def test_a_search_waits_for_the_writes_handed_over_before_it(store: SQLiteStore, gated: GatedIndex) -> None:
    writer = IndexWriter(gated, store)
    try:
        gated.gate.clear()
        writer.upsert(handed(1))
        assert gated.entered.acquire(timeout=10)  # the write is in the index's hands, held at the gate
        answers: list[set[Coordinate]] = []
        searching = threading.Thread(target=lambda: answers.append(found(writer)))
        searching.start()
        searching.join(0.3)
        assert searching.is_alive() and answers == []  # still waiting for the write
        gated.gate.set()
        searching.join(10)
        assert answers == [{(1.0,)}]
        assert writer.vectors(NS, [(1.0,)]).shape == (1, DIMS)
    finally:
        writer.close()


def test_reading_vectors_waits_for_the_writes_handed_over_before_it(
    store: SQLiteStore, gated: GatedIndex
) -> None:
    writer = IndexWriter(gated, store)
    try:
        gated.gate.clear()
        writer.upsert(handed(1))
        assert gated.entered.acquire(timeout=10)
        shapes: list[tuple[int, ...]] = []
        reading = threading.Thread(target=lambda: shapes.append(writer.vectors(NS, [(1.0,)]).shape))
        reading.start()
        reading.join(0.3)
        assert reading.is_alive() and shapes == []
        gated.gate.set()
        reading.join(10)
        assert shapes == [(1, DIMS)]
    finally:
        writer.close()


def test_a_small_write_made_in_the_callers_thread_waits_for_the_writes_before_it(
    store: SQLiteStore, gated: GatedIndex
) -> None:
    """A delete of one memory is made in the caller's thread: had it not waited for the upsert handed
    over before it, the upsert would bring the deleted point back."""
    writer = IndexWriter(gated, store)
    try:
        gated.gate.clear()
        writer.upsert(handed(1))
        assert gated.entered.acquire(timeout=10)
        deleting = threading.Thread(target=lambda: writer.delete(NS, [(1.0,)]))
        deleting.start()
        deleting.join(0.3)
        assert deleting.is_alive()
        gated.gate.set()
        deleting.join(10)
        assert found(writer) == set()
    finally:
        writer.close()


def test_writes_reach_the_index_in_order_and_a_delete_is_never_overtaken(
    store: SQLiteStore, gated: GatedIndex
) -> None:
    writer = IndexWriter(gated, store)
    try:
        writer.upsert([*handed(1), point(2)])
        writer.delete(NS, [(1.0,), *((float(i),) for i in range(100, 100 + THREADED_AT))])
        writer.upsert(handed(3))
        assert found(writer) == {(2.0,), (3.0,)}
    finally:
        writer.close()


def test_a_third_write_waits_while_two_are_behind(store: SQLiteStore, gated: GatedIndex) -> None:
    writer = IndexWriter(gated, store)
    try:
        gated.gate.clear()
        writer.upsert(handed(1))  # taken by the writer, held at the gate
        writer.upsert(handed(2))
        third = threading.Thread(target=lambda: writer.upsert(handed(3)))
        third.start()
        third.join(0.3)
        assert third.is_alive()
        gated.gate.set()
        third.join(10)
        assert not third.is_alive()
        assert found(writer) == {(1.0,), (2.0,), (3.0,)}
    finally:
        writer.close()


def test_the_journal_is_marked_applied_only_through_what_the_index_holds(
    store: SQLiteStore, gated: GatedIndex
) -> None:
    writer = IndexWriter(gated, store)
    try:
        store.put_many([memory(1)])
        first = store.recorded()
        writer.upsert(handed(1))
        writer.settle()
        assert store._applied == first
        gated.gate.clear()
        store.put_many([memory(2)])
        second = store.recorded()
        assert second > first
        writer.upsert(handed(2))
        assert gated.entered.acquire(timeout=10)
        assert store._applied == first  # handed over, not in the index yet
        store.put_many([memory(3)])  # recorded after the hand-over: not in the index yet
        gated.gate.set()
        writer.settle()
        assert store._applied == second < store.recorded()
    finally:
        writer.close()


def test_a_write_is_marked_applied_while_the_next_one_is_in_its_transaction(store: SQLiteStore) -> None:
    """The index writer marks what it applied while the service writes the next batch: the mark must not
    wait for that transaction (it holds the file's lock until it commits), or the writer stands idle."""
    store.put_many([memory(1)])
    first = store.recorded()
    marked = threading.Event()

    def mark_from_another_thread() -> None:  # runs in the transaction of memory 2, before its commit
        threading.Thread(target=lambda: (store.applied(first), marked.set())).start()
        assert marked.wait(timeout=10), "applied() waited for the transaction in flight"

    store.put_many([memory(2)], before_commit=mark_from_another_thread)
    assert store._applied == first < store.recorded()


def test_a_refused_write_is_reported_and_the_journal_kept_for_the_next_start(
    store: SQLiteStore, gated: GatedIndex, caplog: pytest.LogCaptureFixture
) -> None:
    writer = IndexWriter(gated, store)
    try:
        store.put_many([memory(1)])
        writer.upsert(handed(1))
        writer.settle()
        applied = store._applied
        gated.refusing = True
        store.put_many([memory(2)])
        writer.upsert(handed(2))
        writer.settle()  # a refused write is done with too: nothing waits for it forever
        with pytest.raises(BackendUnavailable) as refused:
            writer.ping()
        assert refused.value.backend == "vector-index"
        assert str(refused.value) == (
            "vector-index is unavailable: a write failed (disk full); restart to replay it from the journal"
        )
        assert caplog.messages == [
            "the vector index refused a write; it is replayed from the journal at the next start"
        ]
        gated.refusing = False
        store.put_many([memory(3)])
        writer.upsert(handed(3))
        assert found(writer) == {(1.0,), (3.0,)}  # later writes still reach the index
        assert store._applied == applied  # but the journal keeps everything from the refused one on
        with pytest.raises(BackendUnavailable):
            writer.ping()
    finally:
        writer.close()


def test_close_puts_every_write_in_first(tmp_path: Path, store: SQLiteStore, gated: GatedIndex) -> None:
    writer = IndexWriter(gated, store)
    writer.upsert(handed(1))
    writer.upsert(handed(2))
    writer.close()
    with pytest.raises(BackendUnavailable) as closed:
        writer.upsert(handed(3))  # refused, rather than queued for a thread that is gone
    assert str(closed.value) == "vector-index is unavailable: the index is closed"
    writer.settle()
    reopened = NumpyIndex(tmp_path / "vectors.sqlite", DIMS)
    try:
        hits = reopened.search(NS, QUERY, top_k=10, memory_type=None, conditions=())
        assert {hit.coordinate for hit in hits} == {(1.0,), (2.0,)}
    finally:
        reopened.close()


def test_the_embedded_default_writes_its_index_behind_the_store(tmp_path: Path) -> None:
    runtime = build_runtime(Settings(data_dir=tmp_path / "data"), start_recovery=False)
    try:
        service = runtime.service
        assert isinstance(service.index, IndexWriter)
        assert service.journal is None  # the writer marks the journal, not the service
        assert service.index.name == service.index.inner.name
        service.store_many(NS, [NewMemory((float(n),), {"text": f"note {n}"}) for n in range(100)])
        hits = service.recall(NS, "note 42", top_k=1)
        assert hits[0].memory.coordinate == (42.0,)
    finally:
        runtime.close()


def test_a_write_the_index_never_took_is_replayed_at_the_next_start(tmp_path: Path) -> None:
    """A crash with writes still behind: the store committed them, the index never got them."""
    store = SQLiteStore(tmp_path / DOCUMENT_FILE)
    gated = GatedIndex(tmp_path / "vectors.sqlite")
    service = MemoryService(store, IndexWriter(gated, store), HashingEmbedder(DIMS))
    service.store_many(NS, [NewMemory((1.0,), {"text": "indexed"})])
    service.index.settle()
    gated.gate.clear()
    behind = [NewMemory((2.0,), {"text": "acknowledged, not indexed"})]
    behind += [NewMemory((float(n),), {"text": f"filler {n}"}) for n in range(100, 100 + THREADED_AT)]
    service.store_many(NS, behind)  # large enough to be handed over
    assert gated.entered.acquire(timeout=10) and gated.entered.acquire(timeout=10)
    # the process dies here: nothing is closed, the journal still lists the second write
    restarted_store = SQLiteStore(tmp_path / DOCUMENT_FILE)
    restarted = MemoryService(
        restarted_store, NumpyIndex(tmp_path / "vectors2.sqlite", DIMS), HashingEmbedder(DIMS)
    )
    recovery = IndexRecovery(restarted, restarted_store)
    pending = [entry.coordinates for entry in restarted_store.pending()]
    assert pending[-1] == tuple(m.coordinate for m in behind)  # (applied entries are cleared in batches)
    recovery.run()
    assert recovery.status.state is RecoveryState.DONE
    assert restarted_store.pending() == []
    hits = restarted.index.search(
        NS, restarted.embedder.embed(["acknowledged"])[0], top_k=5, memory_type=None, conditions=()
    )
    assert (2.0,) in {hit.coordinate for hit in hits}
    gated.gate.set()
    restarted_store.close()
    restarted.index.close()


def test_a_read_and_a_write_give_up_on_an_index_that_stopped_taking_writes(
    store: SQLiteStore, gated: GatedIndex, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert index_writer.WAIT_SECONDS == 60.0
    monkeypatch.setattr(index_writer, "WAIT_SECONDS", 0.2)
    writer = IndexWriter(gated, store)
    try:
        gated.gate.clear()
        writer.upsert(handed(1))
        writer.upsert(handed(2))
        stalled = r"the vector index took no write for 0 s"
        with pytest.raises(BackendUnavailable, match=stalled) as caught:
            writer.settle()
        assert caught.value.backend == "vector-index"
        with pytest.raises(BackendUnavailable, match=stalled):
            writer.upsert(handed(3))
        gated.gate.set()
        writer.settle()
        assert found(writer) == {(1.0,), (2.0,)}
    finally:
        writer.close()


def test_a_small_write_is_made_in_the_callers_thread_after_the_ones_handed_over(
    store: SQLiteStore, gated: GatedIndex
) -> None:
    assert THREADED_AT == 64
    writer = IndexWriter(gated, store)
    try:
        threads: list[str] = []
        upsert = gated.upsert

        def recording(points: Sequence[VectorPoint]) -> None:
            threads.append(threading.current_thread().name)
            upsert(points)

        gated.upsert = recording  # type: ignore[method-assign]
        writer.upsert(handed(1))
        store.put_many([memory(2)])
        writer.upsert([point(2), *(point(i, "small") for i in range(THREADED_AT - 2))])  # one below
        assert threads == ["index writer", threading.current_thread().name]
        assert store._applied == store.recorded()
        writer.delete(NS, [(1.0,)])
        assert found(writer) == {(2.0,)}
    finally:
        writer.close()


def test_a_search_keeps_its_type_and_conditions_and_the_thread_never_holds_the_process(
    store: SQLiteStore, gated: GatedIndex
) -> None:
    writer = IndexWriter(gated, store)
    try:
        assert writer._thread.daemon is True  # a write still behind at exit is in the journal
        semantic = VectorPoint(NS, (5.0,), QUERY, MemoryType.SEMANTIC, {"n": 5, "team": "a"})
        writer.upsert([*handed(1), semantic, point(6)])
        typed = writer.search(NS, QUERY, top_k=10, memory_type=MemoryType.SEMANTIC, conditions=())
        assert [hit.coordinate for hit in typed] == [(5.0,)]
        filtered = writer.search(NS, QUERY, top_k=10, memory_type=None, conditions=parse_filters({"n": 6}))
        assert [hit.coordinate for hit in filtered] == [(6.0,)]
    finally:
        writer.close()
