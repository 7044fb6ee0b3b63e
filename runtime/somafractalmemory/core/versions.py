"""Memory versions: what a replace keeps, and what restoring one writes."""

import dataclasses

from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.errors import InvalidInput, NotFound
from somafractalmemory.core.models import Memory, MemoryVersion

DEFAULT_MAX_VERSIONS = 10


def check_version_number(number: int) -> int:
    if isinstance(number, bool) or not isinstance(number, int) or number < 1:
        raise InvalidInput(f"a version number is an integer of at least 1, got {number!r}")
    return number


def pick_version(
    versions: list[MemoryVersion], number: int, namespace: str, coordinate: Coordinate
) -> MemoryVersion:
    for version in versions:
        if version.number == number:
            return version
    kept = ", ".join(str(v.number) for v in versions) or "none"
    raise NotFound(
        f"memory {list(coordinate)} in namespace {namespace!r} has no version {number} (kept: {kept})"
    )


def restored(current: Memory, version: MemoryVersion, now: float) -> Memory:
    """The memory with a version's content, written now (the write keeps the current one as a version)."""
    return dataclasses.replace(
        current,
        payload=version.payload,
        memory_type=version.memory_type,
        importance=version.importance,
        updated_at=now,
    )
