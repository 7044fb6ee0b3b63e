"""The memory service pinned to its values on the embedded adapters: every input check at its boundary
with its message, the hybrid score, the import batches and reports, the graph's messages, the cache key."""

import json
import logging
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from embedded_service import close_service, open_service
from refusals import message

from somafractalmemory.core.budget import WorkBudget
from somafractalmemory.core.errors import BackendUnavailable, ImportInterrupted, InvalidInput, NotFound
from somafractalmemory.core.filters import parse_filters
from somafractalmemory.core.fusion import Ranking
from somafractalmemory.core.models import Memory, MemoryType, VectorPoint
from somafractalmemory.core.records import memory_to_record, parse_ndjson
from somafractalmemory.core.service import (
    IMPORT_BATCH,
    MAX_QUERY_LENGTH,
    MAX_TOP_K,
    MemoryService,
    NewMemory,
    check_link_type,
    check_query,
    check_top_k,
    check_weight,
)

NS = "agents"


def put(service: MemoryService, coordinate: tuple[float, ...], text: str, **extra: object) -> None:
    service.store_memory(NS, NewMemory(coordinate, {"text": text, **extra}))


# --- input checks ---------------------------------------------------------------------------------


def test_top_k_is_1_to_1000() -> None:
    assert MAX_TOP_K == 1000
    assert check_top_k(1) == 1
    assert check_top_k(1000) == 1000
    for bad in (0, 1001, -5):
        assert message(check_top_k, bad) == f"top_k must be an integer from 1 to 1000, got {bad}"
    assert message(check_top_k, True) == "top_k must be an integer from 1 to 1000, got True"
    assert message(check_top_k, 5.0) == "top_k must be an integer from 1 to 1000, got 5.0"


def test_a_query_is_at_most_10000_characters() -> None:
    assert MAX_QUERY_LENGTH == 10_000
    assert check_query("q" * 10_000) == "q" * 10_000
    assert message(check_query, "q" * 10_001) == "query is longer than 10000 characters"
    assert message(check_query, "q" * 10_001, "term") == "term is longer than 10000 characters"
    assert message(check_query, "") == "query must be a non-empty string"
    assert message(check_query, " \n") == "query must be a non-empty string"
    assert message(check_query, None) == "query must be a non-empty string"
    assert message(check_query, 5, "term") == "term must be a non-empty string"
    assert (
        message(check_query, "a\x00") == "query holds a NUL character (\\u0000), which no text field may hold"
    )


def test_weights_are_finite_and_not_negative() -> None:
    assert check_weight(0) == 0.0
    assert isinstance(check_weight(2), float)
    for bad in (math.nan, math.inf, True, "1", None):
        assert message(check_weight, bad) == "weight must be a finite number"
    assert message(check_weight, -0.1) == (
        "weight must not be negative (it is the cost of the edge in shortest paths)"
    )


def test_a_link_type_is_non_blank_text() -> None:
    assert check_link_type("causes") == "causes"
    for bad in ("", "  ", None, 7):
        assert message(check_link_type, bad) == "link type must be a non-empty string"
    assert message(check_link_type, "x\ud800") == (
        "link type holds a lone UTF-16 surrogate (e.g. \\ud800), which is not text"
    )


def test_service_calls_give_the_messages(service: MemoryService) -> None:
    put(service, (1.0,), "note")
    assert message(service.recall, NS, "x", top_k=0) == "top_k must be an integer from 1 to 1000, got 0"
    assert message(service.keyword_search, NS, " ") == "term must be a non-empty string"
    assert message(service.keyword_search, NS, "x", top_k=1001) == (
        "top_k must be an integer from 1 to 1000, got 1001"
    )
    assert message(service.recall_with_context, NS, "x", [], top_k=1) == "context must be a JSON object"
    assert message(service.recall_with_context, NS, "x", {}, top_k=0).startswith("top_k must be")
    assert message(service.recall_with_context, NS, "", {}) == "query must be a non-empty string"
    assert message(service.hybrid_recall, NS, "x", top_k=1001).startswith("top_k must be")
    for boost in (True, math.nan, "2", math.inf):
        assert message(service.hybrid_recall, NS, "x", boost=boost) == "boost must be a finite number"
    assert message(service.hybrid_recall, NS, "x", terms=["ok", "a\x00"]) == (
        "a term holds a NUL character (\\u0000), which no text field may hold"
    )
    assert message(service.hybrid_recall, NS, "  ") == "query must be a non-empty string"
    assert message(service.store_memory, NS, NewMemory((2.0,), [])) == "payload must be a JSON object"  # type: ignore[arg-type]


