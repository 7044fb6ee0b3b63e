"""A backup names the embedder whose vectors its memories had, in the format the memories record."""

import json
from pathlib import Path

import pytest

from somafractalmemory.cli.backup_sources import embedder_id
from somafractalmemory.embedding.hashing import rules_digest
from somafractalmemory.settings import Settings


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, f"hashing:rules-{rules_digest()}:384"),
        ({"embedding_dimensions": 256}, f"hashing:rules-{rules_digest()}:256"),
        (
            {
                "embedding_provider": "onnx",
                "embedding_model_dir": Path("/models/sentence-transformers--all-MiniLM-L6-v2"),
            },
            "onnx:sentence-transformers--all-MiniLM-L6-v2",
        ),
        ({"embedding_provider": "onnx"}, "onnx:all-MiniLM-L6-v2"),
        ({"embedding_provider": "sentence-transformers"}, "sentence-transformers:all-MiniLM-L6-v2"),
        (
            {"embedding_provider": "sentence-transformers", "embedding_model_dir": Path("/models/mini")},
            "sentence-transformers:mini",
        ),
    ],
)
def test_the_embedder_id_names_provider_and_model(values: dict[str, object], expected: str) -> None:
    assert embedder_id(Settings(**values)) == expected  # type: ignore[arg-type]


def test_an_onnx_model_directory_is_named_by_its_manifest_without_loading_the_model(tmp_path: Path) -> None:
    """Only soma-model.json is read: the directory holds no model at all."""
    (tmp_path / "soma-model.json").write_text(json.dumps({"model": "sentence-transformers/all-MiniLM-L6-v2"}))
    settings = Settings(embedding_provider="onnx", embedding_model_dir=tmp_path)
    assert embedder_id(settings) == "onnx:sentence-transformers/all-MiniLM-L6-v2"
