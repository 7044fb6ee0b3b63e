"""A fused recall runs its lexical leg on another thread while its dense leg searches (core/legs.py): each
leg here waits for the other to have started, which a recall running them one after the other never
lets happen (the leg run first would wait out its timeout)."""

import threading
import time
from collections.abc import Sequence
from contextvars import ContextVar
from typing import Any

import pytest

from somafractalmemory.core.audit import current_actor, set_actor
from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.errors import BackendUnavailable, InvalidInput
from somafractalmemory.core.filters import Condition, FilterOp
from somafractalmemory.core.fusion import Ranking
from somafractalmemory.core.legs import LEG_THREADS, LEGS, LegsSideBySide
from somafractalmemory.core.models import MemoryType, ScoredMemory, VectorHit
from somafractalmemory.core.service import MemoryService, NewMemory

NS = "agents"
MEETING_SECONDS = 5.0


class Meeting:
    """Both legs of one recall, each recording its thread and whether the other leg had started by the
    time it waited for it."""

    def __init__(self) -> None:
        self.dense_started = threading.Event()
        self.lexical_started = threading.Event()
        self.threads: dict[str, str] = {}
        self.met: dict[str, bool] = {}
        self.lexical_actor = ""
        self.lexical_finished = threading.Event()
        self.lexical_seconds = 0.0  # how long the lexical leg takes beyond the store's search


class Meets:
    """An adapter of the service (``inner``) whose leg takes part in the ``meeting``, and fails with
    ``failure`` when one is given; everything else is the adapter's own."""

    def __init__(self, inner: Any, meeting: Meeting, failure: Exception | None = None) -> None:
        self._inner = inner
        self._meeting = meeting
        self._failure = failure

    def __getattr__(self, name: str) -> object:
        return getattr(self._inner, name)


class IndexMeets(Meets):
    def search(self, namespace: str, vector: object, **options: object) -> list[VectorHit]:
        self._meeting.threads["dense"] = threading.current_thread().name
        self._meeting.dense_started.set()
        self._meeting.met["dense"] = self._meeting.lexical_started.wait(MEETING_SECONDS)
        if self._failure is not None:
            raise self._failure
        return self._inner.search(namespace, vector, **options)  # type: ignore[no-any-return]


class StoreMeets(Meets):
    def lexical_search(self, namespace: str, terms: Sequence[str], **options: object) -> list[ScoredMemory]:
        self._meeting.threads["lexical"] = threading.current_thread().name
        self._meeting.lexical_actor = current_actor()
        self._meeting.lexical_started.set()
        self._meeting.met["lexical"] = self._meeting.dense_started.wait(MEETING_SECONDS)
        try:
            time.sleep(self._meeting.lexical_seconds)
            if self._failure is not None:
                raise self._failure
            return self._inner.lexical_search(namespace, terms, **options)  # type: ignore[no-any-return]
        finally:
            self._meeting.lexical_finished.set()


def _stored(service: MemoryService) -> None:
    items = [
        NewMemory((float(n),), {"text": f"note {n} about the harbour crane {n % 7} and the tide"})
        for n in range(60)
    ]
    service.store_many(NS, items)


def _meeting_on(service: MemoryService, **failures: Exception) -> Meeting:
    meeting = Meeting()
    service.index = IndexMeets(service.index, meeting, failures.get("dense"))  # type: ignore[assignment]
    service.store = StoreMeets(service.store, meeting, failures.get("lexical"))  # type: ignore[assignment]
    return meeting


def _ranked(results: list[ScoredMemory]) -> list[tuple[Coordinate, float]]:
    return [(r.memory.coordinate, r.score) for r in results]


def test_a_fused_recall_runs_its_lexical_leg_beside_its_dense_leg(service: MemoryService) -> None:
    _stored(service)
    alone = service.recall(NS, "harbour crane 3", top_k=8)
    meeting = _meeting_on(service)
    set_actor("agent-7")
    beside = service.recall(NS, "harbour crane 3", top_k=8)
    assert meeting.met == {"dense": True, "lexical": True}
    assert meeting.threads["dense"] == threading.current_thread().name
    assert meeting.threads["lexical"].startswith("lexical leg")
    assert meeting.lexical_actor == "agent-7"  # the caller's context goes with the leg
    assert _ranked(beside) == _ranked(alone)
    assert len(beside) == 8


def test_a_hybrid_recall_runs_its_lexical_leg_beside_its_dense_leg(service: MemoryService) -> None:
    _stored(service)
    alone = service.hybrid_recall(NS, "the tide", terms=["crane 3"], top_k=6)
    meeting = _meeting_on(service)
    beside = service.hybrid_recall(NS, "the tide", terms=["crane 3"], top_k=6)
    assert meeting.met == {"dense": True, "lexical": True}
    assert meeting.threads["lexical"].startswith("lexical leg")
    assert _ranked(beside) == _ranked(alone)
    assert len(beside) == 6


@pytest.mark.parametrize("ranking", [Ranking.DENSE, Ranking.LEXICAL])
def test_a_recall_of_one_leg_runs_it_in_the_callers_thread(service: MemoryService, ranking: Ranking) -> None:
    _stored(service)
    meeting = _meeting_on(service)
    meeting.dense_started.set()
    meeting.lexical_started.set()  # nothing to wait for: only one leg runs
    assert len(service.recall(NS, "harbour crane", top_k=3, ranking=ranking)) == 3
    assert list(meeting.threads.values()) == [threading.current_thread().name]


