"""The float32 vectors of a large shard: rows appended to a file (its snapshot's ``.rows``, see
``vector_snapshot``) and read back with ``pread`` when a query needs them.

Anonymous memory holding a million 384-dimension vectors is 1.5 GiB of resident memory for as long as
the process runs, although a query reads a few hundred of them (the IVF candidates it rescores), and
copying them from the snapshot on every start cost 8 to 12 s when the snapshot had to come from disk.
So the snapshot's file is the storage itself: opening keeps its trusted rows where they are (nothing is
read but what queries ask for), and the pages read stay page cache the kernel may drop, never the
process's resident memory (read through a mapping instead, 10,000 random rows of a cached file made
1.2 GiB resident: the kernel maps the pages around each one it faults in).

The file is append-only: a new or replaced vector is written after the last row, a row already written
is never written again, so the rows a manifest trusts stay exactly as they were saved whatever the
shard does since (a delete moves an entry of the shard's row-to-position array, not a vector). Rows
appended since the last save are untrusted until the next one: each keeps its label, type and coordinate
here until the snapshot's save has written them; opening cuts whatever follows the trusted rows.
"""

import fcntl
import logging
import os
import threading
from array import array
from pathlib import Path
from typing import Any

import numpy as np

from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.ports import Vectors

Positions = np.ndarray[Any, np.dtype[np.int64]]
Codes = np.ndarray[Any, np.dtype[np.int8]]
FLOAT_BYTES = np.dtype(np.float32).itemsize
SCAN_ROWS = 16_384  # rows a full scan reads at a time (24 MiB at 384 dimensions)
WARM_BYTES = 4 * 1024 * 1024  # read at a time by ``warm`` where the kernel takes no read-ahead advice
# The span of each read-ahead request ``warm`` makes. Linux cuts a request to the device's read-ahead
# window (``read_ahead_kb``, 128 KiB by default) and reads nothing past it, so the file is asked for in
# spans that fit any window but a disabled one: 12,400 system calls for 1.6 GB.
READ_AHEAD_BYTES = 128 * 1024

log = logging.getLogger(__name__)


class RowsInUse(Exception):
    """Another process holds the file as its vectors."""


