"""The production store's audit log (table ``soma_audit_log``, schema migrations 5 and 7): appended and
trimmed inside the writing transaction, read newest first. An entry about a link also names the memory it
points to (``target_key``, null otherwise): the log of a memory lists the links to it as well."""

from typing import Any

import psycopg
from psycopg.rows import TupleRow

from somafractalmemory.core.audit import AuditAction, AuditEntry, AuditTrail
from somafractalmemory.core.coordinates import Coordinate, coordinate_from_key, coordinate_key

APPEND = (
    "INSERT INTO soma_audit_log (at, actor, action, namespace, coord_key, target_key)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
)
TRIM = "DELETE FROM soma_audit_log WHERE id <= (SELECT max(id) FROM soma_audit_log) - %s"


def append(cursor: psycopg.Cursor[TupleRow], trail: AuditTrail) -> None:
    cursor.executemany(
        APPEND,
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
    cursor.execute(TRIM, (trail.keep,))


def entries(
    conn: psycopg.Connection[TupleRow],
    namespace: str,
    coordinate: Coordinate | None,
    limit: int,
    before: int | None,
) -> list[AuditEntry]:
    query = (
        "SELECT id, at, actor, action, namespace, coord_key, target_key FROM soma_audit_log"
        " WHERE namespace = %s"
    )
    params: list[Any] = [namespace]
    if coordinate is not None:
        query += " AND (coord_key = %s OR target_key = %s)"
        params.extend([coordinate_key(coordinate)] * 2)
    if before is not None:
        query += " AND id < %s"
        params.append(before)
    rows = conn.execute(query + " ORDER BY id DESC LIMIT %s", [*params, limit]).fetchall()
    return [
        AuditEntry(
            at=at,
            actor=actor,
            action=AuditAction(action),
            namespace=ns,
            coordinate=coordinate_from_key(key),
            entry=entry,
            target=None if target is None else coordinate_from_key(target),
        )
        for entry, at, actor, action, ns, key, target in rows
    ]
