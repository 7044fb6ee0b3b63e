"""Memories and links as plain JSON records: the NDJSON export format, cache entries and bus messages."""

import json
from collections.abc import Iterable, Iterator
from typing import Any

from somafractalmemory.core.coordinates import coordinate_from_floats
from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.models import Link, Memory, MemoryType, normalise_importance

MEMORY_KIND = "memory"
LINK_KIND = "link"


def memory_to_record(memory: Memory) -> dict[str, Any]:
    return {
        "kind": MEMORY_KIND,
        "coord": list(memory.coordinate),
        "payload": memory.payload,
        "type": memory.memory_type.value,
        "importance": memory.importance,
        "created_at": memory.created_at,
        "updated_at": memory.updated_at,
        "access_count": memory.access_count,
    }


def link_to_record(link: Link) -> dict[str, Any]:
    return {
        "kind": LINK_KIND,
        "from": list(link.source),
        "to": list(link.target),
        "type": link.link_type,
        "weight": link.weight,
        "created_at": link.created_at,
    }


def _number(record: dict[str, Any], key: str, default: float) -> float:
    value = record.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"'{key}' must be a number")
    return float(value)


def _coordinate(record: dict[str, Any], key: str) -> tuple[float, ...]:
    value = record.get(key)
    if not isinstance(value, list):
        raise InvalidInput(f"'{key}' must be an array of numbers")
    return coordinate_from_floats(value)


def memory_from_record(namespace: str, record: dict[str, Any], now: float) -> Memory:
    payload = record.get("payload")
    if not isinstance(payload, dict):
        raise InvalidInput("'payload' must be a JSON object")
    memory_type = MemoryType.parse(record.get("type")) or MemoryType.EPISODIC
    access_count = record.get("access_count", 0)
    if isinstance(access_count, bool) or not isinstance(access_count, int) or access_count < 0:
        raise InvalidInput("'access_count' must be a non-negative integer")
    return Memory(
        namespace=namespace,
        coordinate=_coordinate(record, "coord"),
        payload=payload,
        memory_type=memory_type,
        importance=normalise_importance(record.get("importance", payload.get("importance"))),
        created_at=_number(record, "created_at", now),
        updated_at=_number(record, "updated_at", now),
        access_count=access_count,
    )


def link_from_record(namespace: str, record: dict[str, Any], now: float) -> Link:
    link_type = record.get("type", "related")
    if not isinstance(link_type, str) or not link_type:
        raise InvalidInput("'type' must be a non-empty string")
    return Link(
        namespace=namespace,
        source=_coordinate(record, "from"),
        target=_coordinate(record, "to"),
        link_type=link_type,
        weight=_number(record, "weight", 1.0),
        created_at=_number(record, "created_at", now),
    )


def encode_memory(memory: Memory) -> bytes:
    return json.dumps(memory_to_record(memory), separators=(",", ":")).encode()


def decode_memory(namespace: str, data: bytes) -> Memory:
    record = json.loads(data)
    return memory_from_record(namespace, record, now=float(record["updated_at"]))


def parse_ndjson(
    lines: Iterable[str | bytes], max_line_length: int | None = None
) -> Iterator[tuple[int, dict[str, Any] | InvalidInput]]:
    """Number the lines of an NDJSON stream and decode each; blank lines are skipped, bad ones reported."""
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        if max_line_length is not None and len(line) > max_line_length:
            yield number, InvalidInput(f"line is longer than {max_line_length} bytes")
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            yield number, InvalidInput(f"not valid JSON: {error}")
            continue
        if not isinstance(record, dict):
            yield number, InvalidInput("each line must be a JSON object")
            continue
        yield number, record
