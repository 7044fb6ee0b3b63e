"""Re-embedding the memories of namespaces with an embedder, through the ports only.

Memories are read from the document store as a stream, embedded a batch at a time and upserted into
the vector index, so memory stays bounded by one batch. Only the stale ones are embedded: those whose
recorded embedder is not this one (or unknown, written before memories recorded it), unless every
memory is asked for. Each embedded batch is then recorded as this embedder's, so running it again
embeds nothing; a re-upsert replaces a point, so the index is the same either way.

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


def _to_embed(memories: Iterable[Memory], current: str | None, progress: Progress | None) -> Iterator[Memory]:
    """The memories another embedder than ``current`` (or an unknown one) embedded, every one when
    ``current`` is None; ``progress`` counts every memory read."""
    for memory in memories:
        if progress is not None:
            progress(1)
        if current is None or memory.embedder != current:
            yield memory


def reindex_namespace(
    store: DocumentStore,
    index: VectorIndex,
    embedder: Embedder,
    namespace: str,
    *,
    every: bool = False,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
) -> int:
    """Embed the stale memories of ``namespace`` again (``every``: all of them); how many were embedded."""
    current = None if every else embedder.identity
    memories = _to_embed(store.iter_memories(namespace), current, progress)
    done = 0
    for batch in batched(memories, batch_size):
        index.upsert(vector_points(embedder, batch))
        _settle(store, index, embedder, batch)
        store.mark_embedder(namespace, [memory.coordinate for memory in batch], embedder.identity)
        done += len(batch)
    return done


def namespaces_to_reindex(store: DocumentStore, requested: Sequence[str]) -> list[str]:
    """The requested namespaces (each once, in order), else every namespace that holds memories."""
    if requested:
        return list(dict.fromkeys(requested))
    return sorted(store.all_stats())
