"""Memories chosen by a filter, for the changes that act on many at once: delete many, share."""

from dataclasses import dataclass, field

from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.filters import MemoryFilter
from somafractalmemory.core.models import MemoryType


@dataclass(frozen=True, slots=True)
class Selection:
    """The memories of a namespace that are of ``memory_type`` (any when None) and pass ``conditions``."""

    conditions: MemoryFilter
    memory_type: MemoryType | None

    def check_narrowed(self, what: str) -> None:
        """A change to many memories names them: a filter or a type, never 'everything' by omission."""
        if not self.conditions and self.memory_type is None:
            raise InvalidInput(
                f"{what} needs filters or a type: it never applies to a whole namespace by default"
            )


@dataclass(slots=True)
class BatchOutcome:
    """The memories a filter matched and how many the change applied to (none on a dry run)."""

    matched: list[Coordinate] = field(default_factory=list)
    applied: int = 0
