"""Links in the PostgreSQL audit log (migration 7): appended in the link's transaction, naming the memory
it points to, listed in the log of either memory; through the service, attributed to the actor."""

from pathlib import Path

import pytest

from somafractalmemory.adapters.postgres_store import PostgresStore
from somafractalmemory.core.audit import AuditAction, AuditEntry, AuditTrail, set_actor
from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.models import Link, Memory, MemoryType
from somafractalmemory.core.service import NewMemory
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import build_runtime

NS = "ns"


def memory(coord: tuple[float, ...]) -> Memory:
    return Memory(NS, coord, {"text": "x"}, MemoryType.EPISODIC, 0.5, 1.0, 1.0)


def link_trail(source: tuple[float, ...], target: tuple[float, ...]) -> AuditTrail:
    return AuditTrail([AuditEntry(7.0, "token:abc", AuditAction.LINK, NS, source, target=target)], 100)


def test_a_link_appends_its_entry_naming_both_memories(store: PostgresStore) -> None:
    store.put_many([memory((1.0,)), memory((2.0,)), memory((3.0,))])
    store.add_link(Link(NS, (1.0,), (2.0,), "cites", 0.5, 7.0), audit=link_trail((1.0,), (2.0,)))
    store.add_link(Link(NS, (3.0,), (1.0,), "cites", 0.5, 7.0), audit=link_trail((3.0,), (1.0,)))
    store.add_link(Link(NS, (2.0,), (3.0,), "cites", 0.5, 7.0))  # no trail: nothing logged
    assert store.audit_entries(NS, None, 10, None) == [
        AuditEntry(7.0, "token:abc", AuditAction.LINK, NS, (3.0,), entry=2, target=(1.0,)),
        AuditEntry(7.0, "token:abc", AuditAction.LINK, NS, (1.0,), entry=1, target=(2.0,)),
    ]
    assert [e.entry for e in store.audit_entries(NS, (1.0,), 10, None)] == [2, 1]
    assert [e.entry for e in store.audit_entries(NS, (2.0,), 10, None)] == [1]
    assert [e.entry for e in store.audit_entries(NS, (1.0,), 10, 2)] == [1]


def test_a_link_the_database_refuses_logs_nothing(store: PostgresStore) -> None:
    store.put_many([memory((1.0,)), memory((2.0,))])
    with pytest.raises(InvalidInput):
        store.add_link(Link(NS, (1.0,), (2.0,), "nul \x00", 1.0, 7.0), audit=link_trail((1.0,), (2.0,)))
    assert store.audit_entries(NS, None, 10, None) == []
    assert store.neighbors(NS, (1.0,), None, None) == []


def test_the_service_logs_a_link_by_its_actor(postgres_url: str, tmp_path: Path) -> None:
    runtime = build_runtime(Settings(postgres_url=postgres_url, data_dir=tmp_path))
    try:
        service = runtime.service
        set_actor("token:0123456789abcdef")
        for coord in ((1.0,), (2.0,)):
            service.store_memory("team", NewMemory(coord, {"text": "x"}, MemoryType.EPISODIC))
        service.link("team", (1.0,), (2.0,), "cites", 0.5)
        found = service.audit("team", (2.0,), 10, None)
        assert [(e.action, e.actor, e.coordinate, e.target) for e in found] == [
            (AuditAction.LINK, "token:0123456789abcdef", (1.0,), (2.0,)),
            (AuditAction.STORE, "token:0123456789abcdef", (2.0,), None),
        ]
    finally:
        set_actor("system")
        runtime.close()
