"""Links in the embedded store's audit log: appended with the link, naming the memory it points to; a
memory's log lists the links to it; a file made before links were audited gets the column on open."""

import sqlite3
from contextlib import closing
from pathlib import Path

from somafractalmemory.adapters.sqlite_store import SQLiteStore
from somafractalmemory.core.audit import AuditAction, AuditEntry, AuditTrail
from somafractalmemory.core.models import Link, Memory, MemoryType

NS = "ns"


def memory(coord: tuple[float, ...]) -> Memory:
    return Memory(NS, coord, {"text": "x"}, MemoryType.EPISODIC, 0.5, 1.0, 1.0)


def link_trail(source: tuple[float, ...], target: tuple[float, ...]) -> AuditTrail:
    return AuditTrail([AuditEntry(7.0, "token:abc", AuditAction.LINK, NS, source, target=target)], 100)


def test_a_link_appends_its_entry_naming_both_memories(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "memories.sqlite")
    try:
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
        assert len(store.neighbors(NS, (2.0,), None, None)) == 1
    finally:
        store.close()


def test_a_log_made_before_links_were_audited_gets_the_column(tmp_path: Path) -> None:
    path = tmp_path / "memories.sqlite"
    SQLiteStore(path).close()
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("DROP INDEX audit_by_target")
        db.execute("ALTER TABLE audit_log DROP COLUMN target_key")
        db.execute(
            "INSERT INTO audit_log (at, actor, action, namespace, coord_key) "
            "VALUES (1.0, 'system', 'store', 'ns', '1.0')"
        )
    store = SQLiteStore(path)
    try:
        store.put_many([memory((1.0,)), memory((2.0,))])
        store.add_link(Link(NS, (1.0,), (2.0,), "r", 1.0, 7.0), audit=link_trail((1.0,), (2.0,)))
        assert store.audit_entries(NS, None, 10, None) == [
            AuditEntry(7.0, "token:abc", AuditAction.LINK, NS, (1.0,), entry=2, target=(2.0,)),
            AuditEntry(1.0, "system", AuditAction.STORE, NS, (1.0,), entry=1),
        ]
    finally:
        store.close()
    with closing(sqlite3.connect(path)) as db:
        indexes = {row[1] for row in db.execute("PRAGMA index_list(audit_log)")}
    assert "audit_by_target" in indexes