def test_a_failure_of_the_lexical_leg_is_the_recalls(service: MemoryService) -> None:
    _stored(service)
    _meeting_on(service, lexical=BackendUnavailable("sqlite", "the word index is gone"))
    with pytest.raises(BackendUnavailable, match="the word index is gone"):
        service.recall(NS, "harbour crane", top_k=3)


def test_a_failure_of_the_dense_leg_waits_for_the_lexical_leg_then_is_the_recalls(
    service: MemoryService,
) -> None:
    _stored(service)
    meeting = _meeting_on(service, dense=BackendUnavailable("ann", "the vector file is gone"))
    meeting.lexical_seconds = 0.3
    with pytest.raises(BackendUnavailable, match="the vector file is gone"):
        service.recall(NS, "harbour crane", top_k=3)
    assert meeting.lexical_finished.is_set()  # nothing of the recall runs on after it


def test_a_recall_refused_for_its_input_starts_no_leg(service: MemoryService) -> None:
    meeting = _meeting_on(service)
    with pytest.raises(InvalidInput, match="query must be a non-empty string"):
        service.hybrid_recall(NS, "   ", top_k=3)
    with pytest.raises(InvalidInput, match="a term holds a NUL character"):
        service.hybrid_recall(NS, "tide", terms=["a\x00b"], top_k=3)
    assert meeting.threads == {}


def test_the_legs_answer_in_order_and_carry_the_context() -> None:
    legs = LegsSideBySide(threads=2)
    seen: ContextVar[str] = ContextVar("seen", default="unset")
    seen.set("the caller's")
    assert legs.run(lambda: "here", lambda: ("beside", seen.get(), threading.current_thread().name)) == (
        "here",
        ("beside", "the caller's", "lexical leg_0"),
    )


def test_with_no_thread_spare_both_legs_run_in_the_callers_thread() -> None:
    legs = LegsSideBySide(threads=1)
    release = threading.Event()
    taken = threading.Event()

    def holding() -> str:
        taken.set()
        release.wait(MEETING_SECONDS)
        return threading.current_thread().name

    first: list[tuple[str, str]] = []
    holder = threading.Thread(target=lambda: first.append(legs.run(lambda: "held", holding)))
    holder.start()
    assert taken.wait(MEETING_SECONDS)
    caller = threading.current_thread().name
    assert legs.run(lambda: caller, lambda: threading.current_thread().name) == (caller, caller)
    release.set()
    holder.join()
    assert first == [("held", "lexical leg_0")]
    # the thread is spare again as soon as the leg answered
    assert legs.run(lambda: "here", lambda: threading.current_thread().name) == ("here", "lexical leg_0")


def test_services_share_the_process_pool(service: MemoryService) -> None:
    """With every thread of the process's pool held (by another service's recalls, here by the pool's
    own callers), a recall runs both its legs in its own thread."""
    _stored(service)
    release = threading.Event()
    taken = threading.Semaphore(0)

    def holding() -> None:
        taken.release()
        release.wait(MEETING_SECONDS)

    holders = [threading.Thread(target=LEGS.run, args=(lambda: None, holding)) for _ in range(LEG_THREADS)]
    for holder in holders:
        holder.start()
    try:
        for _ in holders:
            assert taken.acquire(timeout=MEETING_SECONDS)
        meeting = _meeting_on(service)
        meeting.dense_started.set()
        meeting.lexical_started.set()  # in one thread the legs run one after the other
        assert len(service.recall(NS, "harbour crane", top_k=3)) == 3
        caller = threading.current_thread().name
        assert meeting.threads == {"dense": caller, "lexical": caller}
    finally:
        release.set()
        for holder in holders:
            holder.join()


def test_a_leg_that_fails_gives_its_thread_back() -> None:
    legs = LegsSideBySide(threads=1)

    def failing() -> str:
        raise BackendUnavailable("sqlite", "gone")

    with pytest.raises(BackendUnavailable, match="gone"):
        legs.run(lambda: "here", failing)
    assert legs.run(lambda: "here", lambda: threading.current_thread().name) == ("here", "lexical leg_0")


def test_recalls_at_once_share_the_pool(service: MemoryService) -> None:
    """More recalls than the pool's threads at once all answer the same (those finding no thread spare
    run both legs in their own)."""
    _stored(service)
    expected = _ranked(service.recall(NS, "harbour crane 5", top_k=5))
    answers: list[list[tuple[Coordinate, float]]] = []
    errors: list[BaseException] = []

    def recall() -> None:
        try:
            answers.append(_ranked(service.recall(NS, "harbour crane 5", top_k=5)))
        except BaseException as error:
            errors.append(error)

    callers = [threading.Thread(target=recall) for _ in range(LEG_THREADS * 3)]
    for caller in callers:
        caller.start()
    for caller in callers:
        caller.join()
    assert errors == []
    assert answers == [expected] * len(callers)


def test_the_memory_type_and_conditions_reach_both_legs(service: MemoryService) -> None:
    service.store_many(
        NS,
        [
            NewMemory((1.0,), {"text": "crane log", "site": "north"}, MemoryType.SEMANTIC),
            NewMemory((2.0,), {"text": "crane log", "site": "south"}, MemoryType.SEMANTIC),
            NewMemory((3.0,), {"text": "crane log", "site": "north"}),
        ],
    )
    found = service.recall(
        NS,
        "crane log",
        top_k=5,
        memory_type=MemoryType.SEMANTIC,
        conditions=(Condition("site", FilterOp.EQ, "north"),),
    )
    assert [r.memory.coordinate for r in found] == [(1.0,)]
