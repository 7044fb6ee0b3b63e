"""An optional neural embedder on sentence-transformers (``pip install 'somafractalmemory[embeddings]'``,
which pulls torch): a model name the library resolves, or a directory holding the model's files (its id
names the model by that name, or by the directory's name)."""

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.ports import Vectors


def model_name(model: str) -> str:
    """The name the embedder's id gives ``model`` (a name, or a directory: its name)."""
    return Path(model).name if Path(model).is_dir() else model


class SentenceTransformerEmbedder:
    def __init__(self, model: str, batch_size: int) -> None:
        from sentence_transformers import SentenceTransformer  # heavy: imported only when chosen

        self._model: Any = SentenceTransformer(model, device="cpu")
        self._batch_size = batch_size
        dimensions = self._model.get_embedding_dimension()
        if dimensions is None:
            raise InvalidInput(f"the sentence-transformers model {model} does not say its dimensions")
        self._dimensions = int(dimensions)
        self._name = model_name(model)

    @property
    def dimensions(self) -> int:
        return self._dimensions

    @property
    def identity(self) -> str:
        return f"sentence-transformers:{self._name}:{self._dimensions}"

    def embed(self, texts: Sequence[str]) -> Vectors:
        vectors = self._model.encode(
            list(texts), batch_size=self._batch_size, normalize_embeddings=True, convert_to_numpy=True
        )
        return np.asarray(vectors, dtype=np.float32)