def test_a_query_at_the_length_limit_is_served(service: MemoryService) -> None:
    put(service, (1.0,), "jazz")
    assert len(service.recall(NS, "j" * MAX_QUERY_LENGTH, top_k=1)) == 1
    assert (
        message(service.recall, NS, "j" * (MAX_QUERY_LENGTH + 1)) == "query is longer than 10000 characters"
    )
    assert message(service.keyword_search, NS, "j" * (MAX_QUERY_LENGTH + 1)) == (
        "term is longer than 10000 characters"
    )


# --- writes and reads -----------------------------------------------------------------------------


def test_stored_memories_are_stamped_by_the_clock(tmp_path: Path) -> None:
    service = open_service(tmp_path, clock=lambda: 1234.56789012)
    try:
        stored = service.store_memory(NS, NewMemory((1.0,), {"text": "x", "importance": 0.75}))
        assert (stored.created_at, stored.updated_at, stored.access_count) == (
            1234.56789012,
            1234.56789012,
            0,
        )
        assert (stored.importance, stored.memory_type) == (0.75, MemoryType.EPISODIC)
        assert service.get(NS, (1.0,)) == stored
        remembered = service.remember(NS, {"text": "y"}, MemoryType.SEMANTIC)
        assert len(remembered.coordinate) == 3
        assert remembered.coordinate[0] == 1234.56789
        assert all(0.0 <= c < 1.0 for c in remembered.coordinate[1:])
        assert remembered.memory_type is MemoryType.SEMANTIC
        link = service.link(NS, (1.0,), remembered.coordinate)
        assert (link.link_type, link.weight, link.created_at) == ("related", 1.0, 1234.56789012)
    finally:
        close_service(service)


def test_a_missing_memory_is_named(service: MemoryService) -> None:
    with pytest.raises(NotFound) as raised:
        service.get(NS, (1.0, 2.5))
    assert str(raised.value) == "no memory at coordinate [1.0, 2.5] in namespace 'agents'"


def test_reads_are_cached_under_the_coordinate_key_and_forgotten_on_write(service: MemoryService) -> None:
    assert service.cache is not None
    put(service, (1.0, 2.0), "first")
    assert service.cache.get("memory:agents:1.0,2.0") is None
    first = service.get(NS, (1.0, 2.0))
    assert service.cache.get("memory:agents:1.0,2.0") is not None
    assert service.get(NS, (1.0, 2.0)) == first
    put(service, (1.0, 2.0), "second")
    assert service.cache.get("memory:agents:1.0,2.0") is None
    assert service.get(NS, (1.0, 2.0)).payload == {"text": "second"}
    assert service.delete(NS, (1.0, 2.0)) is True
    assert service.cache.get("memory:agents:1.0,2.0") is None
    with pytest.raises(NotFound):
        service.get(NS, (1.0, 2.0))


def test_bulk_reports_each_item_and_the_last_of_a_repeated_coordinate_wins(service: MemoryService) -> None:
    result = service.store_many(
        NS,
        [
            NewMemory((1.0,), {"text": "first"}),
            InvalidInput("coordinate component 0 must be a number, got 'x'"),
            NewMemory((2.0,), {"bad": math.nan}),
            NewMemory((1.0,), {"text": "last"}, MemoryType.SEMANTIC),
        ],
    )
    assert [(i.index, i.ok, i.coordinate, i.error) for i in result.items] == [
        (0, True, (1.0,), None),
        (1, False, None, "coordinate component 0 must be a number, got 'x'"),
        (2, False, None, "payload.bad is not a finite number (JSON has no NaN or Infinity)"),
        (3, True, (1.0,), None),
    ]
    assert result.stored == 2
    assert service.get(NS, (1.0,)).payload == {"text": "last"}
    stats = service.stats(NS)
    assert (stats.total_memories, stats.episodic, stats.semantic) == (1, 0, 1)
    assert service.store_many(NS, [InvalidInput("bad")]).stored == 0


