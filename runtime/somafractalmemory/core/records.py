"""Memories, links and versions as plain JSON records: the NDJSON export and backup format, cache
entries and bus messages."""

import json
import math
from collections.abc import Iterable, Iterator
from typing import Any

from somafractalmemory.core.coordinates import coordinate_from_floats
from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.json_text import compact_json, decode_json
from somafractalmemory.core.models import (
    Link,
    Memory,
    MemoryType,
    MemoryVersion,
    StoredVersion,
    normalise_importance,
)
from somafractalmemory.core.payloads import check_payload, check_text, is_blank

MEMORY_KIND = "memory"
LINK_KIND = "link"
VERSION_KIND = "version"
# What a version number column holds (PostgreSQL integer).
MAX_VERSION_NUMBER = 2**31 - 1


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


def version_to_record(stored: StoredVersion) -> dict[str, Any]:
    version = stored.version
    return {
        "kind": VERSION_KIND,
        "coord": list(stored.coordinate),
        "number": version.number,
        "payload": version.payload,
        "type": version.memory_type.value,
        "importance": version.importance,
        "updated_at": version.updated_at,
        "replaced_at": version.replaced_at,
    }


# What every JSON reader holds exactly, and far from the 64-bit limit an increment could overflow.
MAX_ACCESS_COUNT = 2**53 - 1


def _number(record: dict[str, Any], key: str, default: float) -> float:
    value = record.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"'{key}' must be a number")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InvalidInput(f"'{key}' must be a finite number")
    return number


def _coordinate(record: dict[str, Any], key: str) -> tuple[float, ...]:
    value = record.get(key)
    if not isinstance(value, list):
        raise InvalidInput(f"'{key}' must be an array of numbers")
    return coordinate_from_floats(value)


def _importance(record: dict[str, Any], payload: dict[str, Any]) -> float:
    """The record's importance as export writes it, else the payload's as a store reads it."""
    if "importance" not in record:
        return normalise_importance(payload.get("importance"))
    importance = _number(record, "importance", 0.0)
    if not 0.0 <= importance <= 1.0:
        raise InvalidInput("'importance' must be a number from 0 to 1")
    return importance


def _access_count(record: dict[str, Any]) -> int:
    count = record.get("access_count", 0)
    if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_ACCESS_COUNT:
        raise InvalidInput(f"'access_count' must be an integer from 0 to {MAX_ACCESS_COUNT}")
    return count


def memory_from_record(namespace: str, record: dict[str, Any], now: float) -> Memory:
    """A memory record, checked exactly as a store checks its request."""
    payload = check_payload(record.get("payload"))
    type_name = record.get("type")
    if type_name is not None and not isinstance(type_name, str):
        raise InvalidInput("'type' must be 'episodic' or 'semantic'")
    return Memory(
        namespace=namespace,
        coordinate=_coordinate(record, "coord"),
        payload=payload,
        memory_type=MemoryType.parse(type_name) or MemoryType.EPISODIC,
        importance=_importance(record, payload),
        created_at=_number(record, "created_at", now),
        updated_at=_number(record, "updated_at", now),
        access_count=_access_count(record),
    )


def link_from_record(namespace: str, record: dict[str, Any], now: float) -> Link:
    link_type = record.get("type", "related")
    if not isinstance(link_type, str) or is_blank(link_type):
        raise InvalidInput("'type' must be a non-empty string")
    weight = _number(record, "weight", 1.0)
    if weight < 0:
        raise InvalidInput("'weight' must not be negative")
    return Link(
        namespace=namespace,
        source=_coordinate(record, "from"),
        target=_coordinate(record, "to"),
        link_type=check_text(link_type, "'type'"),
        weight=weight,
        created_at=_number(record, "created_at", now),
    )


def version_from_record(namespace: str, record: dict[str, Any]) -> StoredVersion:
    """A version record, every field required: it is written back exactly as it was kept."""
    number = record.get("number")
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= MAX_VERSION_NUMBER:
        raise InvalidInput(f"'number' must be an integer from 1 to {MAX_VERSION_NUMBER}")
    type_name = record.get("type")
    if type_name not in (MemoryType.EPISODIC.value, MemoryType.SEMANTIC.value):
        raise InvalidInput("'type' must be 'episodic' or 'semantic'")
    for key in ("importance", "updated_at", "replaced_at"):
        if key not in record:
            raise InvalidInput(f"'{key}' is missing")
    payload = check_payload(record.get("payload"))
    version = MemoryVersion(
        number=number,
        payload=payload,
        memory_type=MemoryType(type_name),
        importance=_importance(record, payload),
        updated_at=_number(record, "updated_at", 0.0),
        replaced_at=_number(record, "replaced_at", 0.0),
    )
    return StoredVersion(namespace, _coordinate(record, "coord"), version)


def from_record(namespace: str, record: dict[str, Any], now: float) -> Memory | Link | StoredVersion:
    kind = record.get("kind", MEMORY_KIND)
    if kind == MEMORY_KIND:
        return memory_from_record(namespace, record, now)
    if kind == LINK_KIND:
        return link_from_record(namespace, record, now)
    if kind == VERSION_KIND:
        return version_from_record(namespace, record)
    shown = repr(kind)[:40] if isinstance(kind, str) else "not a string"
    raise InvalidInput(f"unknown kind {shown}: use 'memory', 'link' or 'version'")


def _null_if_not_finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _null_if_not_finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_null_if_not_finite(item) for item in value]
    return value


def record_line(record: dict[str, Any]) -> bytes:
    """One NDJSON line of export: always valid JSON. A non-finite number stored before payloads were
    checked is written as null, as a read of that memory shows it."""
    try:
        text = json.dumps(record, separators=(",", ":"), allow_nan=False)
    except ValueError:
        text = json.dumps(_null_if_not_finite(record), separators=(",", ":"), allow_nan=False)
    return text.encode() + b"\n"


def encode_memory(memory: Memory) -> bytes:
    """A cache entry: the memory's record and its embedder (which export leaves out: import embeds anew)."""
    record = {**memory_to_record(memory), "embedder": memory.embedder}
    return compact_json(record).encode()


def decode_memory(namespace: str, data: bytes) -> Memory:
    """A cache entry back into its memory: written by ``encode_memory`` from a stored one, so not checked."""
    record = json.loads(data)
    return Memory(
        namespace=namespace,
        coordinate=tuple(record["coord"]),
        payload=record["payload"],
        memory_type=MemoryType(record["type"]),
        importance=record["importance"],
        created_at=record["created_at"],
        updated_at=record["updated_at"],
        access_count=record["access_count"],
        embedder=record.get("embedder"),
    )


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
            record = decode_json(line)
        except InvalidInput as error:
            yield number, error
            continue
        except ValueError as error:
            yield number, InvalidInput(f"not valid JSON: {error}")
            continue
        if not isinstance(record, dict):
            yield number, InvalidInput("each line must be a JSON object")
            continue
        yield number, record
