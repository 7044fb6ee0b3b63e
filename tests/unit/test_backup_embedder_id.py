"""A backup names the embedder whose vectors its memories had."""

from pathlib import Path

import pytest

from somafractalmemory.cli.backup_sources import embedder_id
from somafractalmemory.settings import Settings


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ({}, "hashing/384"),
        ({"embedding_dimensions": 256}, "hashing/256"),
        (
            {
                "embedding_provider": "onnx",
                "embedding_model_dir": Path("/models/sentence-transformers--all-MiniLM-L6-v2"),
            },
            "onnx/sentence-transformers--all-MiniLM-L6-v2",
        ),
        ({"embedding_provider": "sentence-transformers"}, "sentence-transformers/all-MiniLM-L6-v2"),
        (
            {"embedding_provider": "sentence-transformers", "embedding_model_dir": Path("/models/mini")},
            "sentence-transformers/mini",
        ),
    ],
)
def test_the_embedder_id_names_provider_and_model(values: dict[str, object], expected: str) -> None:
    assert embedder_id(Settings(**values)) == expected  # type: ignore[arg-type]