def test_a_namespace_at_its_limit_keeps_everything(tmp_path: Path) -> None:
    limited = open_service(tmp_path, max_memories_per_namespace=3)
    try:
        for n, importance in enumerate((0.9, 0.1, 0.5)):
            limited.store_memory(NS, NewMemory((float(n),), {"text": "x", "importance": importance}))
        assert limited.stats(NS).total_memories == 3
        limited.store_memory(NS, NewMemory((3.0,), {"text": "x", "importance": 0.7}))
        assert limited.stats(NS).total_memories == 3
        with pytest.raises(NotFound):
            limited.get(NS, (1.0,))
    finally:
        close_service(limited)


def test_a_range_may_be_a_single_point(service: MemoryService) -> None:
    put(service, (1.0, 2.0), "here")
    assert service.coordinate_range(NS, (1.0, 2.0), (1.0, 2.0)) == [(1.0, 2.0)]
    assert message(service.coordinate_range, NS, (0.0,), (1.0, 1.0)) == (
        "min has 1 numbers and max has 2: give both the same"
    )
    assert message(service.coordinate_range, NS, (0.0, 3.0), (1.0, 2.0)) == (
        "every component of min must be at most the same component of max"
    )
    put(service, (5.0, 5.0), "semantic one")
    service.store_memory(NS, NewMemory((6.0, 6.0), {"t": "s"}, MemoryType.SEMANTIC))
    assert service.coordinate_range(NS, (0.0, 0.0), (9.0, 9.0), MemoryType.SEMANTIC) == [(6.0, 6.0)]


# --- hybrid recall --------------------------------------------------------------------------------


def test_the_boost_weighs_the_terms_leg_of_the_fusion(service: MemoryService) -> None:
    put(service, (1.0,), "tea", code="K-42")
    put(service, (2.0,), "coffee", code="K-42", owner="ops")
    # dense leg: tea first; lexical leg: the memory holding both terms first
    results = service.hybrid_recall(NS, "tea", terms=["K-42", "ops"], boost=3.0, top_k=2)
    assert [(r.memory.coordinate, r.score) for r in results] == [
        ((2.0,), 1 / 62 + 3 / 61),
        ((1.0,), 1 / 61 + 3 / 62),
    ]
    plain = service.hybrid_recall(NS, "tea", terms=["K-42", "ops"], boost=0, top_k=2)
    assert [(r.memory.coordinate, r.score) for r in plain] == [((1.0,), 1 / 61), ((2.0,), 1 / 62)]
    assert message(lambda: service.hybrid_recall(NS, "tea", boost=-0.5)) == (
        "boost must not be negative (it weighs the terms in the fusion)"
    )


def test_hybrid_terms_default_to_the_reference_extraction(service: MemoryService) -> None:
    put(service, (1.0,), "item-1763 was shipped")
    put(service, (2.0,), "item-1791 was shipped")
    put(service, (3.0,), "drums")
    # terms: "when", "item-1791", "shipped" (no "was": shorter than 4); item-1791 is one phrase, and
    # "shipped", in two texts of three, is left out next to it: only item-1791 is in the lexical leg
    results = service.hybrid_recall(NS, "when was item-1791 shipped", top_k=3, exact=True)
    assert [r.memory.coordinate for r in results] == [(2.0,), (1.0,), (3.0,)]
    assert [r.score for r in results] == [1 / 61 + 2 / 61, 1 / 62, 1 / 63]
    assert len(service.hybrid_recall(NS, "item-1791", top_k=1)) == 1


