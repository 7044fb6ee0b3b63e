"""The data directory holds the memories and the generated token: only its owner may enter it, and only
its owner may read its files, whatever the directory's mode and the process's umask."""

import os
import stat
from pathlib import Path
from typing import IO, Any

PRIVATE_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_directory(path: Path) -> Path:
    """Create ``path`` (and missing parents) owner-only; an existing directory is left as it is."""
    path.mkdir(mode=PRIVATE_MODE, parents=True, exist_ok=True)
    return path


def private_file(path: Path) -> Path:
    """Create ``path`` empty, or keep it, readable and writable by its owner only (fchmod: umask-proof)."""
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, PRIVATE_FILE_MODE)
    try:
        os.fchmod(descriptor, PRIVATE_FILE_MODE)
    finally:
        os.close(descriptor)
    return path


def open_private(path: Path, mode: str) -> IO[Any]:
    """``open(path, mode)`` for writing (``"w"``, ``"wb"``, ``"ab"``), the file owner-only whether it is
    created or was there (fchmod: umask-proof)."""
    if mode not in ("w", "wb", "ab"):
        raise ValueError(f"open_private writes: 'w', 'wb' or 'ab', not {mode!r}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC | (os.O_APPEND if mode == "ab" else os.O_TRUNC)
    descriptor = os.open(path, flags, PRIVATE_FILE_MODE)
    try:
        os.fchmod(descriptor, PRIVATE_FILE_MODE)
        return os.fdopen(descriptor, mode)
    except BaseException:
        os.close(descriptor)
        raise


def tighten(path: Path) -> None:
    """Make an existing file owner-only; a missing one is left missing, a private one untouched (so a
    read-only mount holding it stays readable)."""
    if path.exists() and stat.S_IMODE(path.stat().st_mode) != PRIVATE_FILE_MODE:
        os.chmod(path, PRIVATE_FILE_MODE)
