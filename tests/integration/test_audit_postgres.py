"""The audit log in the PostgreSQL store: appended in the writing transaction (a failed write logs
nothing), trimmed to its newest entries, read per namespace and memory, newest first."""

import pytest

from somafractalmemory.adapters.postgres_store import PostgresStore
from somafractalmemory.core.audit import AuditAction, AuditEntry, AuditTrail
from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.models import Memory, MemoryType

NS = "ns"


def memory(coord: tuple[float, ...], text: str = "x") -> Memory:
    return Memory(NS, coord, {"text": text}, MemoryType.EPISODIC, 0.5, 1.0, 1.0)


def trail(*coords: tuple[float, ...], action: AuditAction = AuditAction.STORE, keep: int = 100) -> AuditTrail:
    return AuditTrail([AuditEntry(5.0, "token:abc", action, NS, c) for c in coords], keep)


def test_a_write_and_a_delete_append_their_entries(store: PostgresStore) -> None:
    store.put_many([memory((1.0,)), memory((2.0,))], audit=trail((1.0,), (2.0,)))
    assert store.delete(NS, (1.0,), audit=trail((1.0,), action=AuditAction.DELETE))
    assert store.audit_entries(NS, None, 10, None) == [
        AuditEntry(5.0, "token:abc", AuditAction.DELETE, NS, (1.0,), entry=3),
        AuditEntry(5.0, "token:abc", AuditAction.STORE, NS, (2.0,), entry=2),
        AuditEntry(5.0, "token:abc", AuditAction.STORE, NS, (1.0,), entry=1),
    ]
    assert [e.entry for e in store.audit_entries(NS, (1.0,), 10, None)] == [3, 1]
    assert [e.entry for e in store.audit_entries(NS, None, 10, 3)] == [2, 1]
    assert store.audit_entries("other", None, 10, None) == []


def test_a_failed_write_logs_nothing(store: PostgresStore) -> None:
    bad = Memory(NS, (3.0,), {"text": "nul \x00"}, MemoryType.EPISODIC, 0.5, 2.0, 2.0)
    with pytest.raises(InvalidInput):
        store.put_many([memory((1.0,)), bad], audit=trail((1.0,), (3.0,)))
    assert store.audit_entries(NS, None, 10, None) == []


def test_deleting_nothing_logs_nothing(store: PostgresStore) -> None:
    assert not store.delete(NS, (9.0,), audit=trail((9.0,), action=AuditAction.DELETE))
    assert store.audit_entries(NS, None, 10, None) == []


def test_the_log_keeps_its_newest_entries(store: PostgresStore) -> None:
    for n in range(6):
        store.put_many([memory((float(n),))], audit=trail((float(n),), keep=2))
    assert [e.coordinate for e in store.audit_entries(NS, None, 10, None)] == [(5.0,), (4.0,)]
