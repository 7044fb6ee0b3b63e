"""A change to many memories into its response shape (the API's and the CLI's)."""

from typing import Any

from somafractalmemory.core.filters import parse_filters
from somafractalmemory.core.models import MemoryType
from somafractalmemory.core.selection import BatchOutcome, Selection
from somafractalmemory.http_api.schemas import BatchResponseV1


def selection_of(filters: dict[str, Any] | None, memory_type: str | None) -> Selection:
    return Selection(parse_filters(filters), MemoryType.parse(memory_type))


def batch_resource(outcome: BatchOutcome, dry_run: bool) -> BatchResponseV1:
    return BatchResponseV1(
        matched=len(outcome.matched),
        coords=[list(c) for c in outcome.matched],
        applied=outcome.applied,
        dry_run=dry_run,
    )