def test_a_keyword_match_far_in_meaning_still_ranks(service: MemoryService) -> None:
    service.store_many(
        NS, [NewMemory((float(n),), {"text": f"kubernetes operators {n}", "tag": "k"}) for n in range(60)]
    )
    put(service, (100.0,), "an unrelated note about tea", code="K-42", tag="t")
    put(service, (101.0,), "another note about coffee", code="K-42", tag="c")
    # 60 nearer memories fill the dense leg's 50 candidates: the two come from the lexical leg alone,
    # the shorter text first (BM25), each with the boosted lexical weight 2
    top = service.hybrid_recall(NS, "kubernetes operators", terms=["K-42"], top_k=2)
    assert [(r.memory.coordinate, r.score) for r in top] == [((101.0,), 2 / 61), ((100.0,), 2 / 62)]
    filtered = service.hybrid_recall(
        NS, "kubernetes operators", terms=["K-42"], top_k=1, conditions=parse_filters({"tag": "t"})
    )
    # the filter holds inside both legs: the one memory tagged t is first in each
    assert [(r.memory.coordinate, r.score) for r in filtered] == [((100.0,), 1 / 61 + 2 / 61)]
    semantic = service.hybrid_recall(
        NS, "kubernetes operators", terms=["K-42"], top_k=2, memory_type=MemoryType.SEMANTIC
    )
    assert semantic == []


# --- graph ----------------------------------------------------------------------------------------


def test_graph_messages_name_the_node_and_its_role(service: MemoryService) -> None:
    put(service, (1.0,), "a")
    put(service, (2.0,), "b")

    def not_found(call: object, *args: object) -> str:
        with pytest.raises(NotFound) as raised:
            call(*args)  # type: ignore[operator]
        return str(raised.value)

    assert (
        not_found(service.link, NS, (9.0,), (1.0,)) == "from node [9.0] is not a memory in namespace 'agents'"
    )
    assert (
        not_found(service.link, NS, (1.0,), (9.0,)) == "to node [9.0] is not a memory in namespace 'agents'"
    )
    assert not_found(service.shortest_path, NS, (1.0,), (9.0,)) == (
        "to node [9.0] is not a memory in namespace 'agents'"
    )
    assert not_found(service.neighbors, NS, (9.0,)) == "the node [9.0] is not a memory in namespace 'agents'"
    assert message(service.link, NS, (1.0,), (2.0,), " ") == "link type must be a non-empty string"
    assert message(service.link, NS, (1.0,), (2.0,), "x", -1) == (
        "weight must not be negative (it is the cost of the edge in shortest paths)"
    )
    assert message(service.neighbors, NS, (1.0,), None, 0) == "limit must be at least 1"
    service.link(NS, (1.0,), (2.0,), "causes", 0)
    assert [(n.target, n.link_type, n.weight) for n in service.neighbors(NS, (1.0,), None, 1)] == [
        ((2.0,), "causes", 0.0)
    ]
    assert service.shortest_path(NS, (1.0,), (1.0,)) == [(1.0,)]


# --- export and import ----------------------------------------------------------------------------


def test_export_writes_memories_then_links(service: MemoryService) -> None:
    put(service, (1.0,), "a")
    put(service, (2.0,), "b")
    service.link(NS, (2.0,), (1.0,), "causes", 0.5)
    kinds = [record["kind"] for record in service.export_records(NS)]
    assert kinds == ["memory", "memory", "link"]
    link = list(service.export_records(NS))[-1]
    assert (link["from"], link["to"], link["type"], link["weight"]) == ([2.0], [1.0], "causes", 0.5)


def test_import_reports_each_bad_line_by_number(service: MemoryService) -> None:
    lines = [
        json.dumps({"coord": [1], "payload": {"text": "a"}}),
        json.dumps({"kind": "link", "from": [1], "to": [7]}),
        "",
        json.dumps({"coord": [2], "payload": []}),
        "{",
        json.dumps({"kind": "link", "from": [1], "to": [2], "type": "x"}),
        json.dumps({"coord": [2], "payload": {"text": "b"}}),
        json.dumps({"kind": "link", "from": [8], "to": [1]}),
    ]
    report = service.import_records("copy", parse_ndjson(lines))
    assert (report.memories, report.links) == (2, 1)
    assert report.errors == [
        "line 4: payload must be a JSON object",
        "line 5: not valid JSON: Expecting property name enclosed in double quotes: line 1 column 2 (char 1)",
        "line 2: to node [7.0] is not a memory in namespace 'copy'",
        "line 8: from node [8.0] is not a memory in namespace 'copy'",
    ]
    assert [(n.target, n.link_type) for n in service.neighbors("copy", (1.0,))] == [((2.0,), "x")]


