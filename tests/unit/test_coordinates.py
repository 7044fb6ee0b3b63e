import math

import pytest

from somafractalmemory.core.coordinates import (
    coordinate_from_key,
    coordinate_key,
    parse_coordinate,
    parse_coordinate_value,
)
from somafractalmemory.core.errors import InvalidInput


def test_parses_wire_form_with_spaces() -> None:
    assert parse_coordinate(" 1, 2.5 ,-3") == (1.0, 2.5, -3.0)


@pytest.mark.parametrize("text", ["", " ", "1,,2", "1,a", "nan,1", "1,inf", "1,2,", ",".join(["1"] * 65)])
def test_rejects_malformed_coordinates(text: str) -> None:
    with pytest.raises(InvalidInput):
        parse_coordinate(text)


def test_accepts_arrays_but_not_booleans() -> None:
    assert parse_coordinate_value([1, 2]) == (1.0, 2.0)
    with pytest.raises(InvalidInput):
        parse_coordinate_value([True, 1])
    with pytest.raises(InvalidInput):
        parse_coordinate_value({"x": 1})


def test_key_is_canonical_and_round_trips() -> None:
    assert coordinate_key(parse_coordinate("1,2,3")) == coordinate_key(parse_coordinate("1.0,2.00,3e0"))
    assert coordinate_key(parse_coordinate("-0,0")) == coordinate_key((0.0, 0.0))
    coordinate = (0.1, 1e-300, 12345.6789)
    assert coordinate_from_key(coordinate_key(coordinate)) == coordinate
    assert not any(math.isnan(x) for x in coordinate_from_key(coordinate_key(coordinate)))
