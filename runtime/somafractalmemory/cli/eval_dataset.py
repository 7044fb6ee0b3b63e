"""The JSONL dataset ``soma eval`` reads: memories, then queries with the ids of their relevant memories.

One JSON object a line::

    {"type": "memory", "id": "D1:3", "text": "..."}
    {"type": "query", "query": "...", "relevant": ["D1:3"]}

Memory ids are unique; every relevant id names a memory of the file. A bad line is refused with its
number, before anything is stored.
"""

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from somafractalmemory.cli.errors import UsageError


@dataclass(frozen=True, slots=True)
class EvalMemory:
    id: str
    text: str


@dataclass(frozen=True, slots=True)
class EvalQuery:
    query: str
    relevant: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class EvalDataset:
    memories: tuple[EvalMemory, ...]
    queries: tuple[EvalQuery, ...]


def _text(record: dict[str, Any], field: str, number: int) -> str:
    value = record.get(field)
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"line {number}: {field!r} must be a non-empty string")
    return value


def _relevant(record: dict[str, Any], number: int) -> tuple[str, ...]:
    value = record.get("relevant")
    if not isinstance(value, list) or not value or not all(isinstance(item, str) for item in value):
        raise UsageError(f"line {number}: 'relevant' must be a non-empty list of memory ids")
    return tuple(value)


def parse_dataset(lines: Iterable[str]) -> EvalDataset:
    memories: dict[str, EvalMemory] = {}
    queries: list[tuple[int, EvalQuery]] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line.rstrip("\r\n"))
        except ValueError as error:
            raise UsageError(f"line {number}: not valid JSON ({error})") from None
        kind = record.get("type") if isinstance(record, dict) else None
        if kind == "memory":
            memory = EvalMemory(_text(record, "id", number), _text(record, "text", number))
            if memory.id in memories:
                raise UsageError(f"line {number}: memory id {memory.id!r} appears twice")
            memories[memory.id] = memory
        elif kind == "query":
            queries.append((number, EvalQuery(_text(record, "query", number), _relevant(record, number))))
        else:
            raise UsageError(f'line {number}: expected an object with "type": "memory" or "query"')
    for number, query in queries:
        unknown = [ident for ident in query.relevant if ident not in memories]
        if unknown:
            raise UsageError(f"line {number}: relevant id {unknown[0]!r} is no memory of the dataset")
    if not memories or not queries:
        raise UsageError("the dataset needs at least one memory and one query")
    return EvalDataset(tuple(memories.values()), tuple(query for _, query in queries))
