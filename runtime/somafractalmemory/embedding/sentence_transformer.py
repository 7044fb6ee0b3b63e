"""An optional neural embedder (``pip install 'somafractalmemory[embeddings]'``), loaded from local files."""

from collections.abc import Sequence
from typing import Any

import numpy as np

from somafractalmemory.core.ports import Vectors


class SentenceTransformerEmbedder:
    def __init__(self, model_name: str) -> None:
        from sentence_transformers import SentenceTransformer  # heavy: imported only when chosen

        self._model: Any = SentenceTransformer(model_name)
        self._dimensions = int(self._model.get_sentence_embedding_dimension())

    @property
    def dimensions(self) -> int:
        return self._dimensions

    def embed(self, texts: Sequence[str]) -> Vectors:
        vectors = self._model.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vectors, dtype=np.float32)
