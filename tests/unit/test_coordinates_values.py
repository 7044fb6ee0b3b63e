"""Coordinates pinned to their values: every message, the 64-number limit at its boundary, the grammar's
digit and exponent bounds, the published pattern and the canonical key."""

import math
import re

import pytest
from refusals import message

from somafractalmemory.core.coordinates import (
    COORDINATE_HELP,
    COORDINATE_PATTERN,
    MAX_DIMENSIONS,
    coordinate_from_floats,
    coordinate_from_key,
    coordinate_key,
    parse_coordinate,
    parse_coordinate_value,
)


def test_the_limit_is_64_numbers_exactly() -> None:
    assert MAX_DIMENSIONS == 64
    assert coordinate_from_floats([1] * 64) == (1.0,) * 64
    assert message(coordinate_from_floats, [1] * 65) == "a coordinate has at most 64 numbers, got 65"
    assert parse_coordinate(",".join(["2"] * 64)) == (2.0,) * 64
    assert message(parse_coordinate, ",".join(["2"] * 65)) == "a coordinate has at most 64 numbers, got 65"


def test_the_published_pattern_admits_1_to_64_numbers() -> None:
    assert re.fullmatch(COORDINATE_PATTERN, "1")
    assert re.fullmatch(COORDINATE_PATTERN, " 1.5 ,-2e3,\t.5")
    assert re.fullmatch(COORDINATE_PATTERN, ",".join(["1"] * 64))
    assert not re.fullmatch(COORDINATE_PATTERN, ",".join(["1"] * 65))
    assert not re.fullmatch(COORDINATE_PATTERN, "")
    assert not re.fullmatch(COORDINATE_PATTERN, "1,")
    assert COORDINATE_HELP == "comma-separated numbers, e.g. '1,2,3' (1 to 64 of them)"


def test_component_messages_name_the_position() -> None:
    assert message(coordinate_from_floats, [1, "2"]) == "coordinate component 1 must be a number, got '2'"
    assert message(coordinate_from_floats, [1, 2, False]) == (
        "coordinate component 2 must be a number, got False"
    )
    assert message(coordinate_from_floats, [None]) == "coordinate component 0 must be a number, got None"
    assert message(coordinate_from_floats, [1, 10**400]) == (
        f"coordinate component 1 is too large: {10**400!r}"
    )
    assert (
        message(coordinate_from_floats, [0, 1, math.nan]) == "coordinate component 2 must be finite, got nan"
    )
    assert message(coordinate_from_floats, [-math.inf]) == "coordinate component 0 must be finite, got -inf"
    assert message(coordinate_from_floats, []) == "a coordinate needs at least one number, e.g. '1,2,3'"


def test_numbers_become_floats_and_minus_zero_folds_into_zero() -> None:
    coord = coordinate_from_floats([-0.0, 3, 2.5])
    assert coord == (0.0, 3.0, 2.5)
    assert math.copysign(1.0, coord[0]) == 1.0
    assert all(type(x) is float for x in coord)
    assert math.copysign(1.0, parse_coordinate("-0")[0]) == 1.0


def test_wire_form_messages() -> None:
    help_message = "a coordinate is comma-separated numbers, e.g. '1,2,3' (1 to 64 of them)"
    assert message(parse_coordinate, "") == help_message
    assert message(parse_coordinate, " \t ") == help_message
    assert message(parse_coordinate, 12) == help_message
    assert message(parse_coordinate, "1,,2") == "coordinate '1,,2' has an empty component; use e.g. '1,2,3'"
    assert message(parse_coordinate, "1, ") == "coordinate '1, ' has an empty component; use e.g. '1,2,3'"
    assert message(parse_coordinate, "1,x") == (
        "coordinate component 1 is not a number: 'x' (plain decimal such as 12.5, -3 or 1e-3; at most 20 "
        "digits before the point, exponent at most 287)"
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1" * 20, float("1" * 20)),
        ("1" * 20 + ".5", float("1" * 20 + ".5")),
        ("1e287", 1e287),
        ("1e+287", 1e287),
        ("1E00287", 1e287),
        ("1e199", 1e199),
        ("1e279", 1e279),
        ("1e99", 1e99),
        ("1e7", 1e7),
        ("1e-400", 0.0),
        ("-.5e-3", -0.0005),
    ],
)
def test_the_grammar_admits_up_to_its_bounds(text: str, value: float) -> None:
    assert parse_coordinate(text) == (value,)


@pytest.mark.parametrize("text", ["1" * 21, "1e288", "1e300", "1e290", "1e1000", "e5", ".", "1e", "--1"])
def test_the_grammar_refuses_past_its_bounds(text: str) -> None:
    assert message(parse_coordinate, text).startswith("coordinate component 0 is not a number")


def test_a_coordinate_value_is_a_string_or_an_array() -> None:
    assert parse_coordinate_value("1,2") == (1.0, 2.0)
    assert parse_coordinate_value([1, 2.5]) == (1.0, 2.5)
    assert parse_coordinate_value((3, 4)) == (3.0, 4.0)
    expected = "a coordinate is a string like '1,2,3' or an array of numbers"
    assert message(parse_coordinate_value, {"x": 1}) == expected
    assert message(parse_coordinate_value, 5) == expected
    assert message(parse_coordinate_value, None) == expected


def test_the_key_is_the_repr_of_each_float_joined_by_commas() -> None:
    assert coordinate_key((1, 2.5, -3)) == "1.0,2.5,-3.0"
    assert coordinate_key((0.1,)) == "0.1"
    assert coordinate_from_key("1.0,2.5,-3.0") == (1.0, 2.5, -3.0)
    assert coordinate_from_key("7") == (7.0,)


def test_a_key_asked_again_is_the_one_kept() -> None:
    coordinate = (7.25, -1.5, 1e-3)
    first = coordinate_key(coordinate)
    assert first == "7.25,-1.5,0.001"
    assert coordinate_key((7.25, -1.5, 1e-3)) is first  # an equal tuple: the kept string, not a new one


def test_negative_zero_keys_apart_from_zero_whichever_comes_first() -> None:
    """-0.0 == 0.0 and they hash alike: a kept key must never answer for the other."""
    assert coordinate_key((0.0, 4.5)) == "0.0,4.5"
    assert coordinate_key((-0.0, 4.5)) == "-0.0,4.5"
    assert coordinate_key((-0.0, 5.5)) == "-0.0,5.5"
    assert coordinate_key((0.0, 5.5)) == "0.0,5.5"


def test_integers_key_as_floats_and_lists_as_tuples() -> None:
    assert coordinate_key((3, 4)) == "3.0,4.0"
    assert coordinate_key((3.0, 4.0)) == "3.0,4.0"
    assert coordinate_key([3.5, 4]) == "3.5,4.0"


def test_the_kept_keys_start_over_once_full() -> None:
    from somafractalmemory.core import coordinates

    assert coordinates.KEYS_KEPT == 16_384
    coordinates._recent_keys.clear()
    for n in range(coordinates.KEYS_KEPT):
        assert coordinate_key((float(n) + 0.5,)) == f"{n}.5"
    assert len(coordinates._recent_keys) == coordinates.KEYS_KEPT
    assert coordinate_key((0.25, 0.5)) == "0.25,0.5"
    assert coordinates._recent_keys == {(0.25, 0.5): "0.25,0.5"}
