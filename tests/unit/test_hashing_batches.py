"""The hashing embedder tokenises a batch's texts as one string (embedding/hashing.py): each row is still
the vector the rules give its text alone, feature by feature, whatever its neighbours hold."""

import random

import numpy as np
import pytest

from somafractalmemory.core.stop_words import STOP_WORDS, content_words
from somafractalmemory.embedding import hashing
from somafractalmemory.embedding.hashing import ASCII_SPACES, HashingEmbedder, Vocabulary, word_features

DIMENSIONS = 64
# Neighbours that could leak into each other: a final sigma before the next text (lower() makes it
# final only at a word's end), a text of stop words beside one of content, empty texts, NULs of a
# text's own, upper case, digits and underscores (word characters), and accents.
TRICKY = [
    "ΟΔΟΣ",
    "ΑΒΓ δρόμος",
    "the of and",
    "",
    "Kafka\x00broker",
    "\x00",
    "what IS it",
    "snake_case 42 Déjà-vu",
    "",
    "!!",
    "ΣΑΣ",
    "cat",
]


def by_the_rules(texts: list[str], dimensions: int) -> np.ndarray:
    """Each text alone: its words (stop words left out unless it has nothing else), every feature of
    every word added one by one in float64, then the rows as float32 and normalised."""
    sums = np.zeros((len(texts), dimensions), dtype=np.float64)
    for row, text in enumerate(texts):
        for word in content_words(hashing.TOKEN_PATTERN.findall(text.lower())):
            slots, weights = word_features(word, dimensions)
            for slot, weight in zip(slots, weights, strict=True):
                sums[row, slot] += weight
    matrix = sums.astype(np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    np.divide(matrix, norms, out=matrix, where=norms > 0)
    return matrix


def test_a_batch_gives_each_text_the_vector_of_the_rules_bit_for_bit() -> None:
    assert np.array_equal(HashingEmbedder(DIMENSIONS).embed(TRICKY), by_the_rules(TRICKY, DIMENSIONS))


@pytest.mark.parametrize("text", TRICKY)
def test_a_text_embedded_alone_is_its_row_of_the_batch(text: str) -> None:
    batch = HashingEmbedder(DIMENSIONS).embed(TRICKY)
    alone = HashingEmbedder(DIMENSIONS).embed([text])
    assert np.array_equal(alone[0], batch[TRICKY.index(text)])


def test_the_words_of_each_text_and_their_count() -> None:
    vocabulary = Vocabulary(DIMENSIONS)
    words, counts = vocabulary.text_ids(["The cat sat", "", "the of", "Kafka\x00Kafka", "cat"])
    cat, sat, the, of, kafka = vocabulary.ids(["cat", "sat", "the", "of", "kafka"])
    # stop words out of a text with other words, kept in one of nothing else; a NUL splits like a space
    assert words.tolist() == [cat, sat, the, of, kafka, kafka, cat]
    assert counts.tolist() == [2, 0, 2, 2, 1]
    assert (words.dtype, counts.dtype) == (np.int64, np.int64)


def test_a_batch_of_no_word_has_no_ids_and_a_zero_count_each() -> None:
    words, counts = Vocabulary(DIMENSIONS).text_ids(["", "!!", "\x00"])
    assert words.tolist() == [] and counts.tolist() == [0, 0, 0]


def test_each_word_learnt_is_marked_a_stop_word_or_not() -> None:
    vocabulary = Vocabulary(DIMENSIONS)
    words = ["the", "memory", "whom", "broker"]
    ids = vocabulary.ids(words)
    assert [bool(vocabulary.stop[i]) for i in ids] == [word in STOP_WORDS for word in words]
    assert [bool(vocabulary.stop[i]) for i in ids] == [True, False, True, False]


def test_the_separator_is_no_word_of_the_vocabulary() -> None:
    vocabulary = Vocabulary(DIMENSIONS)
    assert len(vocabulary) == 0
    vocabulary.text_ids(["alpha", "beta"])
    assert len(vocabulary) == 2


def random_texts(alphabet: str, count: int, seed: int) -> list[str]:
    draw = random.Random(seed)
    return ["".join(draw.choice(alphabet) for _ in range(draw.randrange(0, 40))) for _ in range(count)]


ASCII = "".join(map(chr, range(128)))
# Beside ASCII: letters (accented, Greek with its sigmas, dotted capital I), digits of another script,
# and spaces and punctuation outside ASCII.
UNICODE = ASCII + "éÉßİΣσςΑΩ٣\u00a0\u2003\u2014“”"


@pytest.mark.parametrize("alphabet", [ASCII, UNICODE], ids=["ascii", "unicode"])
def test_random_texts_get_the_vectors_of_the_rules(alphabet: str) -> None:
    texts = [*random_texts(alphabet, 300, seed=len(alphabet)), "the", "of the", "THE Cat"]
    assert np.array_equal(HashingEmbedder(DIMENSIONS).embed(texts), by_the_rules(texts, DIMENSIONS))


def test_an_ascii_batch_and_one_with_other_text_split_the_same_words() -> None:
    """The byte table and the regex are two ways to the same tokens."""
    texts = random_texts(ASCII, 100, seed=1)
    ascii_only = HashingEmbedder(DIMENSIONS).embed(texts)
    beside_other = HashingEmbedder(DIMENSIONS).embed([*texts, "café ΟΔΟΣ"])
    assert np.array_equal(ascii_only, beside_other[: len(texts)])


def test_the_byte_table_keeps_exactly_the_word_characters_of_ascii_and_the_nul() -> None:
    space = ord(" ")
    kept = [byte for byte in range(128) if ASCII_SPACES[byte] == byte != space]
    words = [byte for byte in range(128) if hashing.TOKEN_PATTERN.fullmatch(chr(byte))]
    assert kept == [0, *words]
    assert {ASCII_SPACES[byte] for byte in range(128) if byte not in kept} == {space}
