"""What the vector index holds for a memory: its payload text embedded, with what filters need."""

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from somafractalmemory.core.models import Memory, VectorPoint
from somafractalmemory.core.ports import Embedder, Vectors
from somafractalmemory.core.text import payload_text

# Texts embedded in one call. An embedder's call can hold the GIL throughout (the hashing embedder
# builds one array from Python lists of every feature): in slices, a large batch in a worker thread
# lets the event loop in between, and the slices cost the same in total.
EMBED_SLICE = 256
# A write of at least this many memories is embedded on a thread of its own while the store writes it,
# and the index writer takes it (core/index_writer.py); below it, handing it over costs more than the
# overlap saves, and it is done in the caller's thread.
THREADED_AT = 64


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


class EmbeddingBeside:
    """Embeds a large write's memories beside the store's write of them. The store's SQL runs without the
    GIL, so the two share the cores; the store calls the answer before it commits (``before_commit``), so
    an embedder that fails still leaves nothing written."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="embed")

    def points(self, embedder: Embedder, memories: Sequence[Memory]) -> Callable[[], list[VectorPoint]]:
        """A call answering the memories' points: started now on the embedding thread, or for a small
        write already made on this one."""
        if len(memories) < THREADED_AT:
            points = vector_points(embedder, memories)
            return lambda: points
        return self._thread.submit(vector_points, embedder, memories).result
