"""Coordinates: parsing from the wire and the canonical key they are stored under."""

import math
from collections.abc import Iterable, Sequence

from somafractalmemory.core.errors import InvalidInput

Coordinate = tuple[float, ...]

MAX_DIMENSIONS = 64


def coordinate_from_floats(values: Iterable[object]) -> Coordinate:
    """Validate numbers into a coordinate: 1 to 64 finite floats (-0.0 folded into 0.0)."""
    coord: list[float] = []
    for position, value in enumerate(values):
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise InvalidInput(f"coordinate component {position} must be a number, got {value!r}")
        try:
            number = float(value)
        except ValueError:
            raise InvalidInput(f"coordinate component {position} is not a number: {value!r}") from None
        if not math.isfinite(number):
            raise InvalidInput(f"coordinate component {position} must be finite, got {value!r}")
        coord.append(number + 0.0)
    if not coord:
        raise InvalidInput("a coordinate needs at least one number, e.g. '1,2,3'")
    if len(coord) > MAX_DIMENSIONS:
        raise InvalidInput(f"a coordinate has at most {MAX_DIMENSIONS} numbers, got {len(coord)}")
    return tuple(coord)


def parse_coordinate(text: str) -> Coordinate:
    """Parse the wire form ``"1,2,3"`` (whitespace allowed around numbers)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("a coordinate is comma-separated numbers, e.g. '1,2,3'")
    parts = [part.strip() for part in text.split(",")]
    if any(not part for part in parts):
        raise InvalidInput(f"coordinate {text!r} has an empty component; use e.g. '1,2,3'")
    return coordinate_from_floats(parts)


def parse_coordinate_value(value: object) -> Coordinate:
    """Accept either the wire string or a JSON array of numbers."""
    if isinstance(value, str):
        return parse_coordinate(value)
    if isinstance(value, list | tuple):
        return coordinate_from_floats(value)
    raise InvalidInput("a coordinate is a string like '1,2,3' or an array of numbers")


def coordinate_key(coord: Sequence[float]) -> str:
    """The canonical text a coordinate is stored and keyed under ('1.0,2.0,3.0')."""
    return ",".join(repr(float(x)) for x in coord)


def coordinate_from_key(key: str) -> Coordinate:
    return tuple(float(part) for part in key.split(","))
