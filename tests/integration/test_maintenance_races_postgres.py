"""Maintenance, key rotation and bulk links on PostgreSQL with two clients on one database (each its own
connection pool, like two API pods, or `soma maintain` in a CronJob beside the API): a write of the other
client that lands between a pass's reading and its write is not lost. The other client's write is made
from inside the pass's decision, so it always lands in that window. SQLite, with `soma serve` as the
other process: tests/cli/test_maintain_while_serving.py."""

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from somafractalmemory.adapters.numpy_index import NumpyIndex
from somafractalmemory.adapters.postgres_store import PostgresStore
from somafractalmemory.core.audit import AuditAction, AuditEntry, AuditTrail
from somafractalmemory.core.consolidation import CONSOLIDATED_INTO, CONSOLIDATED_LINK, Consolidating
from somafractalmemory.core.decay import DecayRule, Forgetting
from somafractalmemory.core.field_encryption import FieldEncryption, new_key, parse_keys
from somafractalmemory.core.key_rotation import Rotation, rotate_namespace
from somafractalmemory.core.maintenance import Maintenance, MaintenancePolicy, MaintenanceSummary
from somafractalmemory.core.models import Link, Memory, MemoryType
from somafractalmemory.core.service import MemoryService, NewMemory
from somafractalmemory.embedding.hashing import HashingEmbedder
from support.interleaving import T0, Clock, hook_delete_if, hook_revise, hook_rewrite

NS = "ns"
OLD_KEY, NEW_KEY = new_key(), new_key()


def open_service(url: str, index: Path, *keys: str, evented: bool = False) -> MemoryService:
    store = PostgresStore.connect(url, evented=evented)
    store.migrate()
    encryption = FieldEncryption(frozenset({"secret"}), tuple(parse_keys(list(keys))))
    return MemoryService(store, NumpyIndex(index, 384), HashingEmbedder(384), encryption=encryption)


@pytest.fixture
def ours(postgres_url: str, tmp_path: Path) -> Iterator[MemoryService]:
    """The maintaining client, on its own clock, rotating to the new key."""
    service = open_service(postgres_url, tmp_path / "ours.sqlite", NEW_KEY, OLD_KEY)
    service.clock = Clock()
    yield service
    for backend in service.backends():
        backend.close()


@pytest.fixture
def other(postgres_url: str, tmp_path: Path) -> Iterator[MemoryService]:
    """The other client (an API pod), encrypting under the old key, on the wall clock."""
    service = open_service(postgres_url, tmp_path / "other.sqlite", OLD_KEY)
    yield service
    for backend in service.backends():
        backend.close()


def store(service: MemoryService, coord: float, payload: dict[str, object], at: float) -> None:
    service.clock.now = at  # type: ignore[attr-defined]
    service.store_memory(NS, NewMemory((coord,), payload))


def test_decay_decides_again_on_the_other_clients_write(ours: MemoryService, other: MemoryService) -> None:
    store(ours, 1.0, {"text": "as read", "scratch": "x"}, T0)
    ours.clock.now = T0 + 1000  # type: ignore[attr-defined]
    ran = hook_revise(
        ours, lambda _: other.store_memory(NS, NewMemory((1.0,), {"text": "pod B's", "scratch": "y"})), 1
    )
    done = Maintenance(ours, MaintenancePolicy(decay=(DecayRule(0, ("scratch",)),))).run([NS], dry_run=False)
    assert (ran, done) == ([1], MaintenanceSummary(namespaces=1, decayed=1, retried=1))
    assert ours.get(NS, (1.0,)).payload == {"text": "pod B's"}
    assert [v.payload for v in ours.versions(NS, (1.0,))] == [
        {"text": "pod B's", "scratch": "y"},
        {"text": "as read", "scratch": "x"},
    ]


def test_a_memory_the_other_client_keeps_writing_is_skipped(
    ours: MemoryService, other: MemoryService
) -> None:
    store(ours, 1.0, {"text": "as read", "scratch": "x"}, T0)
    ours.clock.now = T0 + 1000  # type: ignore[attr-defined]

    def write(reading: int) -> None:
        other.store_memory(NS, NewMemory((1.0,), {"text": f"write {reading}", "scratch": "y"}))

    ran = hook_revise(ours, write, 99)
    done = Maintenance(ours, MaintenancePolicy(decay=(DecayRule(0, ("scratch",)),))).run([NS], dry_run=False)
    assert (ran, done) == ([1, 2, 3], MaintenanceSummary(namespaces=1, retried=2, skipped=1))
    assert ours.get(NS, (1.0,)).payload == {"text": "write 3", "scratch": "y"}


def test_forgetting_spares_a_memory_the_other_client_made_important(
    ours: MemoryService, other: MemoryService
) -> None:
    store(ours, 1.0, {"text": "low", "importance": 0.1}, T0)
    ours.clock.now = T0 + 1000  # type: ignore[attr-defined]
    ran = hook_delete_if(ours, lambda: other.set_importance(NS, (1.0,), 0.9))
    done = Maintenance(ours, MaintenancePolicy(forgetting=Forgetting(0.5, 0))).run([NS], dry_run=False)
    assert (ran, done) == ([1], MaintenanceSummary(namespaces=1, retried=1))
    assert ours.get(NS, (1.0,)).importance == 0.9