def numbered(records: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any] | InvalidInput]]:
    return list(enumerate(records, start=1))


def test_import_writes_in_batches_of_500(service: MemoryService) -> None:
    assert IMPORT_BATCH == 500
    first = {"coord": [0], "payload": {"text": "first"}}
    records = [first] + [{"coord": [n], "payload": {"text": f"n{n}"}} for n in range(1, 500)]
    # The 501st line repeats the first coordinate: a batch counts a coordinate once, so the count shows
    # whether the two lines fell into one batch or two.
    records.append({"coord": [0], "payload": {"text": "again"}})
    report = service.import_records(NS, numbered(records))
    assert (report.memories, report.links, report.errors) == (501, 0, [])
    assert service.get(NS, (0.0,)).payload == {"text": "again"}
    within = service.import_records("one", numbered([*records[:499], records[0]]))
    assert within.memories == 499


def test_an_import_interrupted_by_a_backend_says_what_it_stored(service: MemoryService) -> None:
    def stream() -> Iterator[tuple[int, dict[str, Any] | InvalidInput]]:
        for n in range(1, 503):
            memory = Memory(NS, (float(n),), {"text": f"n{n}"}, MemoryType.EPISODIC, 0.5, 1.0, 1.0)
            yield n, memory_to_record(memory)
        raise BackendUnavailable("upload", "connection reset")

    with pytest.raises(ImportInterrupted) as raised:
        service.import_records(NS, stream())
    error = raised.value
    assert (error.memories, error.links, error.backend) == (500, 0, "upload")
    assert str(error).startswith(
        "upload is unavailable: connection reset; the import stopped after storing 500 memories and 0 links."
    )
    assert isinstance(error.__cause__, BackendUnavailable)
    assert service.stats(NS).total_memories == 500


def test_recall_looks_three_rounds_deep_past_points_of_deleted_memories(service: MemoryService) -> None:
    service.store_many(NS, [NewMemory((float(n),), {"text": f"sailing boats {n}"}) for n in range(10)])
    stale = service.embedder.embed(["sailing boats"])[0]
    service.index.upsert(
        [VectorPoint(NS, (100.0 + n,), stale, MemoryType.EPISODIC, {}) for n in range(18)]
    )  # 18 points nearer than any memory: the rounds fetch 5, 10, then 20 and find 2 memories
    results = service.recall(NS, "sailing boats", top_k=5, ranking=Ranking.DENSE)
    assert len(results) == 2
    assert all(r.memory.coordinate[0] < 100 for r in results)
    assert len(service.recall(NS, "sailing boats", top_k=10, ranking=Ranking.DENSE)) == 10  # 10, 20, 40


def test_evictions_are_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    limited = open_service(tmp_path, max_memories_per_namespace=2)
    try:
        with caplog.at_level(logging.INFO, logger="somafractalmemory.core.service"):
            for n in range(3):
                limited.store_memory(NS, NewMemory((float(n),), {"text": "x", "importance": n / 10}))
        assert [r.getMessage() for r in caplog.records if r.name == "somafractalmemory.core.service"] == [
            "namespace agents over its limit of 2: evicted 1"
        ]
        with pytest.raises(NotFound):
            limited.get(NS, (0.0,))
    finally:
        close_service(limited)


