"""Applies index events to the vector index: the work the consumer does for each batch.

Within a batch only the last event of each memory matters (events carry the full new state), so a batch is
coalesced per key before it is embedded and written: a redelivered or repeated event has no further effect.
"""

from collections import defaultdict
from collections.abc import Sequence

from somafractalmemory.adapters.index_events import IndexEvent, IndexOp
from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.indexing import vector_points
from somafractalmemory.core.ports import Embedder, VectorIndex


def last_event_per_memory(events: Sequence[IndexEvent]) -> list[IndexEvent]:
    latest: dict[str, IndexEvent] = {}
    for event in events:
        latest.pop(event.key, None)
        latest[event.key] = event
    return list(latest.values())


class EventIndexer:
    def __init__(self, index: VectorIndex, embedder: Embedder) -> None:
        self.index = index
        self.embedder = embedder

    def apply(self, events: Sequence[IndexEvent]) -> None:
        upserts = []
        deletes: dict[str, list[Coordinate]] = defaultdict(list)
        for event in last_event_per_memory(events):
            if event.op is IndexOp.UPSERT and event.memory is not None:
                upserts.append(event.memory)
            else:
                deletes[event.namespace].append(event.coordinate)
        if upserts:
            self.index.upsert(vector_points(self.embedder, upserts))
        for namespace, coordinates in deletes.items():
            self.index.delete(namespace, coordinates)
