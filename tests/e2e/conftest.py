"""The kind end-to-end tier: gated, and skipped with the exact reason when it cannot run.

It runs only with SOMA_E2E=1 and with kind, kubectl and docker on PATH (`make e2e` sets everything up:
the cluster, the images, the operator). Elsewhere every test here is skipped, saying what is missing.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REQUIRED_TOOLS = ("kind", "kubectl", "docker")
HERE = Path(__file__).parent


def missing_requirements() -> list[str]:
    missing = [] if os.environ.get("SOMA_E2E") == "1" else ["SOMA_E2E=1 is not set"]
    absent = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if absent:
        missing.append(f"not on PATH: {', '.join(absent)}")
    return missing


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    missing = missing_requirements()
    if not missing:
        return
    skip = pytest.mark.skip(reason=f"e2e needs a kind cluster (`make e2e`): {'; '.join(missing)}")
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(skip)
