"""The embedded store's audit log: appended and trimmed inside the writing transaction, read newest first.

Entry ids come from AUTOINCREMENT, so an id is never given twice, even after the oldest are trimmed.
"""

import sqlite3
from typing import Any

from somafractalmemory.core.audit import AuditAction, AuditEntry, AuditTrail
from somafractalmemory.core.coordinates import Coordinate, coordinate_from_key, coordinate_key

AUDIT_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    namespace TEXT NOT NULL,
    coord_key TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_by_namespace ON audit_log (namespace, id);
CREATE INDEX IF NOT EXISTS audit_by_memory ON audit_log (namespace, coord_key, id);
"""


def append(db: sqlite3.Connection, trail: AuditTrail) -> None:
    db.executemany(
        "INSERT INTO audit_log (at, actor, action, namespace, coord_key) VALUES (?, ?, ?, ?, ?)",
        [(e.at, e.actor, e.action.value, e.namespace, coordinate_key(e.coordinate)) for e in trail.entries],
    )
    db.execute("DELETE FROM audit_log WHERE id <= (SELECT max(id) FROM audit_log) - ?", (trail.keep,))


def entries(
    db: sqlite3.Connection, namespace: str, coordinate: Coordinate | None, limit: int, before: int | None
) -> list[AuditEntry]:
    query = "SELECT * FROM audit_log WHERE namespace = ?"
    params: list[Any] = [namespace]
    if coordinate is not None:
        query += " AND coord_key = ?"
        params.append(coordinate_key(coordinate))
    if before is not None:
        query += " AND id < ?"
        params.append(before)
    rows = db.execute(query + " ORDER BY id DESC LIMIT ?", [*params, limit]).fetchall()
    return [
        AuditEntry(
            at=row["at"],
            actor=row["actor"],
            action=AuditAction(row["action"]),
            namespace=row["namespace"],
            coordinate=coordinate_from_key(row["coord_key"]),
            entry=row["id"],
        )
        for row in rows
    ]
