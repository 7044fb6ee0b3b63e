"""Audit entries into their response shape (the API's and the CLI's)."""

from somafractalmemory.core.audit import AuditEntry
from somafractalmemory.http_api.schemas import AuditEntryResource, AuditResponseV1


def audit_resource(entries: list[AuditEntry], limit: int) -> AuditResponseV1:
    """A full page may have older entries after it: its last entry's number starts the next one."""
    resources = [
        AuditEntryResource(
            entry=e.entry,
            at=e.at,
            actor=e.actor,
            action=e.action.value,
            coord=list(e.coordinate),
            to=None if e.target is None else list(e.target),
        )
        for e in entries
    ]
    next_before = resources[-1].entry if resources and len(resources) == limit else None
    return AuditResponseV1(entries=resources, next_before=next_before)
