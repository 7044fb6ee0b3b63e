"""A neural embedder on ONNX Runtime, for production: no torch, model files read from a directory.

The directory (a volume in a cluster, ``SOMA_EMBEDDING_MODEL_DIR``) holds a sentence-transformers model
exported to ONNX, laid out as the model hubs publish it:

- ``model.onnx`` (or ``onnx/model.onnx``): inputs ``input_ids``, ``attention_mask`` (and
  ``token_type_ids`` when the model takes them), first output the token embeddings
  ``(batch, sequence, dimensions)``;
- ``tokenizer.json``: the Hugging Face ``tokenizers`` file;
- optionally ``sentence_bert_config.json`` (``max_seq_length``, default 256) and
  ``1_Pooling/config.json`` (CLS pooling when ``pooling_mode_cls_token`` is true, else mean pooling).

Texts are embedded in batches, shortest first so that a batch pads little, and each row is L2-normalised.
Its id names the model: the ``model`` of the directory's ``soma-model.json`` (written by ``soma models
fetch``), else the directory's name.
"""

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.ports import Vectors

MODEL_FILES = ("model.onnx", "onnx/model.onnx")
TOKENIZER_FILE = "tokenizer.json"
MANIFEST_FILE = "soma-model.json"
DEFAULT_MAX_TOKENS = 256
DEFAULT_BATCH_SIZE = 32


def _model_file(model_dir: Path) -> Path:
    for name in MODEL_FILES:
        if (model_dir / name).is_file():
            return model_dir / name
    raise InvalidInput(f"no {' or '.join(MODEL_FILES)} in the embedding model directory {model_dir}")


def _json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    value = json.loads(path.read_text(encoding="utf-8"))
    return value if isinstance(value, dict) else {}


def model_name(model_dir: Path) -> str:
    """The name the embedder's id gives the model of ``model_dir``, read without loading the model."""
    return str(_json(model_dir / MANIFEST_FILE).get("model") or model_dir.name)


class OnnxEmbedder:
    def __init__(self, model_dir: Path, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        if batch_size < 1:
            raise InvalidInput(f"the embedding batch size must be at least 1, got {batch_size}")
        model_file = _model_file(model_dir)
        if not (model_dir / TOKENIZER_FILE).is_file():
            raise InvalidInput(f"no {TOKENIZER_FILE} in the embedding model directory {model_dir}")
        max_tokens = int(
            _json(model_dir / "sentence_bert_config.json").get("max_seq_length", DEFAULT_MAX_TOKENS)
        )
        self._cls_pooling = bool(_json(model_dir / "1_Pooling" / "config.json").get("pooling_mode_cls_token"))
        self._tokenizer: Any = Tokenizer.from_file(str(model_dir / TOKENIZER_FILE))
        self._tokenizer.enable_truncation(max_length=max_tokens)
        self._tokenizer.no_padding()
        options = onnxruntime.SessionOptions()
        options.log_severity_level = 3  # warnings about the graph's optimisation are not the operator's
        # Idle worker threads sleep instead of spinning: the API's own threads share the same cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session: Any = onnxruntime.InferenceSession(
            str(model_file), options, providers=["CPUExecutionProvider"]
        )
        self._inputs = {node.name for node in self._session.get_inputs()}
        self._batch_size = batch_size
        self._dimensions = int(self._session.get_outputs()[0].shape[-1])
        self._model = model_name(model_dir)

    @property
    def dimensions(self) -> int:
        return self._dimensions

    @property
    def identity(self) -> str:
        return f"onnx:{self._model}:{self._dimensions}"

    def embed(self, texts: Sequence[str]) -> Vectors:
        encodings = self._tokenizer.encode_batch(list(texts))
        order = sorted(range(len(encodings)), key=lambda row: len(encodings[row].ids))
        matrix = np.zeros((len(encodings), self._dimensions), dtype=np.float32)
        for start in range(0, len(order), self._batch_size):
            rows = order[start : start + self._batch_size]
            matrix[rows] = self._embed_batch([encodings[row] for row in rows])
        norms = np.linalg.norm(matrix, axis=1, keepdims=True)
        np.divide(matrix, norms, out=matrix, where=norms > 0)
        return matrix

    def _embed_batch(self, encodings: Sequence[Any]) -> Vectors:
        width = max(len(encoding.ids) for encoding in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        types = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            length = len(encoding.ids)
            ids[row, :length] = encoding.ids
            mask[row, :length] = encoding.attention_mask
            types[row, :length] = encoding.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        tokens = self._session.run(None, {name: feeds[name] for name in self._inputs})[0]
        if self._cls_pooling:
            return np.asarray(tokens[:, 0], dtype=np.float32)
        weights = mask[:, :, None].astype(np.float32)
        summed = (tokens * weights).sum(axis=1)
        return np.asarray(summed / np.maximum(weights.sum(axis=1), 1e-9), dtype=np.float32)