def test_consolidation_summarises_the_source_as_the_other_client_rewrote_it(
    ours: MemoryService, other: MemoryService
) -> None:
    store(ours, 1.0, {"text": "first"}, T0)
    store(ours, 2.0, {"text": "second"}, T0 + 1)
    ours.clock.now = T0 + 1000  # type: ignore[attr-defined]
    hook_revise(ours, lambda _: other.store_memory(NS, NewMemory((2.0,), {"text": "second, fixed"})), 1)
    done = Maintenance(ours, MaintenancePolicy(consolidating=Consolidating(100))).run([NS], dry_run=False)
    assert done == MaintenanceSummary(namespaces=1, consolidated=2, created=1, retried=1)
    semantic = tuple(ours.get(NS, (2.0,)).payload[CONSOLIDATED_INTO])
    assert ours.get(NS, semantic).payload["texts"] == ["first", "second, fixed"]
    assert [(link.target, link.link_type) for link in ours.neighbors(NS, semantic)] == [
        ((1.0,), CONSOLIDATED_LINK),
        ((2.0,), CONSOLIDATED_LINK),
    ]
    linked = [(e.coordinate, e.target) for e in ours.audit(NS) if e.action is AuditAction.LINK]
    assert sorted(linked) == [(semantic, (1.0,)), (semantic, (2.0,))]


def test_rotation_rotates_the_other_clients_write_and_the_version_it_kept(
    ours: MemoryService, other: MemoryService
) -> None:
    other.store_memory(NS, NewMemory((1.0,), {"text": "one", "secret": "as read"}))
    before = ours.store.get(NS, (1.0,))
    audit_before = ours.audit(NS)
    written: list[Memory] = []
    ran = hook_rewrite(
        ours,
        lambda: written.append(
            other.store_memory(NS, NewMemory((1.0,), {"text": "one", "secret": "meanwhile"}))
        ),
    )
    rotation = rotate_namespace(ours, NS)
    assert (ran, rotation) == ([1], Rotation(memories=1, memories_rotated=1, versions_rotated=1, retried=1))
    new_only = FieldEncryption(frozenset({"secret"}), tuple(parse_keys([NEW_KEY])))
    after = ours.store.get(NS, (1.0,))
    assert after is not None and before is not None
    assert new_only.memory(after).payload == {"text": "one", "secret": "meanwhile"}
    assert (after.created_at, after.updated_at) == (before.created_at, written[0].updated_at)  # kept
    assert [new_only.open(v.payload, "v")["secret"] for v in ours.store.versions(NS, (1.0,))] == ["as read"]
    audit_after = ours.audit(NS)
    assert ([e.action for e in audit_after[:1]], audit_after[1:]) == ([AuditAction.STORE], audit_before)
    assert rotate_namespace(ours, NS) == Rotation(memories=1, versions=1)


def test_a_conditional_write_that_lost_writes_nothing_not_even_its_outbox_event(
    postgres_url: str, tmp_path: Path
) -> None:
    service = open_service(postgres_url, tmp_path / "v.sqlite", OLD_KEY, evented=True)
    store_ = service.store
    try:
        first = Memory(NS, (1.0,), {"text": "a"}, MemoryType.EPISODIC, 0.5, 10.0, 10.0)
        store_.put_many([first])
        later = Memory(NS, (1.0,), {"text": "b"}, MemoryType.EPISODIC, 0.5, 10.0, 20.0)
        trail = AuditTrail([AuditEntry(20.0, "test", AuditAction.DECAY, NS, (1.0,))], 100)
        with psycopg.connect(postgres_url) as conn:
            events = conn.execute("SELECT count(*) FROM soma_outbox").fetchone()
        assert store_.put_if_unchanged(NS, [later], {(1.0,): 9.0}, keep_versions=5, audit=trail) == [(1.0,)]
        assert store_.put_if_unchanged(NS, [later], {(2.0,): 10.0}) == [(2.0,)]  # gone counts as changed
        with psycopg.connect(postgres_url) as conn:
            assert conn.execute("SELECT count(*) FROM soma_outbox").fetchone() == events
        assert (
            store_.get(NS, (1.0,)),
            store_.versions(NS, (1.0,)),
            store_.audit_entries(NS, None, 10, None),
        ) == (
            first,
            [],
            [],
        )
        assert store_.put_if_unchanged(NS, [later], {(1.0,): 10.0}, keep_versions=5, audit=trail) == []
        assert store_.get(NS, (1.0,)) == later
        assert [v.payload for v in store_.versions(NS, (1.0,))] == [{"text": "a"}]
        assert [e.action for e in store_.audit_entries(NS, None, 10, None)] == [AuditAction.DECAY]
        store_.add_links([Link(NS, (1.0,), (1.0,), "self", 1.0, 30.0)])
        assert store_.delete(NS, (1.0,), if_updated_at=10.0) is False
        assert store_.neighbors(NS, (1.0,), None, None) == [Link(NS, (1.0,), (1.0,), "self", 1.0, 30.0)]
        assert store_.delete(NS, (1.0,), if_updated_at=20.0) is True
        assert store_.get(NS, (1.0,)) is None
    finally:
        for backend in service.backends():
            backend.close()
