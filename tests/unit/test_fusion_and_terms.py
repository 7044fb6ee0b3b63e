"""Reciprocal rank fusion and the lexical leg's terms, pinned to exact orders, scores and terms."""

import pytest

from somafractalmemory.core.fusion import DEFAULT_FUSION, DEFAULT_RRF_K, FusionWeights, reciprocal_rank_fusion
from somafractalmemory.core.stop_words import STOP_WORDS, content_words
from somafractalmemory.core.terms import MAX_TERMS, hybrid_terms, query_words, reference_terms


def test_an_item_in_both_legs_sums_its_reciprocal_ranks() -> None:
    fused = reciprocal_rank_fusion([(["a", "b", "c"], 1.0), (["c", "d"], 1.0)], 60)
    assert fused == [("c", 1 / 63 + 1 / 61), ("a", 1 / 61), ("b", 1 / 62), ("d", 1 / 62)]


def test_weights_scale_each_leg() -> None:
    fused = reciprocal_rank_fusion([(["a", "b"], 1.0), (["b", "a"], 3.0)], 10)
    assert fused == [("b", 1 / 12 + 3 / 11), ("a", 1 / 11 + 3 / 12)]
    assert reciprocal_rank_fusion([(["a"], 0.0), (["b"], 1.0)], 60) == [("b", 1 / 61), ("a", 0.0)]


def test_k_flattens_the_ranks() -> None:
    assert reciprocal_rank_fusion([(["a", "b"], 1.0)], 1) == [("a", 1 / 2), ("b", 1 / 3)]


def test_ties_keep_the_order_items_were_first_met() -> None:
    fused = reciprocal_rank_fusion([(["x", "y"], 1.0), (["y", "x"], 1.0)], 60)
    assert fused == [("x", 1 / 61 + 1 / 62), ("y", 1 / 62 + 1 / 61)]
    assert reciprocal_rank_fusion([([], 1.0), ([], 1.0)], 60) == []


def test_the_default_weights_and_their_checks() -> None:
    assert (DEFAULT_FUSION.dense, DEFAULT_FUSION.lexical, DEFAULT_FUSION.k) == (1.0, 1.0, 60)
    assert DEFAULT_RRF_K == 60
    with pytest.raises(ValueError, match=r"^fusion weights must not be negative$"):
        FusionWeights(dense=-0.1)
    with pytest.raises(ValueError, match=r"^fusion weights must not be negative$"):
        FusionWeights(lexical=-1)
    with pytest.raises(ValueError, match=r"^the RRF constant k must be at least 1$"):
        FusionWeights(k=0)
    assert FusionWeights(0.0, 0.0, 1).k == 1


def test_reference_terms_are_phrases_hex_literals_and_long_words() -> None:
    query = 'find "red fox" near item-1791 at 0xBEEF, or x-1 and bar_baz; "  " "red fox"'
    assert reference_terms(query) == ["red fox", "0xBEEF", "find", "near", "item-1791", "bar_baz"]
    assert reference_terms("item-1791 item-1763") == ["item-1791", "item-1763"]
    assert reference_terms("abc de 0x1") == ["0x1"]
    assert reference_terms("café résumé naïve") == []  # ASCII words only, as the reference


def test_given_terms_win_over_the_extraction() -> None:
    assert hybrid_terms("ignored query", ["b", " ", "", " a ", "b", 7]) == ["b", "a"]  # type: ignore[list-item]
    assert hybrid_terms("jazz piano jazz", None) == ["jazz", "piano"]
    assert hybrid_terms("jazz piano", []) == ["jazz", "piano"]
    assert hybrid_terms("  ...  ", None) == []


def test_query_words_are_distinct_folded_words_but_stop_words_up_to_the_limit() -> None:
    assert query_words("What did Caroline do, caroline? Café_2") == ["caroline", "café_2"]
    assert query_words("What did you do, didn't you?") == ["what", "did", "you", "do", "didn", "t"]
    assert query_words("...") == []
    many = " ".join(f"w{n}" for n in range(100))
    assert query_words(many) == [f"w{n}" for n in range(MAX_TERMS)]
    assert MAX_TERMS == 64
    assert len(reference_terms(" ".join(f"word{n}" for n in range(100)))) == MAX_TERMS


def test_stop_words_are_function_words_and_only_they_are_dropped() -> None:
    assert len(STOP_WORDS) == 147
    assert {"the", "what", "did", "you", "didn", "t", "i", "m"} <= STOP_WORDS
    assert not {"caroline", "research", "paint", "support", "group"} & STOP_WORDS
    assert content_words(["the", "cat", "sat", "on", "the", "mat"]) == ["cat", "sat", "mat"]
    assert content_words(["what", "is", "it"]) == ["what", "is", "it"]
    assert content_words([]) == []
