"""The audit log: who did what to which memory, appended in the transaction of the change itself.

Who: the identity of the caller, never a secret. The HTTP API sets it per request to ``token:`` and the
token's id (the first hex digits of its sha256, the key the rate limiter uses); outside a request it is
the process's default (``local:`` and the user running ``soma`` for the embedded CLI, ``system`` else).
It travels in a context variable, so every write a request makes is attributed without passing it along.
"""

from collections.abc import Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum

from somafractalmemory.core.coordinates import Coordinate

DEFAULT_AUDIT_RETENTION = 100_000
MAX_AUDIT_PAGE = 1000
SYSTEM_ACTOR = "system"

_actor: ContextVar[str] = ContextVar("soma_audit_actor", default=SYSTEM_ACTOR)


class AuditAction(StrEnum):
    STORE = "store"
    IMPORT = "import"
    DELETE = "delete"
    EVICT = "evict"
    RESTORE_VERSION = "restore_version"
    SET_IMPORTANCE = "set_importance"
    REPORT_OUTCOME = "report_outcome"
    SHARE = "share"  # a copy from another namespace, logged in the namespace it was copied into
    LINK = "link"  # a link made or replaced: the entry's coordinate is its source, ``target`` where it points
    DECAY = "decay"  # payload keys dropped by age (maintenance)
    FORGET = "forget"  # deleted by maintenance: old and below the importance floor
    CONSOLIDATE = "consolidate"  # a semantic memory summarising episodic ones, and each source marked


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One change; ``entry`` is its number in the log (0 until the store appends it). A change to a
    link names both memories: ``coordinate`` the one it starts from, ``target`` the one it points to
    (None for a change to one memory)."""

    at: float
    actor: str
    action: AuditAction
    namespace: str
    coordinate: Coordinate
    entry: int = 0
    target: Coordinate | None = None


@dataclass(frozen=True, slots=True)
class AuditTrail:
    """What a write appends to the log, and how many entries the log keeps at most (its oldest go)."""

    entries: Sequence[AuditEntry]
    keep: int


def current_actor() -> str:
    return _actor.get()


def set_actor(actor: str) -> None:
    """The actor of whatever this context does from now on (a request's context ends with it)."""
    _actor.set(actor)
