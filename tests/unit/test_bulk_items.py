"""A /v1 bulk item read directly when it is plainly good is the item the model reads, and every other
item is left to the model; the bulk's answer is the declared schema's JSON, byte for byte."""

import copy
import math

import pytest
from pytest import MonkeyPatch

from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.models import BulkResult, ItemResult, MemoryType
from somafractalmemory.core.service import NewMemory
from somafractalmemory.http_api import bulk_items
from somafractalmemory.http_api.bulk_items import PLAIN_INTEGER, bulk_answer, bulk_item, modelled_bulk_item
from somafractalmemory.http_api.schemas import BulkResponseV1, ItemOutcome

PAYLOAD = {"text": "a note", "tags": ["x", 1, None], "nested": {"f": 0.5}}
PLAIN_ITEMS: list[dict[str, object]] = [
    {"coord": [0.25, 0.5, 0.75], "payload": PAYLOAD, "type": "episodic"},
    {"coord": [1, 2, 3], "payload": {}},  # integers, and the type left out
    {"coord": [-0.0, 2.5], "payload": {}, "type": "semantic"},
    {"coord": [1.0] * 64, "payload": {}},
    {"coord": [PLAIN_INTEGER, -PLAIN_INTEGER], "payload": {}},
    {"coord": [7.5], "payload": {}, "unknown": "ignored"},
    {"coord": [1.5], "payload": {}, "type": "Semantic"},  # text: the type's own check refuses it
    {"coord": [1.5], "payload": {}, "type": ""},
]
LEFT_TO_THE_MODEL: list[object] = [
    {"coord": [1.0] * 65, "payload": {}},
    {"coord": [], "payload": {}},
    {"coord": [True, 1.0], "payload": {}},
    {"coord": ["1", 2.0], "payload": {}},
    {"coord": [None], "payload": {}},
    {"coord": [PLAIN_INTEGER + 1], "payload": {}},
    {"coord": [-PLAIN_INTEGER - 1], "payload": {}},
    {"coord": [10**400], "payload": {}},
    {"coord": [-(10**400)], "payload": {}},
    {"coord": [1.0, [2.0]], "payload": {}},
    {"coord": "1,2,3", "payload": PAYLOAD},
    {"coord": " 1, 2 ", "payload": {}, "type": "semantic"},
    {"coord": "1_0", "payload": {}},
    {"coord": {"x": 1}, "payload": {}},
    {"coord": 1.0, "payload": {}},
    {"payload": {}},
    {"coord": [1.0]},
    {"coord": [1.0], "payload": None},
    {"coord": [1.0], "payload": ["a"]},
    {"coord": [1.0], "payload": "text"},
    {"coord": [1.0], "payload": {}, "type": None},
    {"coord": [1.0], "payload": {}, "type": 1},
    {"coord": [1.0], "payload": {}, "type": ["episodic"]},
    {"coord": (1.0,), "payload": {}},
    [1.0, {}],
    None,
    "item",
]


def outcome(found: NewMemory | InvalidInput) -> object:
    return ("refused", str(found)) if isinstance(found, InvalidInput) else found


@pytest.mark.parametrize("raw", PLAIN_ITEMS + LEFT_TO_THE_MODEL)
def test_every_item_is_read_as_the_model_reads_it(raw: object) -> None:
    assert outcome(bulk_item(copy.deepcopy(raw))) == outcome(modelled_bulk_item(copy.deepcopy(raw)))


def test_plain_items_are_read_without_the_model(monkeypatch: MonkeyPatch) -> None:
    def no_model(raw: object) -> NewMemory | InvalidInput:
        raise AssertionError(f"the model read {raw!r}")

    monkeypatch.setattr(bulk_items, "modelled_bulk_item", no_model)
    read = [bulk_item(copy.deepcopy(raw)) for raw in PLAIN_ITEMS]
    assert read[0] == NewMemory((0.25, 0.5, 0.75), PAYLOAD, MemoryType.EPISODIC)
    assert read[1] == NewMemory((1.0, 2.0, 3.0), {}, MemoryType.EPISODIC)
    assert all(type(number) is float for number in read[1].coordinate)
    assert read[2] == NewMemory((0.0, 2.5), {}, MemoryType.SEMANTIC)
    assert math.copysign(1.0, read[2].coordinate[0]) == 1.0
    assert read[4] == NewMemory((float(PLAIN_INTEGER), -float(PLAIN_INTEGER)), {}, MemoryType.EPISODIC)
    assert str(read[6]) == "type must be 'episodic' or 'semantic', got 'Semantic'"
    assert str(read[7]) == "type must be 'episodic' or 'semantic', got ''"


def test_every_other_item_is_left_to_the_model(monkeypatch: MonkeyPatch) -> None:
    modelled: list[object] = []

    def model(raw: object) -> NewMemory | InvalidInput:
        modelled.append(raw)
        return InvalidInput("modelled")

    monkeypatch.setattr(bulk_items, "modelled_bulk_item", model)
    for raw in LEFT_TO_THE_MODEL:
        assert str(bulk_item(raw)) == "modelled"
    assert modelled == LEFT_TO_THE_MODEL


def test_the_model_words_what_it_refuses() -> None:
    assert str(bulk_item({"coord": [1.0] * 65, "payload": {}})) == (
        "coord.array: List should have at most 64 items after validation, not 65"
    )
    assert str(bulk_item({"coord": [True], "payload": {}})) == "coord.array.0: Input should be a valid number"
    assert str(bulk_item({"coord": "1_0", "payload": {}})).startswith(
        "coord.string: coordinate component 0 is not a number: '1_0' (plain decimal"
    )
    assert str(bulk_item({"coord": [1.0], "payload": {}, "type": None})) == (
        "type: Input should be a valid string"
    )


def test_a_plain_item_is_not_changed_by_reading_it() -> None:
    raw = {"coord": [1, 2], "payload": {"a": 1}}
    bulk_item(raw)
    assert raw == {"coord": [1, 2], "payload": {"a": 1}}


def test_the_answer_is_the_declared_schema_byte_for_byte() -> None:
    result = BulkResult(
        [
            ItemResult(0, ok=True, coordinate=(0.1, 2.0, -3.5)),
            ItemResult(1, ok=False, error="payload must be a JSON object"),
            ItemResult(2, ok=True, coordinate=(1e-300, 1.7976931348623157e308)),
            ItemResult(3, ok=False, error="type must be 'episodic' or 'semantic', got 'é'"),
        ]
    )
    declared = BulkResponseV1(
        stored=2,
        failed=2,
        results=[
            ItemOutcome(
                index=i.index, ok=i.ok, coord=list(i.coordinate) if i.coordinate else None, error=i.error
            )
            for i in result.items
        ],
    )
    assert bulk_answer(result) == declared.model_dump_json(by_alias=True).encode()
    assert bulk_answer(BulkResult()) == b'{"stored":0,"failed":0,"results":[]}'
