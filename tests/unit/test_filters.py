import pytest

from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.filters import FilterOp, matches, parse_filters

PAYLOAD = {"tag": "a", "n": 5, "flag": True, "meta": {"source": "web"}, "none": None}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"tag": "a"}, True),
        ({"tag": "b"}, False),
        ({"tag": ["b", "a"]}, True),
        ({"n": {"$gt": 4, "$lte": 5}}, True),
        ({"n": {"$lt": 5}}, False),
        ({"meta.source": "web"}, True),
        ({"meta.missing": {"$exists": False}}, True),
        ({"tag": {"$ne": "b"}}, True),
        ({"missing": {"$ne": "x"}}, True),
        ({"tag": {"$nin": ["a"]}}, False),
        ({"flag": 1}, False),
        ({"n": True}, False),
        ({"flag": True}, True),
        ({"none": None}, True),
        ({"tag": {"$gt": 1}}, False),
    ],
)
def test_conditions_evaluate(raw: dict[str, object], expected: bool) -> None:
    assert matches(PAYLOAD, parse_filters(raw)) is expected


def test_parses_operators() -> None:
    conditions = parse_filters({"n": {"$gte": 1}})
    assert conditions[0].op is FilterOp.GTE


@pytest.mark.parametrize(
    "raw",
    [
        {"n": {"$regex": "x"}},
        {"n": {}},
        {"n": {"$gt": "x"}},
        {"n": {"$in": 3}},
        {"n": {"a": 1}},
        {"": 1},
        {"n": {"$exists": 1}},
    ],
)
def test_rejects_bad_filters(raw: dict[str, object]) -> None:
    with pytest.raises(InvalidInput):
        parse_filters(raw)
