"""The hashing embedder's vocabulary (embedding/hashing.py): each word's features computed once, kept in
flat arrays, and a batch's features gathered by numpy. The vectors are the rules' own, bit for bit."""

import hashlib
import threading

import numpy as np
import pytest

from somafractalmemory.cli.bench_workload import Workload
from somafractalmemory.core.stop_words import content_words
from somafractalmemory.core.text import payload_text
from somafractalmemory.embedding import hashing
from somafractalmemory.embedding.hashing import HashingEmbedder, Vocabulary, word_features

EDGE_TEXTS = ["", "!!", "the of", "Ünïcode naïve café", "a", "x" * 300, "déjà vu 123 _under_score"]


def digest(vectors: np.ndarray) -> str:
    return hashlib.sha256(vectors.tobytes()).hexdigest()[:16]


def workload_texts(count: int) -> list[str]:
    return [payload_text(memory.payload) for memory in Workload(7).memories(count)]


def test_the_vectors_are_those_the_rules_gave_before_the_vocabulary() -> None:
    """Digests taken from the embedder that appended each feature in Python (an lru_cache per word):
    the same bits, so no stored vector needs embedding again."""
    embedder = HashingEmbedder(384)
    assert digest(embedder.embed(workload_texts(300))) == "5c5ef64660ea29e0"
    assert digest(embedder.embed(EDGE_TEXTS)) == "61545171cd0e64e9"


def test_a_word_is_learnt_once_with_its_features_in_the_flat_arrays() -> None:
    vocabulary = Vocabulary(32)
    assert vocabulary.ids(["alpha", "beta", "alpha"]) == [0, 1, 0]
    assert vocabulary.ids(["beta", "gamma"]) == [1, 2]
    assert len(vocabulary) == 3
    for word, id_ in (("alpha", 0), ("beta", 1), ("gamma", 2)):
        slots, weights = word_features(word, 32)
        start, length = int(vocabulary.starts[id_]), int(vocabulary.lengths[id_])
        assert length == len(slots) == len("#" + word + "#") - 1  # the word and each trigram
        assert vocabulary.slots[start : start + length].tolist() == list(slots)
        assert vocabulary.weights[start : start + length].tolist() == list(weights)
    assert int(vocabulary.starts[1]) == int(vocabulary.lengths[0])  # packed one after the other


def test_the_arrays_grow_past_their_first_size_keeping_what_they_held() -> None:
    vocabulary = Vocabulary(64)
    words = [f"word{n}" for n in range(3000)]  # past 1,024 ids and 4,096 features
    assert vocabulary.ids(words) == list(range(3000))
    assert len(vocabulary.starts) >= 3000 and len(vocabulary.slots) >= int(vocabulary.lengths[:3000].sum())
    slots, _ = word_features("word7", 64)
    start = int(vocabulary.starts[7])
    assert vocabulary.slots[start : start + len(slots)].tolist() == list(slots)
    assert (vocabulary.slots.dtype, vocabulary.starts.dtype, vocabulary.lengths.dtype) == (np.int64,) * 3
    assert vocabulary.weights.dtype == np.float64


def test_an_embedder_past_its_first_arrays_gives_the_vectors_of_a_fresh_one() -> None:
    texts = [f"word{n} and term{n % 50}" for n in range(3000)]
    grown = HashingEmbedder(64)
    grown.embed(texts)  # past the first arrays
    fresh = HashingEmbedder(64)
    assert np.array_equal(grown.embed(texts[-5:]), fresh.embed(texts[-5:]))


def test_a_text_of_no_word_is_a_zero_row_of_float32() -> None:
    vectors = HashingEmbedder(16).embed(["!!", ""])
    assert vectors.dtype == np.float32 and vectors.shape == (2, 16) and not vectors.any()


def test_too_few_dimensions_are_refused() -> None:
    with pytest.raises(ValueError, match=r"^the hashing embedder needs at least 8 dimensions$"):
        HashingEmbedder(7)
    assert HashingEmbedder(8).dimensions == 8


def test_a_full_vocabulary_starts_again_and_the_vectors_stay_the_same(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = workload_texts(40)
    expected = HashingEmbedder(384).embed(texts)
    monkeypatch.setattr(hashing, "CACHED_WORDS", 10)
    embedder = HashingEmbedder(384)
    first = embedder._vocabulary
    assert np.array_equal(embedder.embed(texts), expected)  # learnt past the cap: this call finishes
    assert len(first) > 10 and embedder._vocabulary is first
    assert np.array_equal(embedder.embed(texts[:1]), expected[:1])  # made on the full one, which it drops
    assert embedder._vocabulary is not first and len(embedder._vocabulary) == 0
    assert np.array_equal(embedder.embed(texts[1:3]), expected[1:3])  # on the new one
    # every word of theirs, stop words too: a text of nothing else is embedded from them
    learnt = {w for t in texts[1:3] for w in hashing.TOKEN_PATTERN.findall(t.lower())}
    assert len(embedder._vocabulary) == len(learnt) > len(content_words(sorted(learnt)))


def test_the_vocabulary_starts_again_once_it_holds_the_cap_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hashing, "CACHED_WORDS", 3)
    embedder = HashingEmbedder(32)
    embedder.embed(["alpha beta gamma"])
    first = embedder._vocabulary
    assert len(first) == 3
    embedder.embed(["delta"])
    assert embedder._vocabulary is not first


def test_threads_learning_at_once_get_the_vectors_one_thread_gets() -> None:
    texts = [f"thread{n % 4} shares words{n} with others{n % 7}" for n in range(400)]
    expected = HashingEmbedder(128).embed(texts)
    embedder = HashingEmbedder(128)
    found: dict[int, np.ndarray] = {}

    def embed(part: int) -> None:
        found[part] = embedder.embed(texts[part::4])

    threads = [threading.Thread(target=embed, args=(part,)) for part in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for part in range(4):
        assert np.array_equal(found[part], expected[part::4])
    assert len(embedder._vocabulary) == len({word for text in texts for word in text.split()})
