"""Filters pinned to their values: each refusal with its message, $in and $nin items checked as scalars,
every operator at its boundary, and missing fields."""

import pytest

from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.filters import (
    ABSENT,
    Condition,
    FilterOp,
    condition_holds,
    field_value,
    matches,
    parse_filters,
)

PAYLOAD = {"n": 5, "f": 2.5, "tag": "a", "flag": True, "meta": {"source": "web", "deep": {"x": 1}}}


def message(raw: object) -> str:
    with pytest.raises(InvalidInput) as raised:
        parse_filters(raw)  # type: ignore[arg-type]
    return str(raised.value)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"n": {"$in": [1, [2]]}}, "filter on 'n' compares with a string, number, boolean or null"),
        ({"n": {"$nin": [{"a": 1}]}}, "filter on 'n' compares with a string, number, boolean or null"),
        ({"n": [1, {"a": 1}]}, "filter on 'n' compares with a string, number, boolean or null"),
        ({"n": {"$eq": [1]}}, "filter on 'n' compares with a string, number, boolean or null"),
        ({"n": {"$in": "abc"}}, "$in on 'n' takes an array"),
        ({"n": {"$nin": 1}}, "$nin on 'n' takes an array"),
        ({"n": {"$exists": "yes"}}, "$exists on 'n' takes true or false"),
        ({"n": {"$gt": True}}, "$gt on 'n' takes a number"),
        ({"n": {"$lte": None}}, "$lte on 'n' takes a number"),
        ({"n": {}}, "filter on 'n' has no operator"),
        ({"": 1}, "filter field names must be non-empty strings"),
        ({1: 1}, "filter field names must be non-empty strings"),
        ({"n\x00": 1}, "a filter field name holds a NUL character (\\u0000), which no text field may hold"),
        ({"n": "a\x00"}, "the filter on 'n' holds a NUL character (\\u0000), which no text field may hold"),
        ({"n": {"$in": ["\ud800"]}}, "the filter on 'n' holds a lone UTF-16 surrogate"),
        ([["n", 1]], "filters must be a JSON object of field: value"),
        (
            {"n": {"$regex": "x"}},
            "unknown filter operator '$regex' on 'n'; use one of "
            "$eq, $ne, $in, $nin, $gt, $gte, $lt, $lte, $exists",
        ),
    ],
)
def test_refusals_say_what_to_fix(raw: object, expected: str) -> None:
    assert message(raw).startswith(expected)


def test_parsed_conditions() -> None:
    assert parse_filters(None) == ()
    assert parse_filters({}) == ()
    assert parse_filters({"a": 1, "b": ["x", None], "c": {"$gte": 2, "$exists": True}}) == (
        Condition("a", FilterOp.EQ, 1),
        Condition("b", FilterOp.IN, ("x", None)),
        Condition("c", FilterOp.GTE, 2),
        Condition("c", FilterOp.EXISTS, True),
    )
    assert parse_filters({"a": {"$nin": [1, 2.5, "s", False, None]}}) == (
        Condition("a", FilterOp.NIN, (1, 2.5, "s", False, None)),
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"n": {"$gt": 5}}, False),
        ({"n": {"$gt": 4.9}}, True),
        ({"n": {"$gte": 5}}, True),
        ({"n": {"$gte": 5.1}}, False),
        ({"n": {"$lt": 5}}, False),
        ({"n": {"$lt": 5.1}}, True),
        ({"n": {"$lte": 5}}, True),
        ({"n": {"$lte": 4.9}}, False),
        ({"flag": {"$gte": 0}}, False),
        ({"missing": {"$gt": 0}}, False),
        ({"missing": {"$nin": [1]}}, True),
        ({"missing": {"$in": [None]}}, False),
        ({"missing": None}, False),
        ({"n": {"$exists": True}}, True),
        ({"n": {"$exists": False}}, False),
        ({"missing": {"$exists": True}}, False),
        ({"n": {"$ne": 5}}, False),
        ({"n": {"$nin": [4, 5]}}, False),
        ({"n": {"$nin": [4, 6]}}, True),
        ({"n": {"$in": [4, 6]}}, False),
        ({"flag": {"$in": [1]}}, False),
        ({"flag": {"$nin": [1]}}, True),
        ({"flag": {"$ne": 1}}, True),
        ({"meta.deep.x": 1}, True),
        ({"meta.source.x": 1}, False),
        ({"n": 5, "tag": "b"}, False),
        ({"n": 5, "tag": "a"}, True),
    ],
)
def test_operators_at_their_boundaries(raw: dict[str, object], expected: bool) -> None:
    assert matches(PAYLOAD, parse_filters(raw)) is expected


def test_field_values_follow_dotted_names() -> None:
    assert field_value(PAYLOAD, "meta.source") == "web"
    assert field_value(PAYLOAD, "meta.deep") == {"x": 1}
    assert field_value(PAYLOAD, "meta.nope") is ABSENT
    assert field_value(PAYLOAD, "n.x") is ABSENT
    assert condition_holds(PAYLOAD, Condition("tag", FilterOp.EQ, "a")) is True
    assert matches(PAYLOAD, ()) is True
