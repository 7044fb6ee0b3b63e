"""The items of a /v1 bulk body, each read on its own, and the bulk's answer.

An item is what ``BulkItemV1`` takes; a bad one becomes its ``InvalidInput``, reported at its index.
Nearly every item of a bulk is plainly good (a list of numbers, an object, a type name), and pydantic's
model costs more than the rest of reading it: such an item is read directly, and every other one by
the model, which alone decides what is refused and says why. The answer is rendered from plain values
rather than one model an item (``BulkResponseV1`` stays the declared schema; a test pins that both
give the same bytes).
"""

from typing import Any, TypeGuard

from pydantic import ValidationError
from pydantic_core import to_json

from somafractalmemory.core.coordinates import MAX_DIMENSIONS, coordinate_from_floats, parse_coordinate_value
from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.models import BulkResult
from somafractalmemory.core.service import NewMemory
from somafractalmemory.http_api.errors import validation_message
from somafractalmemory.http_api.queries import stored_type
from somafractalmemory.http_api.schemas import BulkItemV1

DEFAULT_TYPE: str = BulkItemV1.model_fields["type"].default
# The integers a coordinate takes as they are here: pydantic's strict float takes these (and refuses
# some far larger ones, which the model is left to word).
PLAIN_INTEGER = 2**53


def bulk_item(raw: object) -> NewMemory | InvalidInput:
    if not _plain(raw):
        return modelled_bulk_item(raw)
    try:
        coordinate = coordinate_from_floats(raw["coord"])
        return NewMemory(coordinate, raw["payload"], stored_type(raw.get("type", DEFAULT_TYPE)))
    except InvalidInput as error:
        return error


def modelled_bulk_item(raw: object) -> NewMemory | InvalidInput:
    """The item as ``BulkItemV1`` reads it, with the core's checks of its coordinate and type."""
    try:
        item = BulkItemV1.model_validate(raw)
        return NewMemory(parse_coordinate_value(item.coord), item.payload, stored_type(item.type))
    except ValidationError as error:
        return InvalidInput(validation_message(error.errors()))
    except InvalidInput as error:
        return error


def _plain(raw: object) -> TypeGuard[dict[str, Any]]:
    """An object with an array of 1 to 64 numbers as ``coord``, an object as ``payload`` and text as
    ``type``, if it has one."""
    if type(raw) is not dict or type(raw.get("payload")) is not dict:
        return False
    coord = raw.get("coord")
    if type(coord) is not list or not 0 < len(coord) <= MAX_DIMENSIONS:
        return False
    for number in coord:
        if type(number) is not float and (type(number) is not int or abs(number) > PLAIN_INTEGER):
            return False
    return type(raw.get("type", DEFAULT_TYPE)) is str


def bulk_answer(result: BulkResult) -> bytes:
    """``BulkResponseV1``'s JSON for the result."""
    stored = result.stored
    return to_json(
        {
            "stored": stored,
            "failed": len(result.items) - stored,
            "results": [
                {
                    "index": item.index,
                    "ok": item.ok,
                    "coord": list(item.coordinate) if item.coordinate else None,
                    "error": item.error,
                }
                for item in result.items
            ],
        }
    )