class VectorRows:
    def __init__(self, path: Path, dimensions: int, trusted: int) -> None:
        """Open (or create) ``path`` as this process's vectors, keeping its first ``trusted`` rows: what
        follows them was appended after the last save and is cut. Raises ``RowsInUse`` when another
        process holds it (its rows are never cut under it)."""
        self.dimensions = dimensions
        self.path = path
        self._row_bytes = dimensions * FLOAT_BYTES
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as error:
            os.close(self._fd)
            raise RowsInUse(f"{path.name} is held by another process") from error
        os.ftruncate(self._fd, trusted * self._row_bytes)
        os.posix_fadvise(self._fd, 0, 0, os.POSIX_FADV_RANDOM)  # a query's rows are scattered
        self.count = trusted  # rows in the file
        self.saved = trusted  # rows whose label, type and coordinate the snapshot holds
        self._labels = array("q")  # of the rows after ``saved``
        self._types = array("b")
        self._coordinates: list[Coordinate] = []
        self._open = True

    def append(self, vectors: Vectors, labels: Positions, types: Codes, coordinates: list[Coordinate]) -> int:
        """Write rows after the last one; the position of the first."""
        first = self.count
        data = np.ascontiguousarray(vectors, dtype=np.float32)
        written = os.pwrite(self._fd, data.data, first * self._row_bytes)
        if written != data.nbytes:
            raise OSError(f"{written} of {data.nbytes} bytes written")
        self._labels.frombytes(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
        self._types.frombytes(np.ascontiguousarray(types, dtype=np.int8).tobytes())
        self._coordinates.extend(coordinates)
        self.count += len(data)
        return first

    def read(self, positions: Positions) -> Vectors:
        """The rows at ``positions``, in that order: one ``pread`` per run of consecutive positions."""
        rows = np.empty((len(positions), self.dimensions), dtype=np.float32)
        if len(positions) == 0:
            return rows
        order = np.argsort(positions, kind="stable")
        ranked = positions[order]
        starts = np.flatnonzero(np.diff(ranked, prepend=-2) != 1)
        gathered = np.empty_like(rows)
        into = gathered.data.cast("B")  # each run is read straight into its place
        bounds = (np.append(starts, len(ranked)) * self._row_bytes).tolist()
        offsets = (ranked[starts] * self._row_bytes).tolist()
        read = sum(
            os.preadv(self._fd, [into[first:last]], at)
            for first, last, at in zip(bounds[:-1], bounds[1:], offsets, strict=True)
        )
        if read != gathered.nbytes:
            raise EOFError(f"the vector file ends before row {int(ranked[-1]) + 1}")
        rows[order] = gathered
        return rows

    def scores(self, query: Vectors) -> np.ndarray[Any, np.dtype[np.float32]]:
        """``query``'s inner product with every row of the file, read in order ``SCAN_ROWS`` at a time."""
        scores = np.empty(self.count, dtype=np.float32)
        chunk = np.empty((min(SCAN_ROWS, self.count), self.dimensions), dtype=np.float32)
        for start in range(0, self.count, SCAN_ROWS):
            rows = chunk[: min(SCAN_ROWS, self.count - start)]
            self._read_into(rows, start)
            scores[start : start + len(rows)] = rows @ query
        return scores

    def _read_into(self, rows: Vectors, position: int) -> None:
        read = os.preadv(self._fd, [rows.data], position * self._row_bytes)
        if read != rows.nbytes:
            raise EOFError(f"the vector file ends before row {position + len(rows)}")

    def unsaved(self) -> tuple[Positions, Codes, list[Coordinate]]:
        """Label, type code and coordinate of each row appended since the last save, in file order."""
        labels: Positions = np.frombuffer(self._labels, dtype=np.int64).copy()
        types: Codes = np.frombuffer(self._types, dtype=np.int8).copy()
        return labels, types, list(self._coordinates)

    def sync(self) -> None:
        """Make the rows written so far durable."""
        os.fsync(self._fd)

    def mark_saved(self, rows: int) -> None:
        """The snapshot now holds the first ``rows`` rows' labels, types and coordinates."""
        dropped = rows - self.saved
        del self._labels[:dropped], self._types[:dropped], self._coordinates[:dropped]
        self.saved = rows

    def at_path(self) -> bool:
        """Whether ``path`` still names this file (another process that found it locked starts its own
        file there, and this one must then leave the snapshot's files alone)."""
        try:
            return os.stat(self.path).st_ino == os.fstat(self._fd).st_ino
        except FileNotFoundError:
            return False

    def warm(self) -> threading.Thread:
        """Bring the whole file into the page cache, in a background thread (its own descriptor): after a
        start that found the file out of the cache, the rows queries ask for then come from the cache
        within seconds instead of one disk read each. The kernel is asked to read it ahead
        (``posix_fadvise``), which copies nothing into this process: for the 1.6 GB of a million
        vectors, 0.09 s of CPU when the file was cached and 0.49 s when it was not, where reading it
        through a buffer took 0.2 to 1.0 s and 4.4 s, on the cores the first writes after a start
        need. Where there is no such advice, the file is read through. Nothing of it stays in the
        process's memory."""
        thread = threading.Thread(target=_read_ahead, args=(self.path,), name="warm vectors", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        if self._open:
            self._open = False
            os.close(self._fd)  # the lock goes with it


def _read_ahead(path: Path) -> None:
    try:
        with open(path, "rb", buffering=0) as file:
            if hasattr(os, "posix_fadvise"):
                descriptor = file.fileno()
                for offset in range(0, os.fstat(descriptor).st_size, READ_AHEAD_BYTES):
                    os.posix_fadvise(descriptor, offset, READ_AHEAD_BYTES, os.POSIX_FADV_WILLNEED)
                return
            chunk = bytearray(WARM_BYTES)
            while file.readinto(chunk):
                pass
    except OSError as error:  # replaced or removed meanwhile: nothing left to warm
        log.info("the vectors of %s were not read ahead: %s", path.name, error)
