"""The records the core works with."""

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.errors import InvalidInput

JSONDict = dict[str, Any]

DEFAULT_IMPORTANCE = 0.5


class MemoryType(StrEnum):
    EPISODIC = "episodic"
    SEMANTIC = "semantic"

    @classmethod
    def parse(cls, value: str | None) -> "MemoryType | None":
        """None stays None (no type filter); anything but the two names is an input error."""
        if value is None:
            return None
        try:
            return cls(value)
        except ValueError:
            raise InvalidInput(f"type must be 'episodic' or 'semantic', got {value!r}") from None


def normalise_importance(raw: object) -> float:
    """Importance lives in [0, 1]: numbers are clamped into it, anything else gives the default."""
    if isinstance(raw, bool) or not isinstance(raw, int | float) or not math.isfinite(raw):
        return DEFAULT_IMPORTANCE
    return min(max(float(raw), 0.0), 1.0)


@dataclass(frozen=True, slots=True)
class Memory:
    namespace: str
    coordinate: Coordinate
    payload: JSONDict
    memory_type: MemoryType
    importance: float
    created_at: float
    updated_at: float
    access_count: int = 0
    embedder: str | None = None  # id of the embedder that made its vector; None: unknown (older)


@dataclass(frozen=True, slots=True)
class MemoryVersion:
    """A memory's content as it was before a replace: ``number`` counts up per memory (1 is the oldest
    kept since the memory was created), ``updated_at`` is when that content was written and
    ``replaced_at`` when a later write replaced it."""

    number: int
    payload: JSONDict
    memory_type: MemoryType
    importance: float
    updated_at: float
    replaced_at: float


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """A version with the memory it belongs to: what a backup holds and a restore writes back."""

    namespace: str
    coordinate: Coordinate
    version: MemoryVersion


@dataclass(frozen=True, slots=True)
class Link:
    namespace: str
    source: Coordinate
    target: Coordinate
    link_type: str
    weight: float
    created_at: float


@dataclass(frozen=True, slots=True)
class ScoredMemory:
    memory: Memory
    score: float


@dataclass(frozen=True, slots=True)
class VectorHit:
    coordinate: Coordinate
    score: float


@dataclass(frozen=True, slots=True)
class VectorPoint:
    """What the vector index holds for one memory: enough to filter inside the index query."""

    namespace: str
    coordinate: Coordinate
    vector: Any  # numpy float32 array of the embedder's dimension
    memory_type: MemoryType
    payload: JSONDict


@dataclass(frozen=True, slots=True)
class Stats:
    total_memories: int
    episodic: int
    semantic: int


def stats_from_counts(counts: dict[str, int]) -> Stats:
    """Stats from per-type counter rows (memory type name -> count)."""
    episodic = counts.get(MemoryType.EPISODIC.value, 0)
    semantic = counts.get(MemoryType.SEMANTIC.value, 0)
    return Stats(total_memories=episodic + semantic, episodic=episodic, semantic=semantic)


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The outcome of one item of a bulk request."""

    index: int
    ok: bool
    coordinate: Coordinate | None = None
    error: str | None = None


@dataclass(slots=True)
class BulkResult:
    items: list[ItemResult] = field(default_factory=list)

    @property
    def stored(self) -> int:
        return sum(1 for item in self.items if item.ok)
