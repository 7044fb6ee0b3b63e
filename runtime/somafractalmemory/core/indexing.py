"""What the vector index holds for a memory: its payload text embedded, with what filters need."""

from collections.abc import Sequence

import numpy as np

from somafractalmemory.core.models import Memory, VectorPoint
from somafractalmemory.core.ports import Embedder, Vectors
from somafractalmemory.core.text import payload_text

# Texts embedded in one call. An embedder's call can hold the GIL throughout (the hashing embedder
# builds one array from Python lists of every feature): in slices, a large batch in a worker thread
# lets the event loop in between, and the slices cost the same in total.
EMBED_SLICE = 256


def embed(embedder: Embedder, texts: Sequence[str]) -> Vectors:
    if len(texts) <= EMBED_SLICE:
        return embedder.embed(texts)
    return np.concatenate(
        [embedder.embed(texts[start : start + EMBED_SLICE]) for start in range(0, len(texts), EMBED_SLICE)]
    )


def vector_points(embedder: Embedder, memories: Sequence[Memory]) -> list[VectorPoint]:
    """One point per memory, embedded in slices of one batch."""
    vectors = embed(embedder, [payload_text(memory.payload) for memory in memories])
    return [
        VectorPoint(m.namespace, m.coordinate, vectors[row], m.memory_type, m.payload)
        for row, m in enumerate(memories)
    ]