def test_defaults_of_the_service_and_its_calls(service: MemoryService) -> None:
    assert service.cache_ttl == 300
    assert service.backends() == [service.store, service.index, service.cache]
    service.store_many(NS, [NewMemory((float(n),), {"text": "jazz", "n": n}) for n in range(60)])
    service.store_memory(NS, NewMemory((100.0,), {"text": "Jazz piano"}))
    assert len(service.recall(NS, "jazz")) == 5
    assert len(service.hybrid_recall(NS, "jazz")) == 5
    assert len(service.recall_with_context(NS, "jazz", {})) == 5
    assert len(service.keyword_search(NS, "jazz")) == 50  # exact and case-insensitive by default
    assert service.keyword_search(NS, "jazz p") == []
    assert [m.coordinate for m in service.keyword_search(NS, "JAZZ PIANO")] == [(100.0,)]


def test_a_service_without_a_cache_lists_two_backends(tmp_path: Path) -> None:
    opened = open_service(tmp_path)
    try:
        bare = MemoryService(opened.store, opened.index, opened.embedder)
        assert bare.backends() == [opened.store, opened.index]
        bare.store_memory(NS, NewMemory((1.0,), {"text": "x"}))
        assert bare.get(NS, (1.0,)).payload == {"text": "x"}
    finally:
        close_service(opened)


def test_evented_mode_leaves_the_index_to_the_consumers(tmp_path: Path) -> None:
    evented = open_service(tmp_path, index_inline=False)
    try:
        put(evented, (1.0,), "jazz")
        assert evented.get(NS, (1.0,)).payload == {"text": "jazz"}
        assert evented.recall(NS, "jazz", ranking=Ranking.DENSE) == []
        # the lexical leg reads the store, which has the memory already
        assert [(r.memory.coordinate, r.score) for r in evented.recall(NS, "jazz")] == [((1.0,), 1 / 61)]
        query = evented.embedder.embed(["jazz"])[0]
        assert evented.index.search(NS, query, top_k=5, memory_type=None, conditions=()) == []
    finally:
        close_service(evented)


def test_a_delete_removes_the_vector_too(service: MemoryService) -> None:
    put(service, (1.0,), "jazz")
    put(service, (2.0,), "jazz")
    service.delete(NS, (1.0,))
    query = service.embedder.embed(["jazz"])[0]
    hits = service.index.search(NS, query, top_k=5, memory_type=None, conditions=())
    assert [hit.coordinate for hit in hits] == [(2.0,)]


def test_exact_and_case_leave_the_hybrid_ranking_as_it_is(service: MemoryService) -> None:
    put(service, (1.0,), "tea", code="K-42")

    def score(**options: Any) -> float:
        [result] = service.hybrid_recall(NS, "kubernetes", top_k=1, **options)
        return result.score

    assert score(terms=["k-42"]) == 1 / 61 + 2 / 61  # first in both legs, the lexical one boosted twice
    assert score(terms=["k-42"], exact=False) == 1 / 61 + 2 / 61
    assert score(terms=["k-42"], case_sensitive=True) == 1 / 61 + 2 / 61
    assert score(terms=["K-4"]) == 1 / 61  # the word index holds "k" and "42", not "4"
    assert service.store.get(NS, (1.0,)).access_count == 4  # type: ignore[union-attr]


def test_recall_with_context_reads_the_query_and_the_context_together(service: MemoryService) -> None:
    put(service, (1.0,), "jazz")
    service.store_memory(NS, NewMemory((2.0,), {"text": "jazz"}, MemoryType.SEMANTIC))
    [result] = service.recall_with_context(NS, "jazz", {"mood": "calm", "n": 1}, top_k=1)
    query, text = service.embedder.embed(["jazz\ncalm", "jazz"])
    assert result.score == pytest.approx(float(query @ text), abs=1e-5)
    semantic = service.recall_with_context(NS, "jazz", {}, memory_type=MemoryType.SEMANTIC)
    assert [r.memory.coordinate for r in semantic] == [(2.0,)]
    assert service.store.get(NS, (2.0,)).access_count == 1  # type: ignore[union-attr]


