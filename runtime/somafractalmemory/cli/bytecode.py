"""Whether a Python process started now compiles its imports from source: so where nothing writes bytecode
(PYTHONDONTWRITEBYTECODE, as in the images and on many CI machines) and the install cached none, as uv
installs by default. Then every `soma serve` compiles about 2 s of source before it is ready."""

import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

# What `soma serve` imports that matters: the project, and the largest of its dependencies on the way.
SERVE_IMPORTS = ("somafractalmemory.wiring", "fastapi", "uvicorn", "pydantic")


def compiled_at_every_start(names: Sequence[str] = SERVE_IMPORTS) -> list[str]:
    """The modules among ``names`` that a new process compiles from source, and would again the next
    time: their bytecode is not cached (``uncached``), and none is written."""
    return uncached(names) if sys.dont_write_bytecode else []


def uncached(names: Sequence[str] = SERVE_IMPORTS) -> list[str]:
    """The modules among ``names`` (found on this interpreter's path, from source) with no cached
    bytecode beside them."""
    found = []
    for name in names:
        spec = importlib.util.find_spec(name)
        origin = spec.origin if spec is not None else None
        source = origin is not None and origin.endswith(".py")
        if source and not Path(importlib.util.cache_from_source(str(origin))).is_file():
            found.append(name)
    return found
