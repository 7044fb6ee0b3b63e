"""datadir.open_private: files the vector index writes itself (its snapshot, its manifest) are
owner-only whatever the umask, created or already there."""

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from somafractalmemory.datadir import open_private


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    previous = os.umask(0o022)  # what made the snapshot's files 0644
    yield
    os.umask(previous)


def test_a_new_file_is_owner_only(tmp_path: Path) -> None:
    for name, how, data in (("text", "w", "{}"), ("binary", "wb", b"\x00\x01"), ("appended", "ab", b"ab")):
        with open_private(tmp_path / name, how) as file:
            file.write(data)
        assert mode(tmp_path / name) == 0o600
    assert (tmp_path / "text").read_text() == "{}"
    assert (tmp_path / "binary").read_bytes() == b"\x00\x01"


def test_an_existing_file_is_tightened_appended_to_or_truncated(tmp_path: Path) -> None:
    kept, replaced = tmp_path / "labels", tmp_path / "manifest"
    for path in (kept, replaced):
        path.write_bytes(b"before")
        os.chmod(path, 0o644)
    with open_private(kept, "ab") as file:
        file.truncate(3)  # as a snapshot save cuts what a crashed save appended
        file.write(b"after")
    with open_private(replaced, "wb") as file:
        file.write(b"new")
    assert kept.read_bytes() == b"befafter" and mode(kept) == 0o600
    assert replaced.read_bytes() == b"new" and mode(replaced) == 0o600


def test_it_only_writes(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"^open_private writes: 'w', 'wb' or 'ab', not 'r'$"):
        open_private(tmp_path / "file", "r")
    assert not (tmp_path / "file").exists()
