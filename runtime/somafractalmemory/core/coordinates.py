"""Coordinates: parsing from the wire and the canonical key they are stored under."""

import math
import re
from collections.abc import Iterable, Sequence

from somafractalmemory.core.errors import InvalidInput

Coordinate = tuple[float, ...]

MAX_DIMENSIONS = 64

# One number of the wire form: plain ASCII decimal (no '1_0', 'inf', 'nan', '0x10' or non-ASCII digits),
# at most 20 digits before the point and a positive exponent of at most 287, so every number the grammar
# admits is finite (and every float below 1e288 written by repr() is admitted). Spaces around it are fine.
NUMBER_PATTERN = (
    r"[ \t]*[+-]?(?:[0-9]{1,20}(?:\.[0-9]*)?|\.[0-9]+)"
    r"(?:[eE](?:-[0-9]+|\+?0*(?:[0-9]{1,2}|1[0-9]{2}|2[0-7][0-9]|28[0-7])))?[ \t]*"
)
# The whole wire form, as the OpenAPI document publishes it.
COORDINATE_PATTERN = rf"^{NUMBER_PATTERN}(?:,{NUMBER_PATTERN}){{0,{MAX_DIMENSIONS - 1}}}$"
COORDINATE_HELP = "comma-separated numbers, e.g. '1,2,3' (1 to 64 of them)"
_NUMBER = re.compile(NUMBER_PATTERN)
_COORDINATE = re.compile(COORDINATE_PATTERN)


def coordinate_from_floats(values: Iterable[object]) -> Coordinate:
    """Validate numbers into a coordinate: 1 to 64 finite floats (-0.0 folded into 0.0)."""
    coord: list[float] = []
    for position, value in enumerate(values):
        if type(value) is float:  # what parsing gives: no conversion to check
            number = value
        else:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInput(f"coordinate component {position} must be a number, got {value!r}")
            try:
                number = float(value)
            except OverflowError:
                raise InvalidInput(f"coordinate component {position} is too large: {value!r}") from None
        if not math.isfinite(number):
            raise InvalidInput(f"coordinate component {position} must be finite, got {value!r}")
        coord.append(number + 0.0)
    if not coord:
        raise InvalidInput("a coordinate needs at least one number, e.g. '1,2,3'")
    if len(coord) > MAX_DIMENSIONS:
        raise InvalidInput(f"a coordinate has at most {MAX_DIMENSIONS} numbers, got {len(coord)}")
    return tuple(coord)


def parse_coordinate(text: str) -> Coordinate:
    """Parse the wire form ``"1,2,3"`` (spaces allowed around numbers)."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"a coordinate is {COORDINATE_HELP}")
    if _COORDINATE.fullmatch(text):  # the whole grammar at once; part by part only to say what is wrong
        return coordinate_from_floats(map(float, text.split(",")))
    numbers: list[float] = []
    for position, part in enumerate(text.split(",")):
        if not part.strip():
            raise InvalidInput(f"coordinate {text!r} has an empty component; use e.g. '1,2,3'")
        if not _NUMBER.fullmatch(part):
            raise InvalidInput(
                f"coordinate component {position} is not a number: {part!r} (plain decimal such as "
                "12.5, -3 or 1e-3; at most 20 digits before the point, exponent at most 287)"
            )
        numbers.append(float(part))
    return coordinate_from_floats(numbers)


def parse_coordinate_value(value: object) -> Coordinate:
    """Accept either the wire string or a JSON array of numbers."""
    if isinstance(value, str):
        return parse_coordinate(value)
    if isinstance(value, list | tuple):
        return coordinate_from_floats(value)
    raise InvalidInput("a coordinate is a string like '1,2,3' or an array of numbers")


# The keys of coordinates asked lately: a write asks for each memory's key several times (its store row,
# audit entry, cache entry and index row), and a float's repr, 0.4 us a component, was the cost. Once
# full, the map starts over: enough for the writes in flight (a bulk is 10,000 memories at most by
# default).
KEYS_KEPT = 16_384
_recent_keys: dict[Coordinate, str] = {}


def _key(coord: Sequence[float]) -> str:
    return ",".join(map(repr, map(float, coord)))


def coordinate_key(coord: Sequence[float]) -> str:
    """The canonical text a coordinate is stored and keyed under ('1.0,2.0,3.0')."""
    # -0.0 equals 0.0 (and hashes alike) yet keys as '-0.0': a coordinate with a zero is never mapped.
    if type(coord) is not tuple or 0.0 in coord:
        return _key(coord)
    key = _recent_keys.get(coord)
    if key is None:
        if len(_recent_keys) >= KEYS_KEPT:
            _recent_keys.clear()
        key = _recent_keys[coord] = _key(coord)
    return key


def coordinate_from_key(key: str) -> Coordinate:
    return tuple(map(float, key.split(",")))
