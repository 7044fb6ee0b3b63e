"""A growable float32 matrix in a memory-mapped, unlinked temporary file: the vectors of a large shard.

Anonymous memory holding a million 384-dimension vectors is 1.5 GiB of resident memory for as long as
the process runs, although a query reads a few hundred of them (the IVF candidates it rescores).
Mapped from a file, the rows are page cache the kernel may write out and drop; ``release`` unmaps the
pages from the process (their content stays in the file and the page cache), so only the rows read
since count as the process's resident memory. The file is unlinked from the start: nothing is left on
disk after a crash, and the SQLite file stays the only copy that outlives the process.
"""

import mmap
import os
import tempfile
from pathlib import Path

import numpy as np

from somafractalmemory.core.ports import Vectors

FLOAT_BYTES = np.dtype(np.float32).itemsize


class MappedRows:
    def __init__(self, folder: Path, dimensions: int) -> None:
        self._file = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115 (lives as long as the shard)
        self._row_bytes = dimensions * FLOAT_BYTES
        self._dimensions = dimensions
        self._mapping: mmap.mmap | None = None

    def resized(self, rows: int) -> Vectors:
        """The matrix with room for ``rows`` rows (never fewer than before), the rows written so far
        kept: the file grows in place, and the previous mapping goes when the last array over it does."""
        size = rows * self._row_bytes
        os.ftruncate(self._file.fileno(), size)
        self._mapping = mmap.mmap(self._file.fileno(), size)
        vectors: Vectors = np.frombuffer(self._mapping, dtype=np.float32).reshape(-1, self._dimensions)
        return vectors

    def write(self, first: int, vectors: Vectors) -> None:
        """Write rows from row ``first`` on through the file, not the mapping: a bulk write then costs
        no page fault per page, and leaves nothing resident (the mapping sees the same pages)."""
        data = np.ascontiguousarray(vectors, dtype=np.float32)
        os.pwrite(self._file.fileno(), data.data, first * self._row_bytes)

    def copy(self, first: int, source: Path, source_row: int, rows: int) -> None:
        """Copy ``rows`` rows of a file of float32 rows (a snapshot's) from its row ``source_row`` to
        row ``first`` on, in the kernel (``copy_file_range``; read and write where it is missing): no
        page of either file is mapped into the process, where reading them through a mapping cost
        twice the time at a million rows."""
        count = rows * self._row_bytes
        source_at, target_at = source_row * self._row_bytes, first * self._row_bytes
        with open(source, "rb") as opened:
            while count > 0:
                copied = _copy(opened.fileno(), self._file.fileno(), count, source_at, target_at)
                if copied == 0:
                    raise EOFError(f"{source.name} ends before its rows")
                count, source_at, target_at = count - copied, source_at + copied, target_at + copied

    def release(self) -> None:
        """Drop the mapped pages from the process's resident memory; the next read maps them again."""
        if self._mapping is not None:
            self._mapping.madvise(mmap.MADV_DONTNEED)

    def close(self) -> None:
        self._file.close()


COPY_CHUNK = 64 * 1024 * 1024  # bytes a read-and-write copy moves at a time


def _copy(source: int, target: int, count: int, source_at: int, target_at: int) -> int:
    copy_file_range = getattr(os, "copy_file_range", None)
    if copy_file_range is not None:
        copied: int = copy_file_range(source, target, count, source_at, target_at)
        return copied
    data = os.pread(source, min(count, COPY_CHUNK), source_at)
    return os.pwrite(target, data, target_at)
