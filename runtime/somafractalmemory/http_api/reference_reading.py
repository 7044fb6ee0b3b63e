"""How the reference service read ``type`` and ``top_k``: leniently, and differently by endpoint.

Only the compatibility surface reads them this way; /v1 refuses an unknown type and a top_k below 1.
"""

from typing import TypeVar

from somafractalmemory.core.models import MemoryType

T = TypeVar("T")


def stored_type(name: str | None) -> MemoryType:
    """A store: 'semantic' is semantic, any other name (or none) episodic."""
    return MemoryType.SEMANTIC if name == MemoryType.SEMANTIC.value else MemoryType.EPISODIC


def recall_type(name: str | None) -> str | None:
    """/recall and /recall_batch: no name (or an empty one) is no filter, any other name filters as a store
    would have typed it."""
    return stored_type(name).value if name else None


def search_type(name: str | None) -> str | None:
    """The other reads: only the two type names filter; any other value is no filter."""
    return name if name in (MemoryType.EPISODIC.value, MemoryType.SEMANTIC.value) else None


def run_top_k(top_k: int) -> int:
    """The top_k a read runs with: at least 1, so a request that asks for nothing is checked in full (its
    query, filters and terms) like any other."""
    return max(top_k, 1)


def answered(found: list[T], top_k: int) -> list[T]:
    """What the answer keeps: nothing for a top_k of 0 or less (an empty answer, not an error)."""
    return found if top_k > 0 else []
