"""The mapped vectors of a large shard: rows survive growth and a release, no file is left on disk, and
a release gives the pages back (the process's resident memory falls by what was mapped)."""

import os
import resource
from pathlib import Path

import numpy as np

from somafractalmemory.adapters.mapped_rows import MappedRows


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def test_rows_survive_growth_and_release_and_no_file_is_left(tmp_path: Path) -> None:
    rows = MappedRows(tmp_path, 4)
    small = rows.resized(2)
    small[:] = [[1, 2, 3, 4], [5, 6, 7, 8]]
    grown = rows.resized(1000)
    assert grown.shape == (1000, 4) and grown.dtype == np.float32
    assert grown[:2].tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    rows.release()
    assert grown[:2].tolist() == [[1, 2, 3, 4], [5, 6, 7, 8]]
    assert not grown[2:].any()
    assert os.listdir(tmp_path) == []  # unlinked from the start: a crash leaves nothing behind
    rows.close()


def test_a_release_gives_the_written_pages_back(tmp_path: Path) -> None:
    mib = 1024 * 1024
    rows = MappedRows(tmp_path, 256)  # 1 KiB a row
    vectors = rows.resized(64 * 1024)  # 64 MiB
    before = resident_bytes()
    vectors[:] = 1.0
    assert resident_bytes() - before > 60 * mib
    rows.release()
    assert resident_bytes() - before < 4 * mib
    assert float(vectors[12_345, 7]) == 1.0  # read back from the page cache
    rows.close()


def test_rows_written_through_the_file_are_seen_by_the_mapping_and_not_resident(tmp_path: Path) -> None:
    mib = 1024 * 1024
    rows = MappedRows(tmp_path, 256)
    vectors = rows.resized(64 * 1024)
    data = np.full((32 * 1024, 256), 2.0, dtype=np.float32)
    before = resident_bytes()
    rows.write(10, data)  # 32 MiB from row 10 on
    assert resident_bytes() - before < 4 * mib
    assert float(vectors[9, 0]) == 0.0
    assert float(vectors[10, 0]) == float(vectors[10 + 32 * 1024 - 1, 255]) == 2.0
    assert float(vectors[10 + 32 * 1024, 0]) == 0.0
    rows.close()
