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


def index_sql(path: Path) -> str:
    with closing(sqlite3.connect(path)) as db:
        return str(db.execute("SELECT sql FROM sqlite_master WHERE name = 'audit_by_target'").fetchone()[0])


def test_only_link_entries_are_in_the_target_index(tmp_path: Path) -> None:
    path = tmp_path / "memories.sqlite"
    SQLiteStore(path).close()
    assert index_sql(path).endswith("(namespace, target_key, id) WHERE target_key IS NOT NULL")


def test_a_target_index_of_every_entry_is_made_the_links_one_on_open(tmp_path: Path) -> None:
    path = tmp_path / "memories.sqlite"
    store = SQLiteStore(path)
    store.put_many([memory((1.0,)), memory((2.0,))])
    store.add_link(Link(NS, (1.0,), (2.0,), "r", 1.0, 7.0), audit=link_trail((1.0,), (2.0,)))
    store.close()
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("DROP INDEX audit_by_target")
        db.execute("CREATE INDEX audit_by_target ON audit_log (namespace, target_key, id)")
    store = SQLiteStore(path)
    try:
        assert index_sql(path).endswith("WHERE target_key IS NOT NULL")
        assert [e.target for e in store.audit_entries(NS, (2.0,), 10, None)] == [(2.0,)]
    finally:
        store.close()


def store_trail(*coordinates: tuple[float, ...]) -> AuditTrail:
    return AuditTrail([AuditEntry(1.0, "system", AuditAction.STORE, NS, c) for c in coordinates], 100)


def test_a_memory_log_reads_its_own_index_and_the_target_index(tmp_path: Path) -> None:
    """Not the namespace's whole log: at 100,000 entries that walk took 28 ms, the two indexes 0.02."""
    path = tmp_path / "memories.sqlite"
    store = SQLiteStore(path)
    statements: list[str] = []
    try:
        store._db.set_trace_callback(statements.append)
        store.audit_entries(NS, (1.0,), 10, 5)
    finally:
        store._db.set_trace_callback(None)
        store.close()
    [query] = statements
    with closing(sqlite3.connect(path)) as db:
        plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {query}")]
    assert "SEARCH audit_log USING INDEX audit_by_memory (namespace=? AND coord_key=? AND id<?)" in plan
    assert "SEARCH audit_log USING INDEX audit_by_target (namespace=? AND target_key=? AND id<?)" in plan
    assert not any("audit_by_namespace" in step for step in plan)


def test_a_memory_log_merges_its_entries_and_links_newest_first_within_the_limit(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "memories.sqlite")
    try:
        store.put_many([memory((1.0,)), memory((2.0,))], audit=store_trail((1.0,), (2.0,)))  # 1, 2
        store.add_link(Link(NS, (2.0,), (1.0,), "r", 1.0, 7.0), audit=link_trail((2.0,), (1.0,)))  # 3
        store.put_many([memory((1.0,))], audit=store_trail((1.0,)))  # 4
        store.add_link(Link(NS, (1.0,), (1.0,), "self", 1.0, 7.0), audit=link_trail((1.0,), (1.0,)))  # 5
        store.put_many([memory((2.0,))], audit=store_trail((2.0,)))  # 6
        assert [e.entry for e in store.audit_entries(NS, (1.0,), 10, None)] == [5, 4, 3, 1]
        assert [e.entry for e in store.audit_entries(NS, (1.0,), 2, None)] == [5, 4]
        assert [e.entry for e in store.audit_entries(NS, (1.0,), 2, 5)] == [4, 3]
        assert [e.entry for e in store.audit_entries(NS, (1.0,), 10, 3)] == [1]
        assert [e.entry for e in store.audit_entries(NS, (2.0,), 10, None)] == [6, 3, 2]
        assert [e.entry for e in store.audit_entries(NS, None, 3, None)] == [6, 5, 4]
        assert [e.entry for e in store.audit_entries(NS, None, 10, 3)] == [2, 1]
        assert store.audit_entries("other", (1.0,), 10, None) == []
    finally:
        store.close()


def test_a_target_index_of_links_alone_is_kept_as_it_is_on_open(tmp_path: Path) -> None:
    """Reopening changes no schema object: SQLite counts every change in the file's schema version."""
    path = tmp_path / "memories.sqlite"

    def schema_version() -> int:
        with closing(sqlite3.connect(path)) as db:
            return int(db.execute("PRAGMA schema_version").fetchone()[0])

    SQLiteStore(path).close()
    before = schema_version()
    SQLiteStore(path).close()
    assert schema_version() == before
