"""The one thing data commands talk to: memories of one namespace, embedded or behind a running API.

Both implementations answer with the bodies of the /v1 API (``MemoryResource``, ``{"results": ...}``,
...), so a command prints the same JSON whichever it works on, and never asks which one it has.
Errors come back as the core's ``InvalidInput`` (bad input) and ``NotFound``, or as ``CommandFailed``.
"""

import argparse
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol

from somafractalmemory.cli.errors import UsageError
from somafractalmemory.cli.options import settings_from
from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.importance import MemoryOrder
from somafractalmemory.core.maintenance import Progress
from somafractalmemory.core.review import Review
from somafractalmemory.core.service import NewMemory
from somafractalmemory.settings import Settings
from somafractalmemory.tokens import GENERATED_TOKEN_FILE, resolve_token

JSONObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class RecallQuery:
    query: str
    top_k: int = 5
    memory_type: str | None = None
    filters: JSONObject | None = None
    hybrid: bool = False
    terms: list[str] | None = None


class MemoryTarget(Protocol):
    """The memories of one namespace."""

    namespace: str

    def store(self, coordinate: Coordinate, payload: JSONObject, memory_type: str) -> JSONObject: ...

    def store_many(self, items: Sequence[NewMemory]) -> int:
        """Store a batch in one request; answers how many were stored."""
        ...

    def remember(self, payload: JSONObject, memory_type: str) -> JSONObject: ...

    def get(self, coordinate: Coordinate) -> JSONObject: ...

    def delete(self, coordinate: Coordinate) -> bool:
        """True when a memory was there and is gone; False when there was none."""
        ...

    def recall(self, query: RecallQuery) -> JSONObject: ...

    def coordinate_range(self, low: Coordinate, high: Coordinate, memory_type: str | None) -> JSONObject: ...

    def stats(self) -> JSONObject: ...

    def link(self, source: Coordinate, target: Coordinate, link_type: str, weight: float) -> JSONObject: ...

    def neighbors(self, coordinate: Coordinate, link_type: str | None, limit: int | None) -> JSONObject: ...

    def path(self, source: Coordinate, target: Coordinate, link_type: str | None) -> JSONObject: ...

    def versions(self, coordinate: Coordinate) -> JSONObject:
        """A memory's versions, as ``VersionsResponseV1``."""
        ...

    def restore_version(self, coordinate: Coordinate, number: int) -> JSONObject: ...

    def set_importance(self, coordinate: Coordinate, importance: float) -> JSONObject: ...

    def delete_many(self, filters: JSONObject | None, memory_type: str | None, dry_run: bool) -> JSONObject:
        """As ``BatchResponseV1``."""
        ...

    def share(
        self, to: str, filters: JSONObject | None, memory_type: str | None, dry_run: bool
    ) -> JSONObject: ...

    def audit(self, coordinate: Coordinate | None, limit: int, before: int | None) -> JSONObject:
        """As ``AuditResponseV1``."""
        ...

    def report_outcome(self, coordinate: Coordinate, outcome: Any) -> JSONObject:
        """As ``OutcomeResponseV1``."""
        ...

    def listed(self, order: MemoryOrder, limit: int, memory_type: str | None) -> JSONObject:
        """``{"results": [...]}``, the most recent or most important memories."""
        ...

    def maintain(self, every_namespace: bool, dry_run: bool, progress: Progress | None) -> JSONObject:
        """One maintenance pass over this namespace (or every one), as ``MaintenanceResponseV1``;
        ``progress`` hears of each namespace done (where the pass runs in this process)."""
        ...

    def review(self, review: Review, limit: int) -> JSONObject:
        """``{"results": [...]}``, the replay or reflect list."""
        ...

    def export_lines(self) -> Iterator[bytes]:
        """The namespace as NDJSON lines (memories, then links), each ending in a newline."""
        ...

    def import_lines(self, lines: Iterable[bytes]) -> JSONObject:
        """Import NDJSON lines; answers ``{"memories", "links", "errors"}``."""
        ...

    def close(self) -> None: ...


def client_token(settings: Settings) -> str:
    """The token to send: $SOMA_API_TOKEN, the token file, or the one `soma serve` generated in the
    data directory. Unlike the server, a client never generates one."""
    configured = settings.api_token is not None or settings.api_token_file is not None
    if not configured and not (settings.data_dir / GENERATED_TOKEN_FILE).exists():
        raise UsageError(
            "no API token for --url: set SOMA_API_TOKEN, SOMA_API_TOKEN_FILE or --token-file "
            f"(or point --data-dir at the directory where `soma serve` generated {GENERATED_TOKEN_FILE})"
        )
    return resolve_token(settings)


def open_target(settings: Settings, url: str | None, timeout: float) -> MemoryTarget:
    if url:
        from somafractalmemory.cli.http_target import HttpTarget

        return HttpTarget(url, client_token(settings), settings.namespace, timeout)
    from somafractalmemory.cli.embedded_target import EmbeddedTarget

    return EmbeddedTarget.open(settings)


@contextmanager
def target_for(args: argparse.Namespace) -> Iterator[MemoryTarget]:
    """The target the options select (--url or --data-dir, --namespace), closed afterwards."""
    target = open_target(settings_from(args), args.url, args.timeout)
    try:
        yield target
    finally:
        target.close()


TargetCommand = Callable[[argparse.Namespace, MemoryTarget], int]


def with_target(command: TargetCommand) -> Callable[[argparse.Namespace], int]:
    """Turn ``command(args, target)`` into the ``func(args)`` argparse dispatches to."""

    def run(args: argparse.Namespace) -> int:
        with target_for(args) as target:
            return command(args, target)

    return run
