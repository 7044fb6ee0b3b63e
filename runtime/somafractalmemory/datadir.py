"""The data directory holds the memories and the generated token: only its owner may enter it."""

from pathlib import Path

PRIVATE_MODE = 0o700


def private_directory(path: Path) -> Path:
    """Create ``path`` (and missing parents) owner-only; an existing directory is left as it is."""
    path.mkdir(mode=PRIVATE_MODE, parents=True, exist_ok=True)
    return path
