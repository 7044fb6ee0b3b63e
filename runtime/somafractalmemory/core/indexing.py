"""What the vector index holds for a memory: its payload text embedded, with what filters need."""

from collections.abc import Sequence

from somafractalmemory.core.models import Memory, VectorPoint
from somafractalmemory.core.ports import Embedder
from somafractalmemory.core.text import payload_text


def vector_points(embedder: Embedder, memories: Sequence[Memory]) -> list[VectorPoint]:
    """One point per memory, embedded in one batch."""
    vectors = embedder.embed([payload_text(memory.payload) for memory in memories])
    return [
        VectorPoint(m.namespace, m.coordinate, vectors[row], m.memory_type, m.payload)
        for row, m in enumerate(memories)
    ]
