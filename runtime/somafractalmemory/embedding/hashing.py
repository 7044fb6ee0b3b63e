"""A deterministic embedder that carries lexical meaning without any model.

Feature hashing of word tokens and of character trigrams of each word: texts that share words, or
parts of words, point the same way. Stop words (``core/stop_words.py``) are left out, unless a text has
nothing else: with no IDF to weigh them down, they would count as much as the words that carry meaning.
Signed hashing keeps collisions from only ever adding up. crc32 is used rather than ``hash()`` because it
is the same in every process. A word's features are computed once and kept in a vocabulary of flat
arrays: real text repeats its words, so most tokens cost one dictionary lookup, and a batch's features
are gathered from the arrays by numpy, not appended feature by feature in Python. A batch's texts are
tokenised as one string (joined by a NUL, which no word holds): one pass of C (a byte table for ASCII,
the regex otherwise) and one dictionary lookup a token in Python, and the per-text rules (stop words,
a text of nothing else) in numpy.

Its id (``identity``) carries a digest of its rules (token pattern, weights, seed, stop words and
``FEATURES_VERSION``, to be raised when the feature code itself changes): vectors made under other rules
are another embedder's, and ``soma reindex`` embeds their memories again.
"""

import functools
import re
import threading
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

from somafractalmemory.core.ports import Vectors
from somafractalmemory.core.stop_words import STOP_WORDS

TOKEN_PATTERN = re.compile(r"\w+", re.UNICODE)
# Texts are joined by a NUL (between spaces) to be tokenised at once: it is no word character, so no
# word spans two texts and a text's words are those it has alone (the payload checks refuse a NUL in
# stored text; one in a query becomes a space first, which splits words the same way). Neither is it
# cased, so ``lower`` ends a word's final sigma before it as at the end of a text.
NUL = "\x00"
JOINER = f" {NUL} "
WORDS_AND_SEPARATORS = re.compile(f"{TOKEN_PATTERN.pattern}|{NUL}", re.UNICODE)
# A batch of ASCII text is split by turning every byte the token pattern does not take (the NUL kept)
# into a space, several times faster than the regex; the table is only used on ASCII text.
ASCII_SPACES = bytes(
    byte if byte == 0 or (byte < 128 and TOKEN_PATTERN.fullmatch(chr(byte))) else ord(" ")
    for byte in range(256)
)
SEPARATOR_ID = -2  # the NUL's "id", beside the words' (0 and up) and an unknown word's -1
WORD_WEIGHT = 1.0
TRIGRAM_WEIGHT = 0.5
TRIGRAM_SEED = 0x5EED
CACHED_WORDS = 200_000  # a vocabulary this full starts again empty
FEATURES_VERSION = 1


@functools.cache
def rules_digest() -> str:
    """Eight hex digits that change with any rule deciding which vector a text gets."""
    rules = [
        TOKEN_PATTERN.pattern,
        WORD_WEIGHT,
        TRIGRAM_WEIGHT,
        TRIGRAM_SEED,
        FEATURES_VERSION,
        *sorted(STOP_WORDS),
    ]
    return f"{zlib.crc32(repr(rules).encode()):08x}"


def word_features(word: str, dimensions: int) -> tuple[tuple[int, ...], tuple[float, ...]]:
    """The signed slots one word adds: the word itself, then each trigram of ``#word#``."""
    digest = zlib.crc32(word.encode())
    slots = [digest % dimensions]
    weights = [WORD_WEIGHT if digest >> 31 else -WORD_WEIGHT]
    marked = f"#{word}#".encode()
    for start in range(len(marked) - 2):
        digest = zlib.crc32(marked[start : start + 3], TRIGRAM_SEED)
        slots.append(digest % dimensions)
        weights.append(TRIGRAM_WEIGHT if digest >> 31 else -TRIGRAM_WEIGHT)
    return tuple(slots), tuple(weights)


Indices = np.ndarray[Any, np.dtype[np.int64]]


