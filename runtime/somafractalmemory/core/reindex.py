"""Re-embedding the memories of namespaces with an embedder, through the ports only.

Memories are read from the document store as a stream, embedded a batch at a time and upserted into
the vector index, so memory stays bounded by one batch. A re-upsert replaces a point, so running it
again gives the same index.

Safe beside a serving API that writes the store before the index: after each batch is upserted the
batch is read again, a memory deleted meanwhile leaves the index again and a memory replaced meanwhile
is embedded again from its current content. Every order of the two writers ends with the index
holding the store's current content.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import islice

from somafractalmemory.core.indexing import vector_points
from somafractalmemory.core.models import Memory
from somafractalmemory.core.ports import DocumentStore, Embedder, VectorIndex

DEFAULT_BATCH = 256

Progress = Callable[[int], object]


def batched(memories: Iterable[Memory], size: int) -> Iterator[list[Memory]]:
    stream = iter(memories)
    while batch := list(islice(stream, size)):
        yield batch


def _content(memory: Memory) -> tuple[object, ...]:
    return (memory.payload, memory.memory_type)


def _settle(store: DocumentStore, index: VectorIndex, embedder: Embedder, batch: Sequence[Memory]) -> None:
    """The batch's writes that raced the upsert: deletes leave the index, replaces are embedded again."""
    namespace = batch[0].namespace
    current = store.get_many(namespace, [memory.coordinate for memory in batch])
    gone = [memory.coordinate for memory in batch if memory.coordinate not in current]
    changed = [
        current[memory.coordinate]
        for memory in batch
        if memory.coordinate in current and _content(current[memory.coordinate]) != _content(memory)
    ]
    if gone:
        index.delete(namespace, gone)
    if changed:
        index.upsert(vector_points(embedder, changed))


def reindex_namespace(
    store: DocumentStore,
    index: VectorIndex,
    embedder: Embedder,
    namespace: str,
    *,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
) -> int:
    """Embed every memory of ``namespace`` again; the number of memories read."""
    done = 0
    for batch in batched(store.iter_memories(namespace), batch_size):
        index.upsert(vector_points(embedder, batch))
        _settle(store, index, embedder, batch)
        done += len(batch)
        if progress is not None:
            progress(len(batch))
    return done


def namespaces_to_reindex(store: DocumentStore, requested: Sequence[str]) -> list[str]:
    """The requested namespaces (each once, in order), else every namespace that holds memories."""
    if requested:
        return list(dict.fromkeys(requested))
    return sorted(store.all_stats())
