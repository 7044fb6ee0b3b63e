"""The core's input checks: strict JSON text, payload shape, the coordinate grammar, import records."""

import json
import math
import random

import pytest

from somafractalmemory.core.coordinates import parse_coordinate
from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.json_text import decode_json
from somafractalmemory.core.payloads import MAX_PAYLOAD_DEPTH, check_payload
from somafractalmemory.core.records import MAX_ACCESS_COUNT, memory_from_record, parse_ndjson, record_line


def nested(levels: int) -> dict[str, object]:
    """A payload of exactly ``levels`` nested objects (the payload itself is level 1)."""
    value: dict[str, object] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def refused(message: str) -> "pytest.RaisesContext[InvalidInput]":
    return pytest.raises(InvalidInput, match=message)


# --- strict JSON text ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ('{"a": 1, "a": 2}', "duplicate key 'a' in a JSON object"),
        ('{"a": {"b": 1, "b": 1}}', "duplicate key 'b'"),
        ('{"a": NaN}', "NaN is not a JSON number"),
        ('{"a": Infinity}', "Infinity is not a JSON number"),
        ('{"a": -Infinity}', "-Infinity is not a JSON number"),
        ('{"a": 1e999}', "the number 1e999 is too large"),
        ('{"a": ' + "9" * 5000 + "}", "cannot read"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_json_the_syntax_allows_but_the_server_refuses(data: str, message: str) -> None:
    with refused(message):
        decode_json(data)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32", "latin-1"])
def test_json_must_be_utf8(encoding: str) -> None:
    with refused("JSON must be UTF-8"):
        decode_json('{"text": "café"}'.encode(encoding))


def test_broken_syntax_stays_a_decode_error() -> None:
    with pytest.raises(json.JSONDecodeError):
        decode_json(b"{not json")


def test_plain_json_decodes_as_usual() -> None:
    assert decode_json(b'{"a": [1, 2.5, "\\ud83d\\ude00", null, true]}') == {"a": [1, 2.5, "😀", None, True]}
    assert decode_json('{"big": 18446744073709551616}') == {"big": 2**64}


# --- payloads -----------------------------------------------------------------------------------


def test_payload_depth_limit_is_exact() -> None:
    assert check_payload(nested(MAX_PAYLOAD_DEPTH)) == nested(MAX_PAYLOAD_DEPTH)
    with refused(f"nests objects and arrays deeper than {MAX_PAYLOAD_DEPTH} levels"):
        check_payload(nested(MAX_PAYLOAD_DEPTH + 1))
    arrays: list[object] = [1]
    for _ in range(MAX_PAYLOAD_DEPTH - 2):
        arrays = [arrays]
    assert check_payload({"a": arrays})
    with refused("deeper than 64 levels"):
        check_payload({"a": [arrays]})


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"t": "ok \ud800"}, r"payload.t holds a lone UTF-16 surrogate"),
        ({"\udfff": 1}, r"a key of payload holds a lone UTF-16 surrogate"),
        ({"a": ["x", {"b": "\udc80"}]}, r"payload.a\[1\].b holds a lone UTF-16 surrogate"),
        ({"t": "a\x00b"}, r"payload.t holds a NUL character \(\\u0000\), which no text field may hold"),
        ({"k\x00": 1}, r"a key of payload holds a NUL character"),
        ({"x": math.nan}, r"payload.x is not a finite number"),
        ({"x": [math.inf]}, r"payload.x\[0\] is not a finite number"),
        ([], "payload must be a JSON object"),
    ],
)
def test_payload_refusals_say_where(payload: object, message: str) -> None:
    with refused(message):
        check_payload(payload)


# --- coordinates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["1_0,2", "inf", "nan", "Infinity", "1e999", "0x10", "\u0661", "1,2,", " ", "1e288", "1.5.2"]
)
def test_coordinate_grammar_refuses(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_coordinate(text)


def test_coordinate_grammar_accepts_what_clients_write() -> None:
    assert parse_coordinate(" 1") == (1.0,)
    assert parse_coordinate("1, 2.5 ,\t-3") == (1.0, 2.5, -3.0)
    assert parse_coordinate("+1,.5,5.,1e-05,-0") == (1.0, 0.5, 5.0, 1e-05, 0.0)
    numbers = [
        random.Random(seed).uniform(-1, 1) * 10 ** random.Random(seed).randint(-300, 287)
        for seed in range(200)
    ]
    for number in numbers:
        assert parse_coordinate(repr(number)) == (number,)


# --- import records -----------------------------------------------------------------------------


def record(**fields: object) -> dict[str, object]:
    return {"kind": "memory", "coord": [1, 2], "payload": {"text": "x"}, **fields}


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"created_at": math.nan}, "'created_at' must be a finite number"),
        ({"updated_at": math.inf}, "'updated_at' must be a finite number"),
        ({"created_at": 10**400}, "'created_at' must be a finite number"),
        ({"access_count": 2**64}, f"'access_count' must be an integer from 0 to {MAX_ACCESS_COUNT}"),
        ({"access_count": -1}, "'access_count' must be an integer"),
        ({"access_count": True}, "'access_count' must be an integer"),
        ({"importance": 7}, "'importance' must be a number from 0 to 1"),
        ({"importance": "high"}, "'importance' must be a number"),
        ({"type": 3}, "'type' must be 'episodic' or 'semantic'"),
        ({"type": "dream"}, "type must be 'episodic' or 'semantic'"),
        ({"payload": nested(MAX_PAYLOAD_DEPTH + 1)}, "deeper than 64 levels"),
        ({"payload": {"x": math.nan}}, "payload.x is not a finite number"),
        ({"coord": ["1"]}, "coordinate component 0 must be a number"),
        ({"coord": [True]}, "coordinate component 0 must be a number"),
    ],
)
def test_import_records_get_the_store_checks(fields: dict[str, object], message: str) -> None:
    with refused(message):
        memory_from_record("ns", record(**fields), now=0.0)


def test_import_lines_are_decoded_strictly_and_numbered() -> None:
    lines = [
        b'{"coord": [1], "payload": {"x": NaN}}\n',
        b"\n",
        b'{"coord": [1], "coord": [2], "payload": {}}\n',
        '{"coord": [1], "payload": {"t": "é"}}\n'.encode("latin-1"),
        b'{"coord": [1], "payload": {}}\n',
    ]
    parsed = list(parse_ndjson(lines))
    assert [number for number, _ in parsed] == [1, 3, 4, 5]
    assert [str(value) for _, value in parsed[:3]] == [
        "NaN is not a JSON number",
        "duplicate key 'coord' in a JSON object",
        "JSON must be UTF-8: byte 33 is not valid UTF-8",
    ]
    assert parsed[3][1] == {"coord": [1], "payload": {}}


def test_export_lines_are_always_json() -> None:
    line = record_line({"kind": "memory", "payload": {"x": math.nan, "y": [math.inf, 1.5]}})
    assert json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in export")) == {
        "kind": "memory",
        "payload": {"x": None, "y": [None, 1.5]},
    }
    assert record_line({"a": 1}) == b'{"a":1}\n'
