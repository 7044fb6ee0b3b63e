"""The embedded store's audit log: appended and trimmed inside the writing transaction, read newest first.

Entry ids come from AUTOINCREMENT, so an id is never given twice, even after the oldest are trimmed.
An entry about a link also names the memory it points to (``target_key``, null otherwise): the log of
a memory lists the links to it as well as its own changes.
"""

import logging
import sqlite3
from typing import Any

from somafractalmemory.adapters.sqlite_file import insert_rows
from somafractalmemory.core.audit import AuditAction, AuditEntry, AuditTrail
from somafractalmemory.core.coordinates import Coordinate, coordinate_from_key, coordinate_key

AUDIT_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    namespace TEXT NOT NULL,
    coord_key TEXT NOT NULL,
    target_key TEXT
);
CREATE INDEX IF NOT EXISTS audit_by_namespace ON audit_log (namespace, id);
CREATE INDEX IF NOT EXISTS audit_by_memory ON audit_log (namespace, coord_key, id);
"""

log = logging.getLogger(__name__)

# Only a link's entry names a target: the entries of stores and deletes (nearly all of them) stay out of
# this index, and a memory's log still finds the links to it here ("target_key = ?" implies the WHERE).
TARGET_INDEX = (
    "CREATE INDEX IF NOT EXISTS audit_by_target ON audit_log (namespace, target_key, id) "
    "WHERE target_key IS NOT NULL"
)


def add_target_column(db: sqlite3.Connection) -> None:
    """A log made before links were audited gets the column (null: its entries name one memory) and
    its index; one whose index held every entry gets the one of links alone."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(audit_log)")}
    if "target_key" not in columns:
        db.execute("ALTER TABLE audit_log ADD COLUMN target_key TEXT")
        log.info("the audit log names the memory each link points to from now on")
    found = db.execute("SELECT sql FROM sqlite_master WHERE name = 'audit_by_target'").fetchone()
    if found is not None and "WHERE" not in found[0]:
        db.execute("DROP INDEX audit_by_target")
    db.execute(TARGET_INDEX)


def append(db: sqlite3.Connection, trail: AuditTrail) -> None:
    insert_rows(
        db,
        "INSERT INTO audit_log (at, actor, action, namespace, coord_key, target_key)",
        [
            (
                e.at,
                e.actor,
                e.action.value,
                e.namespace,
                coordinate_key(e.coordinate),
                None if e.target is None else coordinate_key(e.target),
            )
            for e in trail.entries
        ],
    )
    db.execute("DELETE FROM audit_log WHERE id <= (SELECT max(id) FROM audit_log) - ?", (trail.keep,))


def _in_namespace(before: int | None, condition: str = "") -> str:
    """The namespace's entries (those matching ``condition`` too), before an entry id when given."""
    older = " AND id < :before" if before is not None else ""
    return f"SELECT * FROM audit_log WHERE namespace = :namespace{condition}{older}"


def entries(
    db: sqlite3.Connection, namespace: str, coordinate: Coordinate | None, limit: int, before: int | None
) -> list[AuditEntry]:
    """Newest first. A memory's log is its own entries and the links to it, each read from its index
    and merged: one query with ``coord_key = ? OR target_key = ?`` walked the namespace's whole log
    instead (SQLite chose the namespace index for it)."""
    params: dict[str, Any] = {"namespace": namespace, "before": before, "limit": limit}
    if coordinate is None:
        query = _in_namespace(before)
    else:
        params["key"] = coordinate_key(coordinate)
        own = _in_namespace(before, " AND coord_key = :key") + " ORDER BY id DESC LIMIT :limit"
        linked = _in_namespace(before, " AND target_key = :key") + " ORDER BY id DESC LIMIT :limit"
        query = f"SELECT * FROM ({own}) UNION SELECT * FROM ({linked})"
    rows = db.execute(query + " ORDER BY id DESC LIMIT :limit", params).fetchall()
    return [
        AuditEntry(
            at=row["at"],
            actor=row["actor"],
            action=AuditAction(row["action"]),
            namespace=row["namespace"],
            coordinate=coordinate_from_key(row["coord_key"]),
            entry=row["id"],
            target=None if row["target_key"] is None else coordinate_from_key(row["target_key"]),
        )
        for row in rows
    ]
