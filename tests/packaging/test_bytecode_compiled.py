"""`make install` compiles the bytecode of what `soma serve` imports, as pip and the images do: where
PYTHONDONTWRITEBYTECODE is set (as in the images, and on many CI machines) nothing is written at run time,
and without it every start compiled its imports anew (about 2 s of a start at a million memories)."""

import importlib
import importlib.util
from pathlib import Path

import pytest

# What a start imports, from the project and from its largest dependencies.
STARTED_WITH = [
    "somafractalmemory.wiring",
    "somafractalmemory.http_api.application",
    "fastapi",
    "uvicorn",
    "faiss",
]


@pytest.mark.parametrize("name", STARTED_WITH)
def test_the_modules_a_start_imports_have_their_bytecode_cached(name: str) -> None:
    source = importlib.import_module(name).__file__
    assert source is not None
    assert Path(importlib.util.cache_from_source(source)).is_file(), f"{name} was installed uncompiled"
