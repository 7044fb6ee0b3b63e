"""Hybrid scoring pinned to its values: the term share is hits over terms, no terms scores 0, terms are
chosen and deduplicated as documented, and the text of a payload is its strings in document order."""

import pytest

from somafractalmemory.core.models import Memory, MemoryType
from somafractalmemory.core.scoring import search_terms, term_matches, term_share
from somafractalmemory.core.text import VALUE_SEPARATOR, payload_text, string_values


def memory(payload: dict[str, object]) -> Memory:
    return Memory("ns", (1.0,), payload, MemoryType.EPISODIC, 0.5, 0.0, 0.0)


NOTE = memory({"title": "Kubernetes Operators", "tags": ["ops", {"team": "Platform"}], "n": 3})


def test_the_share_is_hits_over_terms() -> None:
    share = term_share(NOTE, ["ops", "missing"], exact=True, case_sensitive=False)
    assert share == 0.5
    assert term_share(NOTE, ["ops", "platform", "nope", "none"], exact=True, case_sensitive=False) == 0.5
    assert term_share(NOTE, ["ops", "x", "y"], exact=True, case_sensitive=False) == pytest.approx(1 / 3)
    assert term_share(NOTE, ["ops", "platform"], exact=True, case_sensitive=False) == 1.0
    assert term_share(NOTE, ["nothing"], exact=True, case_sensitive=False) == 0.0


def test_no_terms_share_nothing() -> None:
    assert term_share(NOTE, [], exact=True, case_sensitive=False) == 0.0
    assert term_share(NOTE, [], exact=False, case_sensitive=True) == 0.0


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


def test_terms_given_drop_blanks_and_repeats_in_order() -> None:
    assert search_terms("ignored query", ["b", " ", "", "a", "b", 7]) == ["b", "a"]  # type: ignore[list-item]
    assert search_terms("ignored", ["x"]) == ["x"]


def test_without_terms_the_query_words_count_once_each() -> None:
    assert search_terms("jazz, piano: jazz! café_2", None) == ["jazz", "piano", "café_2"]
    assert search_terms("jazz piano jazz", []) == ["jazz", "piano"]
    assert search_terms("  ...  ", None) == []


def test_payload_text_is_every_string_in_document_order() -> None:
    payload = {"a": "one", "b": ["two", {"c": "three", "d": 4, "e": None}, ["four"]], "f": True, "g": "five"}
    assert list(string_values(payload)) == ["one", "two", "three", "four", "five"]
    assert payload_text(payload) == "one\ntwo\nthree\nfour\nfive"
    assert VALUE_SEPARATOR == "\n"
    assert list(string_values("alone")) == ["alone"]
    assert list(string_values(5)) == []
    assert payload_text({}) == ""
