"""Maintenance passes on the embedded service: concurrent passes consolidate a window once, a write that
lands between a pass's reading and its change is not undone, and the rules' parsing and coordinates."""

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from somafractalmemory.core.consolidation import Consolidating, semantic_coordinate
from somafractalmemory.core.decay import DecayRule, Forgetting, parse_decay_rules
from somafractalmemory.core.maintenance import Maintenance, MaintenancePolicy, MaintenanceSummary
from somafractalmemory.core.models import Memory, MemoryType
from somafractalmemory.core.service import MemoryService, NewMemory

NS = "ns"
T0 = 1_000_000.0


class Clock:
    now = T0

    def __call__(self) -> float:
        return self.now


class Interleaved:
    """The store, with a write of another client landing once a pass has read the namespace."""

    def __init__(self, store: Any, write: Callable[[], None]) -> None:
        self._store, self._write = store, write

    def iter_memories(self, namespace: str) -> Iterator[Memory]:
        yield from self._store.iter_memories(namespace)
        self._write()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.fixture
def clocked(service: MemoryService) -> MemoryService:
    service.clock = Clock()
    return service


def store(service: MemoryService, coord: float, payload: dict[str, Any], at: float) -> None:
    service.clock.now = at  # type: ignore[attr-defined]
    service.store_memory(NS, NewMemory((coord,), payload))


def test_concurrent_passes_consolidate_a_window_once(clocked: MemoryService) -> None:
    for i in range(20):
        store(clocked, float(i), {"text": f"event {i}", "scratch": i}, T0 + i)
    clocked.clock.now = T0 + 1000  # type: ignore[attr-defined]
    policy = MaintenancePolicy((DecayRule(0, ("scratch",)),), None, Consolidating(100))
    results: list[MaintenanceSummary] = []

    def run() -> None:
        results.append(Maintenance(clocked, policy).run([NS], dry_run=False))

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.decayed for r in results) == 20
    assert (sum(r.consolidated for r in results), sum(r.created for r in results)) == (20, 1)
    assert clocked.stats(NS).semantic == 1
    assert Maintenance(clocked, policy).run([NS], dry_run=False) == MaintenanceSummary(namespaces=1)


def test_a_write_between_reading_and_forgetting_is_not_undone(clocked: MemoryService) -> None:
    store(clocked, 1.0, {"text": "a", "importance": 0.1}, T0)
    clocked.clock.now = T0 + 10  # type: ignore[attr-defined]
    clocked.store = Interleaved(clocked.store, lambda: clocked.set_importance(NS, (1.0,), 0.9))  # type: ignore[assignment]
    done = Maintenance(clocked, MaintenancePolicy(forgetting=Forgetting(0.5, 0))).run([NS], dry_run=False)
    assert done.forgotten == 0
    assert clocked.get(NS, (1.0,)).importance == 0.9


def test_a_write_between_reading_and_decaying_is_kept(clocked: MemoryService) -> None:
    store(clocked, 1.0, {"text": "a", "scratch": 1}, T0)
    clocked.clock.now = T0 + 10  # type: ignore[attr-defined]
    replace = lambda: clocked.store_memory(NS, NewMemory((1.0,), {"text": "b", "scratch": 2}))  # noqa: E731
    clocked.store = Interleaved(clocked.store, replace)  # type: ignore[assignment]
    done = Maintenance(clocked, MaintenancePolicy(decay=(DecayRule(5, ("scratch",)),))).run(
        [NS], dry_run=False
    )
    assert done.decayed == 1
    assert clocked.get(NS, (1.0,)).payload == {"text": "b"}  # the new content, decayed; "a" is not back


def test_a_window_whose_memories_changed_type_is_not_consolidated(clocked: MemoryService) -> None:
    store(clocked, 1.0, {"text": "a"}, T0)
    store(clocked, 2.0, {"text": "b"}, T0 + 1)
    clocked.clock.now = T0 + 100  # type: ignore[attr-defined]
    retype = lambda: clocked.store_memory(NS, NewMemory((2.0,), {"text": "b"}, MemoryType.SEMANTIC))  # noqa: E731
    clocked.store = Interleaved(clocked.store, retype)  # type: ignore[assignment]
    done = Maintenance(clocked, MaintenancePolicy(consolidating=Consolidating(100))).run([NS], dry_run=False)
    assert (done.consolidated, done.created) == (0, 0)


@pytest.mark.parametrize(
    ("raw", "rules"),
    [
        ("", ()),
        ("  ", ()),
        ("[]", ()),
        ('[{"after_seconds": 0, "drop": ["a", "b"]}]', (DecayRule(0.0, ("a", "b")),)),
        ([{"after_seconds": 1.5, "drop": ["a"]}], (DecayRule(1.5, ("a",)),)),
    ],
)
def test_decay_rules_parse(raw: Any, rules: tuple[DecayRule, ...]) -> None:
    assert parse_decay_rules(raw) == rules


RULE = "SOMA_DECAY_RULES[0]"
KEYS = f"{RULE}.drop must be a non-empty list of payload keys, got"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("[1]", f'{RULE} must be an object with exactly "after_seconds" and "drop", got 1'),
        (
            '[{"after_seconds": true, "drop": ["a"]}]',
            f"{RULE}.after_seconds must be a number of seconds of at least 0, got True",
        ),
        ('[{"after_seconds": 1, "drop": ["a", ""]}]', f"{KEYS} ['a', '']"),
        ('[{"after_seconds": 1, "drop": "a"}]', f"{KEYS} 'a'"),
        ("3", 'SOMA_DECAY_RULES must be a JSON list like [{"after_seconds": 86400, "drop": ["scratch"]}]'),
    ],
)
def test_bad_decay_rules_say_what_is_wrong(raw: str, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_decay_rules(raw)
    assert str(refused.value) == message


def test_the_semantic_coordinate_depends_on_the_window_and_the_sources_only() -> None:
    def memory(coord: float) -> Memory:
        return Memory(NS, (coord,), {}, MemoryType.EPISODIC, 0.5, T0, T0)

    first = semantic_coordinate(T0, T0 + 100, [memory(1), memory(2)])
    assert first == semantic_coordinate(T0, T0 + 100, [memory(2), memory(1)])
    assert first[:2] == (T0, T0 + 100) and 0 <= first[2] < 1
    assert first != semantic_coordinate(T0, T0 + 100, [memory(1), memory(3)])