class Vocabulary:
    """Words by id, and the features of every word as flat arrays: word ``i``'s slots and weights are
    ``slots[starts[i] : starts[i] + lengths[i]]``. Ids and features are only ever added (under a lock,
    the arrays written before the ids are published), so a reader needs no lock: the arrays it takes
    after looking its words up hold them."""

    def __init__(self, dimensions: int) -> None:
        self._dimensions = dimensions
        self._ids: dict[str, int] = {NUL: SEPARATOR_ID}
        self._lock = threading.Lock()
        self._used = 0  # features held
        self.slots: Indices = np.empty(4096, dtype=np.int64)
        self.weights = np.empty(4096, dtype=np.float64)
        self.starts: Indices = np.empty(1024, dtype=np.int64)
        self.lengths: Indices = np.empty(1024, dtype=np.int64)
        self.stop = np.empty(1024, dtype=np.bool_)  # whether each word is a stop word

    def __len__(self) -> int:
        return len(self._ids) - 1  # the NUL is no word

    def ids(self, words: list[str]) -> list[int]:
        get = self._ids.get
        found = [get(word, -1) for word in words]
        if -1 in found:
            found = [self._learn(word) if id_ == -1 else id_ for word, id_ in zip(words, found, strict=True)]
        return found

    def text_ids(self, texts: Sequence[str]) -> tuple[Indices, Indices]:
        """The ids of the words the texts are embedded from, text after text, and how many each text
        has: its words that are no stop word, or all of them when it has no other."""
        joined = JOINER.join(texts).lower()
        if joined.count(NUL) != len(texts) - 1:  # a text holds a NUL of its own
            joined = JOINER.join(text.replace(NUL, " ") for text in texts).lower()
        if joined.isascii():
            tokens = joined.encode("ascii").translate(ASCII_SPACES).decode("ascii").split()
        else:
            tokens = WORDS_AND_SEPARATORS.findall(joined)
        ids = np.array(self.ids(tokens), dtype=np.int64)
        is_word = ids != SEPARATOR_ID
        text_of = np.cumsum(~is_word)[is_word]
        words = ids[is_word]
        stop = self.stop[words]
        content = np.bincount(text_of[~stop], minlength=len(texts))
        kept = ~stop | (content[text_of] == 0)
        return words[kept], np.bincount(text_of[kept], minlength=len(texts))

    def _learn(self, word: str) -> int:
        with self._lock:
            known = self._ids.get(word)
            if known is not None:  # another thread learnt it meanwhile
                return known
            slots, weights = word_features(word, self._dimensions)
            new_id, start, end = len(self), self._used, self._used + len(slots)
            if end > len(self.slots):
                self.slots = _grown(self.slots, end)
                self.weights = _grown(self.weights, end)
            if new_id == len(self.starts):
                self.starts = _grown(self.starts, new_id + 1)
                self.lengths = _grown(self.lengths, new_id + 1)
                self.stop = _grown(self.stop, new_id + 1)
            self.slots[start:end] = slots
            self.weights[start:end] = weights
            self.starts[new_id], self.lengths[new_id] = start, len(slots)
            self.stop[new_id] = word in STOP_WORDS
            self._used = end
            self._ids[word] = new_id
            return new_id


def _grown(array: np.ndarray[Any, Any], needed: int) -> np.ndarray[Any, Any]:
    """A copy of ``array`` with room for at least ``needed`` values (twice as many, or more)."""
    grown = np.empty(max(needed, 2 * len(array)), dtype=array.dtype)
    grown[: len(array)] = array
    return grown


class HashingEmbedder:
    def __init__(self, dimensions: int = 384) -> None:
        if dimensions < 8:
            raise ValueError("the hashing embedder needs at least 8 dimensions")
        self._dimensions = dimensions
        self._vocabulary = Vocabulary(dimensions)

    @property
    def dimensions(self) -> int:
        return self._dimensions

    @property
    def identity(self) -> str:
        return f"hashing:rules-{rules_digest()}:{self._dimensions}"

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Each text's word features summed into its row, the rows normalised. The texts' words become
        vocabulary ids (``Vocabulary.text_ids``); their features are gathered, offset by their rows and
        summed by numpy, in the order of the words and of each word's features (the sums are the same,
        bit for bit, as adding them one by one)."""
        dims = self._dimensions
        vocabulary = self._vocabulary
        if len(vocabulary) >= CACHED_WORDS:
            self._vocabulary = Vocabulary(dims)
        words, words_per_text = vocabulary.text_ids(texts)
        if not len(words):
            return np.zeros((len(texts), dims), dtype=np.float32)
        lengths = vocabulary.lengths[words]
        ends = np.cumsum(lengths)
        # For each feature, its place in the flat arrays: its word's start plus its rank in the word.
        places = np.arange(int(ends[-1]), dtype=np.int64) + np.repeat(
            vocabulary.starts[words] - ends + lengths, lengths
        )
        rows = np.repeat(np.repeat(np.arange(0, len(texts) * dims, dims), words_per_text), lengths)
        flat = np.bincount(
            vocabulary.slots[places] + rows, weights=vocabulary.weights[places], minlength=len(texts) * dims
        )
        matrix = flat.astype(np.float32).reshape(len(texts), dims)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        np.divide(matrix, norms, out=matrix, where=norms > 0)
        return matrix
