"""Memories, links and versions a backup test writes, and what a test compares before and after a restore."""

import json
from typing import Any

from somafractalmemory.core.models import MemoryType, StoredVersion
from somafractalmemory.core.records import version_to_record
from somafractalmemory.core.service import MemoryService, NewMemory

NAMESPACES = ("alpha", "beta", "gamma/with slash")
TOPICS = ("apples", "harbour", "violin", "glacier", "compiler", "saffron", "tide", "lantern")
QUERIES = ("apples in the harbour", "violin and saffron", "a glacier at low tide", "compiler lantern")
MEMORIES_PER_NAMESPACE = 60
LINKS_PER_NAMESPACE = 20
# The first VERSIONED memories of a namespace were written as 1 + index % 3 drafts first: each keeps
# that many versions (the drafts), 19 in all.
VERSIONED = 10
VERSIONS_PER_NAMESPACE = sum(1 + index % 3 for index in range(VERSIONED))
TOP_K = 10


def coordinate(index: int) -> tuple[float, ...]:
    return (float(index), index / 7, -index / 3)


def text(namespace: str, offset: int, index: int) -> str:
    """Topic words, and a filler word repeated as many times as the index (so every text has its own
    length): no two memories of a namespace are equally similar to a query, so a top 10 has one right
    order (the order of equal scores is arbitrary)."""
    first = [TOPICS[index % 8]] * (1 + index % 5)
    second = [TOPICS[(index + offset) % 8]] * (1 + index // 8 % 3)
    return " ".join([f"memory {index} of {namespace}:", *first, *["near"] * (1 + index), *second])


def draft(index: int, number: int) -> NewMemory:
    """The ``number``-th draft of memory ``index``: its type and importance differ from the final one's."""
    payload = {"text": f"draft {number} of memory {index}", "importance": (number + 1) / 10}
    return NewMemory(
        coordinate(index), payload, MemoryType.EPISODIC if index % 3 == 0 else MemoryType.SEMANTIC
    )


def seed(service: MemoryService, namespaces: tuple[str, ...] = NAMESPACES) -> None:
    """``MEMORIES_PER_NAMESPACE`` memories (both types, varied importance), ``LINKS_PER_NAMESPACE``
    links and ``VERSIONS_PER_NAMESPACE`` versions in each namespace."""
    for offset, namespace in enumerate(namespaces):
        for index in range(VERSIONED):
            for number in range(1 + index % 3):
                service.store_memory(namespace, draft(index, number))
        items = [
            NewMemory(
                coordinate(index),
                {
                    "text": text(namespace, offset, index),
                    "importance": (index % 10) / 10,
                    "tags": [TOPICS[index % 8]],
                },
                MemoryType.SEMANTIC if index % 3 == 0 else MemoryType.EPISODIC,
            )
            for index in range(MEMORIES_PER_NAMESPACE)
        ]
        service.store_many(namespace, items)
        for index in range(LINKS_PER_NAMESPACE):
            service.link(namespace, coordinate(index), coordinate(index + 1), "follows", 0.5 + index / 100)


def contents(service: MemoryService, namespace: str) -> list[dict[str, Any]]:
    """Every memory and link of the namespace as export records, and every version of its memories
    (number, payload, type, importance, updated_at, replaced_at), in a stable order."""
    records = list(service.export_records(namespace))
    for record in [record for record in records if record["kind"] == "memory"]:
        coordinate = tuple(record["coord"])
        kept = service.versions(namespace, coordinate)
        records.extend(version_to_record(StoredVersion(namespace, coordinate, v)) for v in kept)
    return sorted(records, key=lambda record: json.dumps(record, sort_keys=True))


def versions_of(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [record for record in records if record["kind"] == "version"]


def top_coordinates(service: MemoryService, namespace: str) -> list[list[tuple[float, ...]]]:
    return [
        [scored.memory.coordinate for scored in service.recall(namespace, query, top_k=TOP_K)]
        for query in QUERIES
    ]
