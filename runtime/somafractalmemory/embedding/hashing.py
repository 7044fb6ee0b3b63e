"""A deterministic embedder that carries lexical meaning without any model.

Feature hashing of word tokens and of character trigrams of each word: texts that share words, or
parts of words, point the same way. Stop words (``core/stop_words.py``) are left out, unless a text has
nothing else: with no IDF to weigh them down, they would count as much as the words that carry meaning.
Signed hashing keeps collisions from only ever adding up. crc32 is used rather than ``hash()`` because it
is the same in every process. A word's features are computed once and cached: real text repeats its
words, so most tokens cost one dictionary lookup.

Its id (``identity``) carries a digest of its rules (token pattern, weights, seed, stop words and
``FEATURES_VERSION``, to be raised when the feature code itself changes): vectors made under other rules
are another embedder's, and ``soma reindex`` embeds their memories again.
"""

import functools
import re
import zlib
from collections.abc import Sequence

import numpy as np

from somafractalmemory.core.ports import Vectors
from somafractalmemory.core.stop_words import STOP_WORDS, content_words

TOKEN_PATTERN = re.compile(r"\w+", re.UNICODE)
WORD_WEIGHT = 1.0
TRIGRAM_WEIGHT = 0.5
TRIGRAM_SEED = 0x5EED
CACHED_WORDS = 200_000
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


@functools.lru_cache(maxsize=CACHED_WORDS)
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


class HashingEmbedder:
    def __init__(self, dimensions: int = 384) -> None:
        if dimensions < 8:
            raise ValueError("the hashing embedder needs at least 8 dimensions")
        self._dimensions = dimensions

    @property
    def dimensions(self) -> int:
        return self._dimensions

    @property
    def identity(self) -> str:
        return f"hashing:rules-{rules_digest()}:{self._dimensions}"

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Each text's word features summed into its row, the rows normalised. The features of all texts
        go into one flat list, and each row's offset is added by numpy: no Python step per feature."""
        dims = self._dimensions
        slots: list[int] = []
        weights: list[float] = []
        counts: list[int] = []
        for text in texts:
            start = len(slots)
            for word in content_words(TOKEN_PATTERN.findall(text.lower())):
                word_slots, word_weights = word_features(word, dims)
                slots += word_slots
                weights += word_weights
            counts.append(len(slots) - start)
        if not slots:
            return np.zeros((len(texts), dims), dtype=np.float32)
        offsets = np.repeat(np.arange(0, len(texts) * dims, dims), counts)
        flat = np.bincount(np.asarray(slots) + offsets, weights=weights, minlength=len(texts) * dims)
        matrix = flat.astype(np.float32).reshape(len(texts), dims)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        np.divide(matrix, norms, out=matrix, where=norms > 0)
        return matrix
