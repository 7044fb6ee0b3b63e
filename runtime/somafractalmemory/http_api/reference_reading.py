"""How the reference service read ``type`` and ``top_k``: leniently, and differently by endpoint.

Only the compatibility surface reads them this way; /v1 refuses an unknown type and a top_k below 1.
"""

from somafractalmemory.core.models import MemoryType


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


def nothing_asked(top_k: int) -> bool:
    """A top_k of 0 or less asks for no results: the answer is empty, not an error."""
    return top_k <= 0
