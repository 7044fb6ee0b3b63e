"""Consolidation: the episodic memories of a namespace stored within the same time window become one
semantic memory that summarises them and links to each of them. Pure rules: given memories and ``now``,
what is written.

Windows are aligned on multiples of ``window_seconds`` since the epoch: a memory stored (``created_at``)
at ``t`` is in the window that starts at ``floor(t / window_seconds) * window_seconds`` (a memory stored
exactly at a window's end is in the next one). Only windows that have ended are consolidated, so a
window is never summarised while memories can still arrive in it.

The semantic memory's payload: ``fact`` (a sentence), ``consolidated_from`` (the sources' coordinates),
``texts`` (the text of each source: its string values), ``window`` ([start, end] in epoch seconds). Its
coordinate is (window start, window end, a fraction derived from the sources' coordinates), so two
passes that consolidate the same sources write the same memory. Each source is marked with the payload
key ``consolidated_into`` (the semantic memory's coordinate): a marked memory is never consolidated again.
"""

import dataclasses
import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from somafractalmemory.core.coordinates import Coordinate, coordinate_key
from somafractalmemory.core.models import JSONDict, Memory, MemoryType
from somafractalmemory.core.text import payload_text

CONSOLIDATED_LINK = "consolidated"
CONSOLIDATED_INTO = "consolidated_into"
CONSOLIDATED_FROM = "consolidated_from"
DEFAULT_MIN_MEMORIES = 2


@dataclass(frozen=True, slots=True)
class Consolidating:
    window_seconds: float
    min_memories: int = DEFAULT_MIN_MEMORIES


@dataclass(frozen=True, slots=True)
class Consolidation:
    """What one group becomes: the new semantic memory and its sources, marked."""

    semantic: Memory
    sources: list[Memory]


def window_of(memory: Memory, window_seconds: float) -> int:
    return math.floor(memory.created_at / window_seconds)


def candidate(memory: Memory, consolidating: Consolidating, now: float) -> bool:
    """Episodic, not consolidated yet, and in a window that has ended."""
    ended = (window_of(memory, consolidating.window_seconds) + 1) * consolidating.window_seconds <= now
    return memory.memory_type is MemoryType.EPISODIC and CONSOLIDATED_INTO not in memory.payload and ended


def full_windows(
    found: dict[int, list[Coordinate]], consolidating: Consolidating
) -> dict[int, list[Coordinate]]:
    """The windows of candidates' coordinates that hold at least ``min_memories``."""
    return {window: coords for window, coords in found.items() if len(coords) >= consolidating.min_memories}


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def semantic_coordinate(start: float, end: float, sources: Sequence[Memory]) -> Coordinate:
    keys = "|".join(sorted(coordinate_key(m.coordinate) for m in sources))
    fraction = int(hashlib.sha256(keys.encode()).hexdigest()[:13], 16) / 16**13
    return (start, end, fraction)


def summary_payload(start: float, end: float, sources: Sequence[Memory]) -> JSONDict:
    return {
        "fact": f"{len(sources)} episodic memories from {_iso(start)} to {_iso(end)}",
        CONSOLIDATED_FROM: [list(m.coordinate) for m in sources],
        "texts": [payload_text(m.payload) for m in sources],
        "window": [start, end],
    }


def consolidate(
    current: Sequence[Memory], window: int, consolidating: Consolidating, now: float
) -> Consolidation | None:
    """The consolidation of the current memories of one window's group (read again just before the
    write): None when fewer than ``min_memories`` of them are still candidates of that window."""
    sources = sorted(
        (
            m
            for m in current
            if candidate(m, consolidating, now) and window_of(m, consolidating.window_seconds) == window
        ),
        key=lambda m: (m.created_at, m.coordinate),
    )
    if len(sources) < consolidating.min_memories:
        return None
    start = float(window * consolidating.window_seconds)  # a coordinate's components are floats
    end = start + consolidating.window_seconds
    coordinate = semantic_coordinate(start, end, sources)
    semantic = Memory(
        namespace=sources[0].namespace,
        coordinate=coordinate,
        payload=summary_payload(start, end, sources),
        memory_type=MemoryType.SEMANTIC,
        importance=max(m.importance for m in sources),
        created_at=now,
        updated_at=now,
    )
    marked = [
        dataclasses.replace(m, payload={**m.payload, CONSOLIDATED_INTO: list(coordinate)}, updated_at=now)
        for m in sources
    ]
    return Consolidation(semantic, marked)
