"""The indexing consumer embeds a batch of events in as few embedder calls as the slice allows (one call for
up to EMBED_SLICE memories), never one call per message; the last event of a memory wins."""

from collections.abc import Sequence
from pathlib import Path

from somafractalmemory.adapters.index_events import IndexEvent, decode, encode_delete, encode_upsert
from somafractalmemory.adapters.numpy_index import NumpyIndex
from somafractalmemory.core.indexing import EMBED_SLICE
from somafractalmemory.core.models import Memory, MemoryType
from somafractalmemory.core.ports import Vectors
from somafractalmemory.embedding.hashing import HashingEmbedder
from somafractalmemory.events.indexer import EventIndexer


class CountingEmbedder(HashingEmbedder):
    """The real hashing embedder, recording how many texts each call embedded."""

    def __init__(self) -> None:
        super().__init__(64)
        self.calls: list[int] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls.append(len(texts))
        return super().embed(texts)


def upsert(x: float, text: str) -> IndexEvent:
    return decode(encode_upsert(Memory("a", (x,), {"text": text}, MemoryType.EPISODIC, 0.5, 1.0, 1.0)))


def test_a_batch_of_messages_is_embedded_in_one_call(tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    index = NumpyIndex(tmp_path / "vectors.sqlite", 64)
    events = [upsert(float(x), f"memory number {x}") for x in range(100)]
    events += [upsert(5.0, "memory five, replaced"), decode(encode_delete("a", (6.0,)))]
    EventIndexer(index, embedder).apply(events)
    assert embedder.calls == [99]  # 100 memories, one of them deleted by its last event: one call
    vector = embedder.embed(["memory five, replaced"])[0]
    hits = index.search("a", vector, top_k=100, memory_type=None, conditions=())
    assert hits[0].coordinate == (5.0,)
    assert len(hits) == 99 and (6.0,) not in {hit.coordinate for hit in hits}
    index.close()


def test_a_batch_larger_than_a_slice_takes_one_call_per_slice(tmp_path: Path) -> None:
    embedder = CountingEmbedder()
    index = NumpyIndex(tmp_path / "vectors.sqlite", 64)
    EventIndexer(index, embedder).apply([upsert(float(x), f"memory {x}") for x in range(EMBED_SLICE + 44)])
    assert EMBED_SLICE == 256
    assert embedder.calls == [256, 44]
    index.close()
