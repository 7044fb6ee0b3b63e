"""The ONNX and sentence-transformers embedders on a real model (all-MiniLM-L6-v2 from a PyPI package,
offline), and how the settings select them."""

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from minilm_onnx import export_onnx, minilm_dir
from refusals import message

from somafractalmemory.embedding.onnx_embedder import OnnxEmbedder
from somafractalmemory.embedding.sentence_transformer import SentenceTransformerEmbedder
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import build_embedder

TEXTS = [
    "How do I bake a loaf of sourdough bread?",
    "Kubernetes operators reconcile custom resources.",
    "",
    "word " * 400,  # past the model's 256 tokens: truncated alike by both
    "The stock market fell sharply on Tuesday.",
]
CANDIDATES = [
    "The Federal Reserve raised interest rates again.",
    "A simple recipe for homemade bread with a crispy crust.",
    "Deploying a controller to a Kubernetes cluster.",
]


@pytest.fixture(scope="module")
def onnx_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_onnx(tmp_path_factory.mktemp("minilm-onnx"))


@pytest.fixture(scope="module")
def onnx_embedder(onnx_dir: Path) -> OnnxEmbedder:
    return OnnxEmbedder(onnx_dir, batch_size=2)  # small batches: several calls, reordered by length


@pytest.fixture(scope="module")
def st_embedder() -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(str(minilm_dir()), batch_size=32)


def test_onnx_and_sentence_transformers_give_the_same_unit_vectors(
    onnx_embedder: OnnxEmbedder, st_embedder: SentenceTransformerEmbedder
) -> None:
    ours, theirs = onnx_embedder.embed(TEXTS), st_embedder.embed(TEXTS)
    assert onnx_embedder.dimensions == st_embedder.dimensions == 384
    assert ours.shape == theirs.shape == (5, 384)
    assert ours.dtype == theirs.dtype == np.float32
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosines = np.sum(ours * theirs, axis=1)
    assert cosines.min() > 0.999, cosines


def test_a_batch_embeds_each_text_as_alone(onnx_embedder: OnnxEmbedder) -> None:
    together = onnx_embedder.embed(TEXTS)
    alone = np.vstack([onnx_embedder.embed([text]) for text in TEXTS])
    assert np.allclose(together, alone, atol=1e-5)
    assert onnx_embedder.embed([]).shape == (0, 384)


@pytest.mark.parametrize("which", ["onnx", "sentence-transformers"])
def test_nearest_neighbour_is_the_one_meant(
    which: str, onnx_embedder: OnnxEmbedder, st_embedder: SentenceTransformerEmbedder
) -> None:
    embedder = onnx_embedder if which == "onnx" else st_embedder
    queries = embedder.embed(["baking bread at home", "container orchestration", "central bank policy"])
    candidates = embedder.embed(CANDIDATES)
    assert list(np.argmax(queries @ candidates.T, axis=1)) == [1, 2, 0]


def test_sentence_transformers_loads_without_a_warning() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        embedder = SentenceTransformerEmbedder(str(minilm_dir()), batch_size=4)
        assert embedder.embed(["no deprecation here"]).shape == (1, 384)


def test_cls_pooling_is_read_from_the_pooling_config(onnx_dir: Path, tmp_path: Path) -> None:
    shutil.copytree(onnx_dir, tmp_path / "model")
    (tmp_path / "model" / "1_Pooling" / "config.json").write_text(
        json.dumps({"pooling_mode_cls_token": True})
    )
    embedder = OnnxEmbedder(tmp_path / "model")
    session = onnxruntime.InferenceSession(str(onnx_dir / "model.onnx"))
    # [CLS] hello [SEP] in MiniLM's vocabulary
    ids = np.array([[101, 7592, 102]], dtype=np.int64)
    tokens = session.run(
        None, {"input_ids": ids, "attention_mask": np.ones_like(ids), "token_type_ids": np.zeros_like(ids)}
    )[0]
    first = tokens[0, 0] / np.linalg.norm(tokens[0, 0])
    assert np.allclose(embedder.embed(["hello"])[0], first, atol=1e-5)


def test_a_model_directory_in_hub_layout_is_read(onnx_dir: Path, tmp_path: Path) -> None:
    (tmp_path / "onnx").mkdir()
    shutil.copyfile(onnx_dir / "model.onnx", tmp_path / "onnx" / "model.onnx")
    shutil.copyfile(onnx_dir / "tokenizer.json", tmp_path / "tokenizer.json")
    vectors = OnnxEmbedder(tmp_path).embed(["hello"])
    assert np.allclose(vectors, OnnxEmbedder(onnx_dir).embed(["hello"]), atol=1e-6)


def test_missing_model_files_are_refused(onnx_dir: Path, tmp_path: Path) -> None:
    assert message(OnnxEmbedder, tmp_path) == (
        f"no model.onnx or onnx/model.onnx in the embedding model directory {tmp_path}"
    )
    shutil.copyfile(onnx_dir / "model.onnx", tmp_path / "model.onnx")
    assert message(OnnxEmbedder, tmp_path) == f"no tokenizer.json in the embedding model directory {tmp_path}"
    assert message(OnnxEmbedder, onnx_dir, 0) == "the embedding batch size must be at least 1, got 0"


def test_settings_select_the_provider(onnx_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOMA_EMBEDDING_PROVIDER", "onnx")
    assert message(build_embedder, Settings()) == (
        "SOMA_EMBEDDING_PROVIDER=onnx needs SOMA_EMBEDDING_MODEL_DIR: the directory holding model.onnx and "
        "tokenizer.json"
    )
    monkeypatch.setenv("SOMA_EMBEDDING_MODEL_DIR", str(onnx_dir))
    monkeypatch.setenv("SOMA_EMBEDDING_BATCH_SIZE", "7")
    embedder = build_embedder(Settings())
    assert isinstance(embedder, OnnxEmbedder)
    assert embedder._batch_size == 7
    monkeypatch.setenv("SOMA_EMBEDDING_PROVIDER", "sentence-transformers")
    monkeypatch.setenv("SOMA_EMBEDDING_MODEL_DIR", str(minilm_dir()))
    chosen = build_embedder(Settings())
    assert isinstance(chosen, SentenceTransformerEmbedder)
    assert chosen._batch_size == 7
    assert np.allclose(chosen.embed(["hello"]), embedder.embed(["hello"]), atol=2e-3)


def test_the_neural_ids_name_provider_model_and_dimensions(
    onnx_dir: Path, onnx_embedder: OnnxEmbedder, st_embedder: SentenceTransformerEmbedder, tmp_path: Path
) -> None:
    assert onnx_embedder.identity == f"onnx:{onnx_dir.name}:384"  # no manifest: the directory's name
    assert st_embedder.identity == f"sentence-transformers:{minilm_dir().name}:384"
    fetched = tmp_path / "fetched"
    shutil.copytree(onnx_dir, fetched)
    (fetched / "soma-model.json").write_text(json.dumps({"model": "sentence-transformers/all-MiniLM-L6-v2"}))
    assert OnnxEmbedder(fetched).identity == "onnx:sentence-transformers/all-MiniLM-L6-v2:384"
