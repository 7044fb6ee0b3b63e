"""Export and import records pinned to their values: the fields written, the defaults read, each check at
its boundary with its message, and NDJSON line handling."""

import dataclasses
import json
import math

from refusals import message

from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.models import Link, Memory, MemoryType
from somafractalmemory.core.records import (
    LINK_KIND,
    MAX_ACCESS_COUNT,
    MEMORY_KIND,
    decode_memory,
    encode_memory,
    from_record,
    link_from_record,
    link_to_record,
    memory_from_record,
    memory_to_record,
    parse_ndjson,
    record_line,
)

NOW = 1700.5
MEMORY = Memory("ns", (1.0, 2.0), {"text": "x"}, MemoryType.SEMANTIC, 0.25, 10.0, 20.0, 3)
LINK = Link("ns", (1.0,), (2.0,), "causes", 2.5, 30.0)


def memory_record(**fields: object) -> dict[str, object]:
    return {"coord": [1, 2], "payload": {"text": "x"}, **fields}


def link_record(**fields: object) -> dict[str, object]:
    return {"kind": "link", "from": [1], "to": [2], **fields}


def test_records_carry_every_field() -> None:
    assert (MEMORY_KIND, LINK_KIND) == ("memory", "link")
    assert memory_to_record(MEMORY) == {
        "kind": "memory",
        "coord": [1.0, 2.0],
        "payload": {"text": "x"},
        "type": "semantic",
        "importance": 0.25,
        "created_at": 10.0,
        "updated_at": 20.0,
        "access_count": 3,
    }
    assert link_to_record(LINK) == {
        "kind": "link",
        "from": [1.0],
        "to": [2.0],
        "type": "causes",
        "weight": 2.5,
        "created_at": 30.0,
    }


def test_records_round_trip() -> None:
    assert from_record("ns", memory_to_record(MEMORY), NOW) == MEMORY
    assert from_record("ns", link_to_record(LINK), NOW) == LINK
    assert decode_memory("ns", encode_memory(MEMORY)) == MEMORY
    cached = {**memory_to_record(MEMORY), "embedder": None}  # a cache entry also keeps the embedder
    assert encode_memory(MEMORY) == json.dumps(cached, separators=(",", ":")).encode()
    embedded = dataclasses.replace(MEMORY, embedder="hashing:rules-1b13d4b8:384")
    assert decode_memory("ns", encode_memory(embedded)) == embedded
    assert "embedder" not in memory_to_record(embedded)  # export leaves it out: an import embeds anew


def test_a_memory_record_fills_what_it_leaves_out() -> None:
    memory = from_record("other", memory_record(), NOW)
    assert memory == Memory("other", (1.0, 2.0), {"text": "x"}, MemoryType.EPISODIC, 0.5, NOW, NOW, 0)
    with_importance = memory_from_record("ns", memory_record(payload={"importance": 0.9}), NOW)
    assert with_importance.importance == 0.9
    assert memory_from_record("ns", memory_record(payload={"importance": 7}), NOW).importance == 1.0
    assert memory_from_record("ns", memory_record(type=None), NOW).memory_type is MemoryType.EPISODIC


def test_importance_is_0_to_1_inclusive() -> None:
    assert memory_from_record("ns", memory_record(importance=0), NOW).importance == 0.0
    assert memory_from_record("ns", memory_record(importance=1), NOW).importance == 1.0
    for bad in (-0.001, 1.001):
        assert message(memory_from_record, "ns", memory_record(importance=bad), NOW) == (
            "'importance' must be a number from 0 to 1"
        )
    assert message(memory_from_record, "ns", memory_record(importance=None), NOW) == (
        "'importance' must be a number"
    )
    assert message(memory_from_record, "ns", memory_record(importance=True), NOW) == (
        "'importance' must be a number"
    )


def test_access_count_is_0_to_2_to_the_53_minus_1() -> None:
    assert MAX_ACCESS_COUNT == 2**53 - 1
    assert memory_from_record("ns", memory_record(access_count=0), NOW).access_count == 0
    top = memory_from_record("ns", memory_record(access_count=MAX_ACCESS_COUNT), NOW)
    assert top.access_count == MAX_ACCESS_COUNT
    for bad in (MAX_ACCESS_COUNT + 1, -1, 1.0, "1", False):
        assert message(memory_from_record, "ns", memory_record(access_count=bad), NOW) == (
            "'access_count' must be an integer from 0 to 9007199254740991"
        )


