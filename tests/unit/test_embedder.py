import numpy as np

from somafractalmemory.embedding.hashing import HashingEmbedder


def test_vectors_are_normalised_and_deterministic() -> None:
    embedder = HashingEmbedder(384)
    first = embedder.embed(["the quick brown fox", ""])
    second = HashingEmbedder(384).embed(["the quick brown fox", ""])
    assert first.shape == (2, 384)
    assert first.dtype == np.float32
    assert np.allclose(np.linalg.norm(first[0]), 1.0)
    assert not first[1].any()  # nothing to embed: the zero vector, cosine 0 with everything
    assert np.array_equal(first, second)


def test_similar_texts_are_closer_than_unrelated_ones() -> None:
    embedder = HashingEmbedder(384)
    query, related, unrelated = embedder.embed(
        ["deploying kubernetes operators", "a kubernetes operator deployment", "chocolate cake recipe"]
    )
    assert float(query @ related) > float(query @ unrelated) + 0.2


def test_shared_word_parts_carry_meaning() -> None:
    embedder = HashingEmbedder(384)
    query, inflected, other = embedder.embed(["databases", "database", "gardening"])
    assert float(query @ inflected) > float(query @ other)
