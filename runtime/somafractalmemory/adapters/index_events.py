"""The events that keep the vector index in step with the document store, as bus messages.

An event is the full new state of one memory (``upsert``) or its removal (``delete``). Applying the events of
one key in order is idempotent, so a redelivered message changes nothing. The message key is namespace +
canonical coordinate key: every event of one memory lands in one partition, in order.
"""

import json
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from somafractalmemory.core.coordinates import Coordinate, coordinate_from_floats, coordinate_key
from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.models import Memory
from somafractalmemory.core.records import memory_from_record, memory_to_record

KEY_SEPARATOR = "\x1f"  # cannot appear in a coordinate key; namespaces are not expected to hold it


class IndexOp(StrEnum):
    UPSERT = "upsert"
    DELETE = "delete"


@dataclass(frozen=True, slots=True)
class IndexEvent:
    op: IndexOp
    namespace: str
    coordinate: Coordinate
    memory: Memory | None  # set for upserts
    emitted_at: float  # wall-clock time the write committed the event (for store-to-index latency)

    @property
    def key(self) -> str:
        return event_key(self.namespace, self.coordinate)


def event_key(namespace: str, coordinate: Coordinate) -> str:
    return f"{namespace}{KEY_SEPARATOR}{coordinate_key(coordinate)}"


def encode_upsert(memory: Memory) -> bytes:
    body = {"op": IndexOp.UPSERT.value, "namespace": memory.namespace, "memory": memory_to_record(memory)}
    return _encode(body)


def encode_delete(namespace: str, coordinate: Coordinate) -> bytes:
    return _encode({"op": IndexOp.DELETE.value, "namespace": namespace, "coord": list(coordinate)})


def _encode(body: dict[str, Any]) -> bytes:
    body["emitted_at"] = time.time()
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()


def decode(message: bytes) -> IndexEvent:
    """Parse a bus message; anything malformed raises InvalidInput (the consumer dead-letters it)."""
    try:
        body = json.loads(message)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise InvalidInput(f"event is not JSON: {error}") from None
    if not isinstance(body, dict):
        raise InvalidInput("event must be a JSON object")
    namespace = body.get("namespace")
    if not isinstance(namespace, str) or not namespace:
        raise InvalidInput("event needs a non-empty string 'namespace'")
    emitted_at = body.get("emitted_at", 0.0)
    if isinstance(emitted_at, bool) or not isinstance(emitted_at, int | float):
        raise InvalidInput("'emitted_at' must be a number")
    try:
        op = IndexOp(str(body.get("op")))
    except ValueError:
        raise InvalidInput(f"unknown event op {body.get('op')!r}") from None
    if op is IndexOp.UPSERT:
        record = body.get("memory")
        if not isinstance(record, dict):
            raise InvalidInput("an upsert event needs a 'memory' record")
        memory = memory_from_record(namespace, record, now=float(emitted_at))
        return IndexEvent(op, namespace, memory.coordinate, memory, float(emitted_at))
    coord = body.get("coord")
    if not isinstance(coord, list):
        raise InvalidInput("a delete event needs 'coord' as an array of numbers")
    return IndexEvent(op, namespace, coordinate_from_floats(coord), None, float(emitted_at))
