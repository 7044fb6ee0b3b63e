"""The docs generator as a fixture."""

from __future__ import annotations

from types import ModuleType

import pytest
from docs_generator import load_generator


@pytest.fixture(scope="session")
def gen_docs() -> ModuleType:
    return load_generator()
