"""Each embedder's id: provider, model and dimensions, and for the hashing embedder a digest of its rules."""

import pytest

from somafractalmemory.embedding import hashing
from somafractalmemory.embedding.hashing import HashingEmbedder, rules_digest


def test_the_hashing_id_names_its_rules_and_dimensions() -> None:
    assert HashingEmbedder().identity == "hashing:rules-1b13d4b8:384"
    assert HashingEmbedder(256).identity == "hashing:rules-1b13d4b8:256"


@pytest.mark.parametrize(
    ("rule", "value"),
    [
        ("TRIGRAM_WEIGHT", 0.25),
        ("WORD_WEIGHT", 2.0),
        ("TRIGRAM_SEED", 1),
        ("FEATURES_VERSION", 2),
        ("STOP_WORDS", frozenset({"the"})),
    ],
)
def test_a_change_of_any_hashing_rule_changes_the_id(
    rule: str, value: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hashing, rule, value)
    rules_digest.cache_clear()  # the digest is computed once per process: the rules never change in one
    try:
        assert rules_digest() != "1b13d4b8"
        assert HashingEmbedder().identity == f"hashing:rules-{rules_digest()}:384"
    finally:
        monkeypatch.undo()
        rules_digest.cache_clear()
    assert rules_digest() == "1b13d4b8"


def test_the_digest_is_computed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    first = rules_digest()
    monkeypatch.setattr(hashing, "TRIGRAM_WEIGHT", 0.25)
    assert rules_digest() == first
