"""A change to many memories into its response shape (the API's and the CLI's)."""

from somafractalmemory.core.filters import parse_filters
from somafractalmemory.core.models import MemoryType
from somafractalmemory.core.selection import BatchOutcome, Selection
from somafractalmemory.http_api.schemas import BatchResponseV1, SelectionBodyV1


def selection_of(body: SelectionBodyV1) -> Selection:
    return Selection(parse_filters(body.filters), MemoryType.parse(body.type))


def batch_resource(outcome: BatchOutcome, dry_run: bool) -> BatchResponseV1:
    return BatchResponseV1(
        matched=len(outcome.matched),
        coords=[list(c) for c in outcome.matched],
        applied=outcome.applied,
        dry_run=dry_run,
    )
