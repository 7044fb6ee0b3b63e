"""Memories and links a backup test writes, and what a test compares before and after a restore."""

import json
from typing import Any

from somafractalmemory.core.models import MemoryType
from somafractalmemory.core.service import MemoryService, NewMemory

NAMESPACES = ("alpha", "beta", "gamma/with slash")
TOPICS = ("apples", "harbour", "violin", "glacier", "compiler", "saffron", "tide", "lantern")
QUERIES = ("apples in the harbour", "violin and saffron", "a glacier at low tide", "compiler lantern")
MEMORIES_PER_NAMESPACE = 60
LINKS_PER_NAMESPACE = 20
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


def seed(service: MemoryService, namespaces: tuple[str, ...] = NAMESPACES) -> None:
    """``MEMORIES_PER_NAMESPACE`` memories (both types, varied importance) and ``LINKS_PER_NAMESPACE``
    links in each namespace."""
    for offset, namespace in enumerate(namespaces):
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
    """Every memory and link of the namespace as export records, in a stable order."""
    records = list(service.export_records(namespace))
    return sorted(records, key=lambda record: json.dumps(record, sort_keys=True))


def top_coordinates(service: MemoryService, namespace: str) -> list[list[tuple[float, ...]]]:
    return [
        [scored.memory.coordinate for scored in service.recall(namespace, query, top_k=TOP_K)]
        for query in QUERIES
    ]
