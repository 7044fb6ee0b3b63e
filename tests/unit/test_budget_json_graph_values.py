"""Work budgets, strict JSON and the path search pinned to their values: defaults, boundaries, messages,
and which of two equally light paths wins."""

import json
import math

import pytest
from refusals import message

from somafractalmemory.core.budget import DEFAULT_BUDGET, WorkBudget
from somafractalmemory.core.graph import dijkstra
from somafractalmemory.core.json_text import compact_json, decode_json, decode_text
from somafractalmemory.core.models import Link

A, B, C, D, E = (0.0,), (1.0,), (2.0,), (3.0,), (4.0,)


# --- budgets --------------------------------------------------------------------------------------


def test_the_default_budgets_are_10000_each() -> None:
    assert (DEFAULT_BUDGET.bulk_items, DEFAULT_BUDGET.batch_results, DEFAULT_BUDGET.scan_rows) == (
        10_000,
        10_000,
        10_000,
    )
    assert WorkBudget() == DEFAULT_BUDGET


def test_budgets_hold_at_their_bound_and_refuse_past_it() -> None:
    budget = WorkBudget(bulk_items=10, batch_results=20, scan_rows=30)
    budget.check_bulk(10)
    assert message(budget.check_bulk, 11) == (
        "11 items in one request is more than the budget of 10 (SOMA_MAX_BULK_ITEMS): "
        "split them into several requests"
    )
    budget.check_batch(4, 5)
    budget.check_batch(20, 1)
    assert message(budget.check_batch, 3, 7) == (
        "3 queries of top_k 7 ask for 21 results, more than the budget of 20 (SOMA_MAX_BATCH_RESULTS): "
        "ask for fewer queries or a smaller top_k"
    )
    assert str(budget.scan_exceeded("the path search")) == (
        "the path search: more than the budget of 30 rows to examine (SOMA_MAX_SCAN_ROWS); narrow the request"
    )


# --- strict JSON ----------------------------------------------------------------------------------


def test_json_messages() -> None:
    assert (
        message(decode_json, '{"a": 1e999}') == "the number 1e999 is too large for a double-precision float"
    )
    long_number = "1" * 50 + "e999"
    assert message(decode_json, f"[{long_number}]") == (
        f"the number {long_number[:40]} is too large for a double-precision float"
    )
    assert message(decode_json, "[NaN]") == "NaN is not a JSON number"
    assert message(decode_json, '{"k": 1, "j": 2, "k": 3}') == "duplicate key 'k' in a JSON object"
    assert message(decode_json, b'{"a": "\xff"}') == "JSON must be UTF-8: byte 7 is not valid UTF-8"
    assert message(decode_json, "[" * 100_000) == "JSON is nested too deeply"
    assert message(decode_json, "9" * 5000).startswith("JSON holds a value this server cannot read: ")


def test_json_values_decode_as_written() -> None:
    assert decode_json('{"a": 1.5, "b": [1, "x"], "c": {"d": null}}') == {
        "a": 1.5,
        "b": [1, "x"],
        "c": {"d": None},
    }
    assert decode_json(b'{"a": 1, "b": 1}') == {"a": 1, "b": 1}
    assert decode_text("already text") == "already text"
    assert decode_text("é".encode()) == "é"
    with pytest.raises(json.JSONDecodeError):
        decode_json("")


# --- path search ----------------------------------------------------------------------------------


def graph_of(
    *triples: tuple[tuple[float, ...], tuple[float, ...], float],
) -> dict[tuple[float, ...], list[Link]]:
    graph: dict[tuple[float, ...], list[Link]] = {}
    for source, target, weight in triples:
        graph.setdefault(source, []).append(Link("ns", source, target, "related", weight, 0.0))
    return graph


def test_of_two_equally_light_paths_the_first_found_wins() -> None:
    graph = graph_of((A, B, 1.0), (A, C, 1.0), (B, D, 1.0), (C, D, 1.0))
    assert dijkstra(A, D, lambda node: graph.get(node, [])) == [A, B, D]


def test_a_lighter_path_found_later_replaces_a_heavier_one() -> None:
    graph = graph_of((A, D, 5.0), (A, B, 1.0), (B, C, 1.0), (C, D, 1.0), (D, E, 0.0))
    asked: list[tuple[float, ...]] = []

    def outgoing(node: tuple[float, ...]) -> list[Link]:
        asked.append(node)
        return graph.get(node, [])

    assert dijkstra(A, E, outgoing) == [A, B, C, D, E]
    assert asked == [A, B, C, D]


def test_zero_weight_links_and_links_back_to_settled_nodes() -> None:
    graph = graph_of((A, B, 0.0), (B, A, 0.0), (B, C, 2.0), (A, C, 3.0))
    asked: list[tuple[float, ...]] = []

    def outgoing(node: tuple[float, ...]) -> list[Link]:
        asked.append(node)
        return graph.get(node, [])

    assert dijkstra(A, C, outgoing) == [A, B, C]
    assert asked == [A, B]


def test_a_node_reached_again_more_heavily_is_read_once() -> None:
    graph = graph_of((A, B, 5.0), (A, C, 1.0), (C, B, 1.0), (B, D, 10.0))
    asked: list[tuple[float, ...]] = []

    def outgoing(node: tuple[float, ...]) -> list[Link]:
        asked.append(node)
        return graph.get(node, [])

    assert dijkstra(A, D, outgoing) == [A, C, B, D]
    assert asked == [A, C, B]  # B's first, heavier entry is skipped when it comes off the heap


def test_compact_json_writes_utf8_without_spaces_and_reads_back_the_same() -> None:
    value = {"text": "café ☃ 😀", "n": [1, 2.5, None, True], "nested": {"k": "v"}}
    assert compact_json(value) == '{"text":"café ☃ 😀","n":[1,2.5,null,true],"nested":{"k":"v"}}'
    assert compact_json(["a", "b"]) == '["a","b"]'
    assert compact_json(("a", 1)) == '["a",1]'
    numbers = [1e-7, 1e16, -0.0, 2**70, 0.1 + 0.2, 5e-324, 123456789.123456789, 1.7976931348623157e308]
    text = compact_json(numbers)
    assert text == (
        "[1e-7,1e+16,-0.0,1180591620717411303424,0.30000000000000004,5e-324,123456789.12345679,"
        "1.7976931348623157e+308]"
    )
    assert decode_json(text) == numbers
    assert [math.copysign(1.0, n) for n in decode_json(text)[2:3]] == [-1.0]
