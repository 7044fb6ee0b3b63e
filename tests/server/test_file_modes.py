"""Finding 11 of issue 9, against a real `soma serve`: every data file is owner-only (0600), whatever the
mode of an existing data directory and whatever the umask (the databases were created 0644 in a 0755
directory). That holds in the vector index's folder too: the saved IVF index and its snapshot's files
(written 0644 under umask 022, in a 0700 folder, before they were opened owner-only)."""

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from served import AUTH, TOKEN, Served, ServeFactory

DATABASES = ("memories.sqlite", "vectors.sqlite")  # the document store and the vector index
DATA_FILES = {"api-token"} | {db + suffix for db in DATABASES for suffix in ("", "-wal", "-shm")}
ANN_THRESHOLD = 20  # the bulk below passes it: the IVF index and the snapshot of its rows are saved
SNAPSHOT_SUFFIXES = {".faiss", ".rows", ".labels", ".types", ".coords", ".snapshot"}


@contextmanager
def umask(mask: int) -> Iterator[None]:
    """The umask the server process inherits when it starts."""
    previous = os.umask(mask)
    try:
        yield
    finally:
        os.umask(previous)


def _serve_in(serve: ServeFactory, data_dir: Path, mask: int) -> Served:
    """The token comes from the data directory's token file, as on a user's machine."""
    with umask(mask):
        return serve(data_dir=data_dir, token=None)


def _modes(data_dir: Path) -> dict[str, int]:
    """The mode of every file under the data directory, by its path there."""
    return {
        str(p.relative_to(data_dir)): stat.S_IMODE(p.stat().st_mode)
        for p in data_dir.rglob("*")
        if p.is_file()
    }


def _store(served: Served) -> None:
    with httpx.Client(base_url=served.url, headers=AUTH) as client:
        assert client.post("/store", json={"coord": "1,2", "payload": {"text": "private"}}).status_code == 200
        assert client.get("/v1/namespaces/default/memories/1,2").status_code == 200


@pytest.mark.parametrize("mask", [0o022, 0o000], ids=["umask-022", "umask-000"])
def test_data_files_are_owner_only_in_an_open_directory(
    serve: ServeFactory, tmp_path: Path, mask: int
) -> None:
    data_dir = tmp_path / "open"
    data_dir.mkdir(mode=0o755)
    os.chmod(data_dir, 0o755)
    (data_dir / "api-token").write_text(TOKEN + "\n")  # a token file written by hand, 0644
    with umask(mask):
        served = serve(data_dir=data_dir, token=None, ann_threshold=ANN_THRESHOLD)
    _store(served)
    items = [{"coord": f"{n},7", "payload": {"text": f"memory number {n}"}} for n in range(3 * ANN_THRESHOLD)]
    with httpx.Client(base_url=served.url, headers=AUTH) as client:
        assert client.post("/store_bulk", json={"items": items}).json() == {"stored": len(items)}
    running = _modes(data_dir)
    assert set(running) >= DATA_FILES, running
    assert running == dict.fromkeys(running, 0o600)
    served.server.stop()  # a clean stop saves the IVF index and its rows (and ends the -wal and -shm)
    stopped = _modes(data_dir)
    assert {Path(name).suffix for name in stopped if "/" in name} >= SNAPSHOT_SUFFIXES, stopped
    assert stopped == dict.fromkeys(stopped, 0o600)
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o755  # the directory is the operator's choice


def test_files_left_world_readable_by_an_older_version_are_tightened(
    serve: ServeFactory, tmp_path: Path
) -> None:
    data_dir = tmp_path / "older"
    data_dir.mkdir()
    (data_dir / "api-token").write_text(TOKEN + "\n")
    first = _serve_in(serve, data_dir, 0o022)
    _store(first)
    first.server.stop()
    for path in data_dir.iterdir():
        os.chmod(path, 0o644)
    _store(_serve_in(serve, data_dir, 0o022))
    modes = _modes(data_dir)
    assert modes == dict.fromkeys(modes, 0o600)
