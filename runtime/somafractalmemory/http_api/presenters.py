"""Core records into response shapes."""

from typing import Any

from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.models import Link, Memory, ScoredMemory
from somafractalmemory.core.service import ImportReport
from somafractalmemory.http_api.schemas import (
    ImportResponseV1,
    LinkResource,
    MemoryResource,
    ScoredMemoryResource,
    ScoredPayload,
)


def coordinate_text(coordinate: Coordinate) -> str:
    return ",".join(repr(x) for x in coordinate)


def reference_payload(memory: Memory) -> dict[str, Any]:
    """The payload as the reference service returned it: its coordinate, memory type and importance folded
    in, and a timestamp (the payload's own, as the reference kept it, else the time of the first store)."""
    return {
        "timestamp": memory.created_at,
        **memory.payload,
        "coordinate": list(memory.coordinate),
        "memory_type": memory.memory_type.value,
        "importance_norm": memory.importance,
    }


def import_resource(report: ImportReport) -> ImportResponseV1:
    return ImportResponseV1(
        memories=report.memories, links=report.links, versions=report.versions, errors=report.errors
    )


def scored_payload(scored: ScoredMemory) -> ScoredPayload:
    return ScoredPayload(payload=reference_payload(scored.memory), score=scored.score)


def reference_neighbor(link: Link) -> list[Any]:
    edge = {
        "to": list(link.target),
        "type": link.link_type,
        "timestamp": link.created_at,
        "weight": link.weight,
    }
    return [list(link.target), edge]


def memory_resource(memory: Memory) -> MemoryResource:
    return MemoryResource(
        namespace=memory.namespace,
        coord=list(memory.coordinate),
        payload=memory.payload,
        type=memory.memory_type.value,
        importance=memory.importance,
        created_at=memory.created_at,
        updated_at=memory.updated_at,
        access_count=memory.access_count,
        embedder=memory.embedder,
    )


def scored_resource(scored: ScoredMemory) -> ScoredMemoryResource:
    return ScoredMemoryResource(memory=memory_resource(scored.memory), score=scored.score)


def link_resource(link: Link) -> LinkResource:
    return LinkResource(
        from_coord=list(link.source),
        to_coord=list(link.target),
        type=link.link_type,
        weight=link.weight,
        created_at=link.created_at,
    )