def test_the_path_search_may_examine_exactly_its_budget(tmp_path: Path) -> None:
    budget = WorkBudget(scan_rows=3)
    opened = open_service(tmp_path, budget=budget)
    try:
        for n in range(5):
            put(opened, (float(n),), f"node {n}")
        for n in range(3):
            opened.link(NS, (float(n),), (float(n + 1),))
        assert opened.shortest_path(NS, (0.0,), (3.0,)) == [(0.0,), (1.0,), (2.0,), (3.0,)]  # 3 links read
        for target in (2.0, 3.0, 4.0):
            opened.link(NS, (4.0,), (target,))
        opened.link(NS, (4.0,), (0.0,))
        assert message(opened.shortest_path, NS, (4.0,), (1.0,)) == (
            "the path search: more than the budget of 3 rows to examine (SOMA_MAX_SCAN_ROWS); "
            "narrow the request"
        )
    finally:
        close_service(opened)


def test_an_import_of_exactly_one_batch_or_of_nothing(service: MemoryService) -> None:
    records = [{"coord": [n], "payload": {"text": f"n{n}"}} for n in range(500)]
    assert service.import_records(NS, numbered(records)).memories == 500
    nothing = service.import_records("empty", parse_ndjson(["{"]))
    assert (nothing.memories, nothing.links, len(nothing.errors)) == (0, 0, 1)
    links = [
        {"kind": "link", "from": [0], "to": [1]},
        {"kind": "link", "from": [1], "to": [2], "type": "causes"},
    ]
    assert service.import_records(NS, numbered(links)).links == 2


def test_an_import_counts_every_batch(service: MemoryService) -> None:
    records = [{"coord": [n], "payload": {"text": f"n{n}"}} for n in range(1001)]
    assert service.import_records(NS, numbered(records)).memories == 1001


def test_reads_are_served_from_the_cache_until_a_write_through_the_service(service: MemoryService) -> None:
    put(service, (1.0,), "cached")
    first = service.get(NS, (1.0,))
    service.store.put_many([Memory(NS, (1.0,), {"text": "behind"}, MemoryType.EPISODIC, 0.5, 2.0, 2.0)])
    assert service.get(NS, (1.0,)) == first  # written around the service: the cache still answers


def test_keyword_search_and_path_search_details(tmp_path: Path) -> None:
    opened = open_service(tmp_path, budget=WorkBudget(scan_rows=3))
    try:
        put(opened, (0.0,), "jazz")
        opened.store_memory(NS, NewMemory((1.0,), {"text": "jazz"}, MemoryType.SEMANTIC))
        for n in (2.0, 3.0):
            put(opened, (n,), "node")
        found = opened.keyword_search(NS, "jazz", memory_type=MemoryType.SEMANTIC)
        assert [m.coordinate for m in found] == [(1.0,)]
        with pytest.raises(NotFound) as raised:
            opened.shortest_path(NS, (9.0,), (0.0,))
        assert str(raised.value) == "from node [9.0] is not a memory in namespace 'agents'"
        opened.link(NS, (0.0,), (1.0,), weight=1.0)
        opened.link(NS, (0.0,), (2.0,), weight=1.0)
        opened.link(NS, (0.0,), (3.0,), weight=0.5)  # the weakest of exactly the budget's 3 links
        assert opened.shortest_path(NS, (0.0,), (3.0,)) == [(0.0,), (3.0,)]
    finally:
        close_service(opened)


def test_hybrid_filters_hold_for_keyword_matches_outside_the_pool(service: MemoryService) -> None:
    service.store_many(
        NS, [NewMemory((float(n),), {"text": f"kubernetes operators {n}", "tag": "k"}) for n in range(60)]
    )
    put(service, (100.0,), "an unrelated note about tea", code="K-42", tag="t")
    put(service, (101.0,), "another note about coffee", code="K-42", tag="c")
    either = parse_filters({"tag": {"$in": ["k", "t"]}})
    top = service.hybrid_recall(NS, "kubernetes operators", terms=["K-42"], top_k=1, conditions=either)
    assert [r.memory.coordinate for r in top] == [(100.0,)]
    only_t = parse_filters({"tag": "t"})
    assert [
        r.memory.coordinate
        for r in service.hybrid_recall(NS, "kubernetes operators", terms=["K-42"], top_k=2, conditions=only_t)
    ] == [(100.0,)]