def test_numbers_and_coordinates_say_which_field() -> None:
    assert message(memory_from_record, "ns", memory_record(created_at="now"), NOW) == (
        "'created_at' must be a number"
    )
    assert message(memory_from_record, "ns", memory_record(updated_at=False), NOW) == (
        "'updated_at' must be a number"
    )
    assert message(memory_from_record, "ns", memory_record(created_at=10**400), NOW) == (
        "'created_at' must be a finite number"
    )
    assert message(memory_from_record, "ns", memory_record(coord="1,2"), NOW) == (
        "'coord' must be an array of numbers"
    )
    assert message(memory_from_record, "ns", {"payload": {}}, NOW) == "'coord' must be an array of numbers"
    assert message(link_from_record, "ns", link_record(**{"from": None}), NOW) == (
        "'from' must be an array of numbers"
    )
    assert message(link_from_record, "ns", link_record(to=(2,)), NOW) == "'to' must be an array of numbers"
    assert message(memory_from_record, "ns", memory_record(type=["semantic"]), NOW) == (
        "'type' must be 'episodic' or 'semantic'"
    )
    assert (
        message(memory_from_record, "ns", memory_record(payload=[1]), NOW) == "payload must be a JSON object"
    )
    assert message(memory_from_record, "ns", {"coord": [1]}, NOW) == "payload must be a JSON object"


def test_a_link_record_fills_what_it_leaves_out() -> None:
    link = link_from_record("ns", {"from": [1], "to": [2]}, NOW)
    assert link == Link("ns", (1.0,), (2.0,), "related", 1.0, NOW)
    assert link_from_record("ns", link_record(weight=0), NOW).weight == 0.0
    assert isinstance(link_from_record("ns", link_record(weight=3), NOW).weight, float)


def test_link_record_checks() -> None:
    assert message(link_from_record, "ns", link_record(weight=-0.5), NOW) == "'weight' must not be negative"
    assert message(link_from_record, "ns", link_record(weight="1"), NOW) == "'weight' must be a number"
    assert (
        message(link_from_record, "ns", link_record(weight=math.inf), NOW)
        == "'weight' must be a finite number"
    )
    for bad in ("", "  \t", None, 3):
        assert (
            message(link_from_record, "ns", link_record(type=bad), NOW) == "'type' must be a non-empty string"
        )
    assert message(link_from_record, "ns", link_record(type="a\x00"), NOW) == (
        "'type' holds a NUL character (\\u0000), which no text field may hold"
    )
    assert message(link_from_record, "ns", link_record(created_at=math.nan), NOW) == (
        "'created_at' must be a finite number"
    )


def test_the_kind_decides_and_an_unknown_one_is_named() -> None:
    assert isinstance(from_record("ns", memory_record(kind="memory"), NOW), Memory)
    assert isinstance(from_record("ns", link_record(), NOW), Link)
    assert message(from_record, "ns", memory_record(kind="thought"), NOW) == (
        "unknown kind 'thought': use 'memory', 'link' or 'version'"
    )
    assert message(from_record, "ns", memory_record(kind="k" * 100), NOW) == (
        f"unknown kind {repr('k' * 100)[:40]}: use 'memory', 'link' or 'version'"
    )
    assert message(from_record, "ns", memory_record(kind=None), NOW) == (
        "unknown kind not a string: use 'memory', 'link' or 'version'"
    )


def test_export_lines_write_non_finite_numbers_as_null_at_any_depth() -> None:
    record = {"a": [1.5, {"b": math.nan, "c": [math.inf, "s"]}], "d": -math.inf, "e": True, "f": None}
    assert record_line(record) == b'{"a":[1.5,{"b":null,"c":[null,"s"]}],"d":null,"e":true,"f":null}\n'
    assert record_line({"x": [1, 2], "y": "z"}) == b'{"x":[1,2],"y":"z"}\n'


def test_ndjson_lines_are_numbered_from_1_and_checked() -> None:
    lines = [" \n", b'{"a": 1}\n', "[1]\n", "{broken\n", b"", '"text"', '{"b": 2}']
    parsed = list(parse_ndjson(lines))
    assert [number for number, _ in parsed] == [2, 3, 4, 6, 7]
    assert parsed[0][1] == {"a": 1}
    assert str(parsed[1][1]) == "each line must be a JSON object"
    assert isinstance(parsed[2][1], InvalidInput)
    assert str(parsed[2][1]).startswith("not valid JSON: Expecting property name enclosed in double quotes")
    assert str(parsed[3][1]) == "each line must be a JSON object"
    assert parsed[4] == (7, {"b": 2})


def test_the_line_limit_is_inclusive() -> None:
    line = '{"a": 12345}'  # 12 characters
    assert list(parse_ndjson([line], max_line_length=12)) == [(1, {"a": 12345})]
    [(number, error), after] = list(parse_ndjson([line, "{}"], max_line_length=11))
    assert number == 1
    assert after == (2, {})
    assert isinstance(error, InvalidInput)
    assert str(error) == "line is longer than 11 bytes"
    assert list(parse_ndjson([line], max_line_length=None)) == [(1, {"a": 12345})]
