"""Keyword matching pinned to its values (exact is a whole value, otherwise a substring; case as asked),
and the text of a payload is its strings in document order."""

from somafractalmemory.core.models import Memory, MemoryType
from somafractalmemory.core.scoring import term_matches
from somafractalmemory.core.text import VALUE_SEPARATOR, payload_text, string_values


def memory(payload: dict[str, object]) -> Memory:
    return Memory("ns", (1.0,), payload, MemoryType.EPISODIC, 0.5, 0.0, 0.0)


NOTE = memory({"title": "Kubernetes Operators", "tags": ["ops", {"team": "Platform"}], "n": 3})


def test_exact_means_a_whole_value_and_otherwise_a_substring() -> None:
    assert term_matches(NOTE, "kubernetes operators", exact=True, case_sensitive=False)
    assert not term_matches(NOTE, "kubernetes", exact=True, case_sensitive=False)
    assert term_matches(NOTE, "kubernetes", exact=False, case_sensitive=False)
    assert term_matches(NOTE, "Kubernetes", exact=False, case_sensitive=True)
    assert not term_matches(NOTE, "kubernetes", exact=False, case_sensitive=True)
    assert not term_matches(NOTE, "platform", exact=True, case_sensitive=True)
    assert term_matches(NOTE, "Platform", exact=True, case_sensitive=True)
    assert term_matches(NOTE, "PLATFORM", exact=True, case_sensitive=False)
    assert not term_matches(NOTE, "3", exact=False, case_sensitive=False)  # numbers are not text
    assert not term_matches(NOTE, "operators\nops", exact=False, case_sensitive=False)


def test_payload_text_is_every_string_in_document_order() -> None:
    payload = {"a": "one", "b": ["two", {"c": "three", "d": 4, "e": None}, ["four"]], "f": True, "g": "five"}
    assert list(string_values(payload)) == ["one", "two", "three", "four", "five"]
    assert payload_text(payload) == "one\ntwo\nthree\nfour\nfive"
    assert VALUE_SEPARATOR == "\n"
    assert list(string_values("alone")) == ["alone"]
    assert list(string_values(5)) == []
    assert payload_text({}) == ""
