"""scripts/lock.py, imported for the tests (scripts/ is not a package), and the pins of a lock."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("lock_script", REPO / "scripts" / "lock.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


lock_script = _load()


def pins(name: str) -> dict[str, str]:
    """Normalized name -> version of every pin of requirements/NAME.txt."""
    found: dict[str, str] = lock_script.pins((REPO / "requirements" / f"{name}.txt").read_text())
    return found
