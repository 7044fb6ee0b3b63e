"""The file of a large shard's vectors (adapters/vector_rows.py): rows are appended, never rewritten,
read back in the order asked, with one read per run of consecutive rows, and reading them leaves
nothing resident in the process."""

import ctypes
import mmap
import os
import resource
import time
from pathlib import Path

import numpy as np
import pytest

from somafractalmemory.adapters import heap, vector_rows
from somafractalmemory.adapters.vector_rows import VectorRows

DIMS = 8


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def numbered(first: int, count: int, dims: int = DIMS) -> np.ndarray:
    return np.repeat(np.arange(first, first + count, dtype=np.float32)[:, None], dims, axis=1)


def appended(rows: VectorRows, first: int, count: int) -> int:
    labels = np.arange(first, first + count, dtype=np.int64)
    return rows.append(
        numbered(first, count, rows.dimensions),
        labels,
        (labels % 2).astype(np.int8),
        [(float(n),) for n in range(first, first + count)],
    )


def test_rows_are_appended_and_read_in_the_order_asked(tmp_path: Path) -> None:
    rows = VectorRows(tmp_path / "r.rows", DIMS, 0)
    assert appended(rows, 0, 5) == 0
    assert appended(rows, 5, 3) == 5
    assert rows.count == 8
    assert rows.read(np.array([7, 0, 3, 4, 3]))[:, 0].tolist() == [7.0, 0.0, 3.0, 4.0, 3.0]
    assert rows.read(np.array([], dtype=np.int64)).shape == (0, DIMS)
    assert (tmp_path / "r.rows").stat().st_size == 8 * DIMS * 4
    rows.close()
    rows.close()  # closing twice is harmless


def test_runs_of_consecutive_rows_are_read_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = VectorRows(tmp_path / "r.rows", DIMS, 0)
    appended(rows, 0, 100)
    reads: list[int] = []
    preadv = os.preadv
    monkeypatch.setattr(os, "preadv", lambda fd, buffers, at: reads.append(at) or preadv(fd, buffers, at))
    found = rows.read(np.array([52, 10, 50, 11, 51, 99, 12]))
    assert found[:, 0].tolist() == [52.0, 10.0, 50.0, 11.0, 51.0, 99.0, 12.0]
    assert reads == [10 * DIMS * 4, 50 * DIMS * 4, 99 * DIMS * 4]  # 10-12, 50-52, 99
    rows.close()


def test_scores_cover_every_row_in_chunks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(vector_rows, "SCAN_ROWS", 3)
    rows = VectorRows(tmp_path / "r.rows", DIMS, 0)
    appended(rows, 1, 7)
    assert rows.scores(np.ones(DIMS, dtype=np.float32)).tolist() == [DIMS * n for n in range(1, 8)]
    rows.close()


def test_the_unsaved_rows_are_kept_until_marked_saved(tmp_path: Path) -> None:
    path = tmp_path / "r.rows"
    rows = VectorRows(path, DIMS, 0)
    appended(rows, 1, 3)
    rows.mark_saved(2)
    appended(rows, 4, 1)
    labels, types, coordinates = rows.unsaved()
    assert (labels.tolist(), types.tolist(), coordinates) == ([3, 4], [1, 0], [(3.0,), (4.0,)])
    assert (rows.saved, rows.count) == (2, 4)
    rows.mark_saved(4)
    assert rows.unsaved()[0].tolist() == []
    rows.close()
    reopened = VectorRows(path, DIMS, 3)  # a fourth row was never trusted: cut
    assert (reopened.count, reopened.saved, path.stat().st_size) == (3, 3, 3 * DIMS * 4)
    assert reopened.read(np.arange(3))[:, 0].tolist() == [1.0, 2.0, 3.0]
    with pytest.raises(EOFError, match="the vector file ends before row 4"):
        reopened.read(np.array([3]))
    reopened.close()


