"""A deterministic embedder that carries lexical meaning without any model.

Feature hashing of word tokens and of character trigrams of each word: texts that share words, or
parts of words, point the same way. Signed hashing keeps collisions from only ever adding up.
crc32 is used rather than ``hash()`` because it is the same in every process.
"""

import re
import zlib
from collections.abc import Sequence

import numpy as np

from somafractalmemory.core.ports import Vectors

TOKEN_PATTERN = re.compile(r"\w+", re.UNICODE)
WORD_WEIGHT = 1.0
TRIGRAM_WEIGHT = 0.5


class HashingEmbedder:
    def __init__(self, dimensions: int = 384) -> None:
        if dimensions < 8:
            raise ValueError("the hashing embedder needs at least 8 dimensions")
        self._dimensions = dimensions

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def _features(self, text: str) -> tuple[list[int], list[float]]:
        slots: list[int] = []
        weights: list[float] = []
        dims = self._dimensions
        for word in TOKEN_PATTERN.findall(text.lower()):
            digest = zlib.crc32(word.encode())
            slots.append(digest % dims)
            weights.append(WORD_WEIGHT if (digest >> 31) else -WORD_WEIGHT)
            marked = f"#{word}#"
            for start in range(len(marked) - 2):
                digest = zlib.crc32(marked[start : start + 3].encode(), 0x5EED)
                slots.append(digest % dims)
                weights.append(TRIGRAM_WEIGHT if (digest >> 31) else -TRIGRAM_WEIGHT)
        return slots, weights

    def embed(self, texts: Sequence[str]) -> Vectors:
        matrix = np.zeros((len(texts), self._dimensions), dtype=np.float32)
        for row, text in enumerate(texts):
            slots, weights = self._features(text)
            if slots:
                matrix[row] = np.bincount(slots, weights=weights, minlength=self._dimensions)
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        np.divide(matrix, norms, out=matrix, where=norms > 0)
        return matrix
