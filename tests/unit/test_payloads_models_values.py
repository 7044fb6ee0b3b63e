"""Payload checks and the model helpers pinned to their values: blank text as every engine agrees, the
messages that say where a payload is wrong, the type names, importance, stats and bulk counts."""

import math

from pytest import MonkeyPatch
from refusals import message

from somafractalmemory.core import payloads
from somafractalmemory.core.indexing import EMBED_SLICE, embed, vector_points
from somafractalmemory.core.models import (
    DEFAULT_IMPORTANCE,
    BulkResult,
    ItemResult,
    Memory,
    MemoryType,
    Stats,
    normalise_importance,
    stats_from_counts,
)
from somafractalmemory.core.payloads import (
    MAX_PAYLOAD_DEPTH,
    check_json_object,
    check_payload,
    check_text,
    is_blank,
    is_unicode,
)
from somafractalmemory.embedding.hashing import HashingEmbedder


def test_blank_is_ascii_whitespace_only() -> None:
    assert is_blank("")
    assert is_blank(" \t\n\r\f\v")
    assert not is_blank(" x ")
    assert not is_blank("\u00a0")  # a no-break space is text here, as in every engine the API meets
    assert not is_blank("\u2003")


def test_text_must_be_unicode_without_nul() -> None:
    assert is_unicode("plain")
    assert is_unicode("café 😀")
    assert not is_unicode("a\ud800")
    assert check_text("café", "x") == "café"
    assert message(check_text, "\udfff", "the name") == (
        "the name holds a lone UTF-16 surrogate (e.g. \\ud800), which is not text"
    )
    assert message(check_text, "\x00", "the name") == (
        "the name holds a NUL character (\\u0000), which no text field may hold"
    )


def test_payload_messages_say_where() -> None:
    assert message(check_payload, None) == "payload must be a JSON object"
    assert message(check_payload, "text") == "payload must be a JSON object"
    assert message(check_json_object, [], "context") == "context must be a JSON object"
    assert message(check_payload, {1: "x"}) == "payload has a key that is not a string: 1"
    assert message(check_payload, {"a": {2: "x"}}) == "payload.a has a key that is not a string: 2"
    assert message(check_payload, {"a": [1, {3}]}) == "payload.a[1] is not a JSON value: set"
    assert message(check_payload, {"a": (1,)}) == "payload.a is not a JSON value: tuple"
    assert message(check_payload, {"a": [0.5, -math.inf]}) == (
        "payload.a[1] is not a finite number (JSON has no NaN or Infinity)"
    )
    assert message(check_payload, {"a": [{"k\x00": 1}]}) == (
        "a key of payload.a[0] holds a NUL character (\\u0000), which no text field may hold"
    )
    assert message(check_json_object, {"b": {"c": ["x", "\ud800"]}}, "context") == (
        "context.b.c[1] holds a lone UTF-16 surrogate (e.g. \\ud800), which is not text"
    )
    too_deep: object = 1
    for _ in range(MAX_PAYLOAD_DEPTH):
        too_deep = [too_deep]
    assert message(check_payload, {"a": too_deep}) == (  # the innermost list, at level 65
        "payload.a"
        + "[0]" * (MAX_PAYLOAD_DEPTH - 1)
        + f" nests objects and arrays deeper than {MAX_PAYLOAD_DEPTH} levels"
    )
    payload = {"s": "x", "n": 1, "f": 0.5, "b": False, "z": None, "l": [], "o": {}}
    assert check_payload(payload) is payload


class _Text(str):
    pass


def test_a_good_payload_is_passed_without_the_walk_that_names_places(monkeypatch: MonkeyPatch) -> None:
    """The quick check answers for a good payload; anything it cannot vouch for goes to the walk that
    names the place, which alone decides (so the messages above are that walk's)."""
    walked: list[object] = []
    monkeypatch.setattr(payloads, "_check", lambda value, where, depth: walked.append(value))
    deepest: object = "x"
    for _ in range(MAX_PAYLOAD_DEPTH - 1):
        deepest = [deepest]  # with the payload itself, 64 levels: the most allowed
    good = {
        "s": "café 😀",
        "n": -(10**30),
        "f": 0.5,
        "b": True,
        "z": None,
        "l": [1, "x", [2.5, {"k": "v"}], {}],
        "o": {"é": {}},
        "d": deepest,
    }
    assert check_payload(good) is good
    assert walked == []
    doubtful: list[object] = [
        {"a": "x\x00"},
        {"x\x00": 1},
        {"a": ["\ud800"]},
        {"\udfff": 1},
        {"a": {"b": math.nan}},
        {"a": [math.inf]},
        {"a": -math.inf},
        {"a": (1,)},
        {"a": {3}},
        {1: "x"},
        {"a": {2: "x"}},
        {"a": _Text("x")},  # a subclass of str: the walk takes it
        {"a": [deepest]},  # 65 levels
        {"a": [[1, "ok"], [2, "x\x00"]]},
    ]
    for payload in doubtful:
        assert check_payload(payload) is payload
    assert walked == doubtful


def test_a_subclass_of_a_json_type_is_still_taken() -> None:
    payload = {"a": _Text("x")}
    assert check_payload(payload) is payload


def test_type_names() -> None:
    assert MemoryType.parse(None) is None
    assert MemoryType.parse("semantic") is MemoryType.SEMANTIC
    assert MemoryType.parse("episodic") is MemoryType.EPISODIC
    assert message(MemoryType.parse, "Semantic") == "type must be 'episodic' or 'semantic', got 'Semantic'"


def test_importance_is_clamped_into_0_to_1_and_defaults_to_one_half() -> None:
    assert DEFAULT_IMPORTANCE == 0.5
    assert normalise_importance(None) == 0.5
    assert normalise_importance(True) == 0.5
    assert normalise_importance(math.nan) == 0.5
    assert normalise_importance(-math.inf) == 0.5
    assert normalise_importance(0) == 0.0
    assert normalise_importance(1) == 1.0
    assert normalise_importance(1.5) == 1.0
    assert normalise_importance(-0.5) == 0.0
    assert isinstance(normalise_importance(1), float)


def test_stats_and_bulk_counts() -> None:
    assert stats_from_counts({"episodic": 3, "semantic": 4, "other": 9}) == Stats(7, 3, 4)
    assert stats_from_counts({}) == Stats(0, 0, 0)
    result = BulkResult([ItemResult(0, True, (1.0,)), ItemResult(1, False, error="x"), ItemResult(2, True)])
    assert result.stored == 2
    assert BulkResult().stored == 0


def test_embedding_in_slices_gives_one_row_per_text_in_order() -> None:
    embedder = HashingEmbedder(64)
    assert EMBED_SLICE == 256
    texts = [f"text number {n}" for n in range(EMBED_SLICE + 3)]
    vectors = embed(embedder, texts)
    assert vectors.shape == (EMBED_SLICE + 3, 64)
    assert (vectors[EMBED_SLICE + 2] == embedder.embed([texts[-1]])[0]).all()
    memories = [Memory("ns", (float(n),), {"t": f"m{n}"}, MemoryType.SEMANTIC, 0.5, 0, 0) for n in range(3)]
    points = vector_points(embedder, memories)
    assert [(p.namespace, p.coordinate, p.memory_type, p.payload) for p in points] == [
        ("ns", (float(n),), MemoryType.SEMANTIC, {"t": f"m{n}"}) for n in range(3)
    ]
    assert (points[2].vector == embedder.embed(["m2"])[0]).all()