def test_reading_rows_leaves_them_out_of_resident_memory(tmp_path: Path) -> None:
    mib = 1024 * 1024
    rows = VectorRows(tmp_path / "r.rows", 256, 0)  # 1 KiB a row
    for first in range(0, 64 * 1024, 8192):  # 64 MiB, in the page cache once written
        appended(rows, first, 8192)
    positions = np.random.default_rng(0).permutation(64 * 1024)[:8192]
    heap.give_back()
    before = resident_bytes()
    for start in range(0, len(positions), 512):
        found = rows.read(positions[start : start + 512])
        assert found[:, 0].tolist() == positions[start : start + 512].astype(np.float32).tolist()
    scores = rows.scores(np.ones(256, dtype=np.float32))
    assert float(scores[12_345]) == 256 * 12_345
    # Through a mapping, 8,192 rows scattered over 64 MiB would have made most of it resident. The
    # reads' and the scores' own blocks stay in the C heap until it gives them back (adapters/heap.py).
    heap.give_back()
    assert resident_bytes() - before < 16 * mib
    rows.close()


def bytes_read() -> int:
    with open("/proc/self/io") as io:
        return next(int(line.split()[1]) for line in io if line.startswith("rchar:"))


def cached_share(path: Path) -> float:
    """The share of the file's pages in the page cache (``mincore`` over a mapping of it)."""
    size = path.stat().st_size
    pages = -(-size // mmap.PAGESIZE)
    flags = (ctypes.c_ubyte * pages)()
    with path.open("rb") as file, mmap.mmap(file.fileno(), size, prot=mmap.PROT_READ) as mapping:
        view = np.frombuffer(mapping, dtype=np.uint8)
        answer = ctypes.CDLL(None).mincore(ctypes.c_void_p(view.ctypes.data), ctypes.c_size_t(size), flags)
        del view
    assert answer == 0
    return sum(flag & 1 for flag in flags) / pages


def sixteen_mib_of_rows(tmp_path: Path) -> VectorRows:
    rows = VectorRows(tmp_path / "r.rows", 256, 0)
    appended(rows, 0, 16 * 1024)  # 16 MiB: 128 spans of READ_AHEAD_BYTES, 4 reads of WARM_BYTES
    rows.sync()
    return rows


@pytest.mark.skipif(not hasattr(os, "posix_fadvise"), reason="no read-ahead advice on this system")
def test_warming_brings_the_file_into_the_page_cache_without_reading_it(tmp_path: Path) -> None:
    rows = sixteen_mib_of_rows(tmp_path)
    descriptor = os.open(rows.path, os.O_RDONLY)
    os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(descriptor)
    if cached_share(rows.path) > 0.5:
        pytest.skip("this file system keeps a file's pages whatever it is told (tmpfs): nothing to warm")
    before = bytes_read()
    thread = rows.warm()
    thread.join(timeout=60)
    assert not thread.is_alive() and thread.daemon
    deadline = time.monotonic() + 30  # the kernel reads ahead after the advice returns
    while cached_share(rows.path) < 1.0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert cached_share(rows.path) == 1.0  # every page, the last span's too
    assert bytes_read() - before < 1024 * 1024  # nothing of it copied into the process
    rows.close()


def test_without_read_ahead_advice_the_file_is_read_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = sixteen_mib_of_rows(tmp_path)
    monkeypatch.delattr(os, "posix_fadvise", raising=False)
    before = bytes_read()
    rows.warm().join(timeout=60)
    assert bytes_read() - before >= 16 * 1024 * 1024
    rows.close()


def test_warming_a_file_gone_meanwhile_reads_nothing_and_raises_nothing(tmp_path: Path) -> None:
    rows = sixteen_mib_of_rows(tmp_path)
    rows.close()
    (tmp_path / "r.rows").unlink()
    thread = rows.warm()
    thread.join(timeout=60)
    assert not thread.is_alive()
