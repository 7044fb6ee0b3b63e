"""The approximate part of the embedded ANN index: a faiss inverted-file index (IVF) over
int8-quantised vectors (SQ8), keyed by label.

k-means cells are trained once, on the points a namespace holds when it first needs the index; every
later write only assigns its vector to the nearest cell, which is why ingest stays cheap (an HNSW graph
pays a neighbour search per insert: docs/vector-index.md has the comparison). The cells are as many as
the training points allow (``POINTS_PER_CELL`` each, up to ``MAX_CELLS``), since they are never
retrained: from 10,240 points on that is 512 cells, about 2,000 points each at 1,000,000 (1,024 cells
cost every write's assignment twice as much: docs/vector-index.md, "Fewer cells"). A query scans the
int8 codes of ``probes_for`` its cells' nearest; the caller ranks the candidates by exact float32 cosine.
"""

import os
from pathlib import Path
from typing import Any

# faiss's OpenMP threads sleep as soon as a parallel part ends, rather than spin for more work first
# (read once, when faiss loads the OpenMP library, so set before its import; a value the environment
# already holds is kept). A write's team spun on the core the store and the embedder need: with PASSIVE,
# faiss's second thread took 10.5 to 10.9 us of CPU a memory of a bulk ingest instead of 15 to 15.7.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import faiss
import numpy as np

from somafractalmemory.adapters import heap
from somafractalmemory.core.ports import Vectors
from somafractalmemory.datadir import private_file

Labels = np.ndarray[Any, np.dtype[np.int64]]

POINTS_PER_CELL = 20  # training points per cell (faiss asks 39 for its best clustering; more cells win here)
MIN_CELLS = 16
MAX_CELLS = 512
PROBED_SHARE = 3 / 128  # of the cells, a query scans this share (24 of 1,024)
MIN_PROBES = 16
TRAINING_SEED = 0x50AA


# The threads OpenMP gives a thread that never chose (the host's cores, or OMP_NUM_THREADS), read
# before any call below changes this one's.
WRITE_THREADS = faiss.omp_get_max_threads()


def threads_for(count: int) -> None:
    """Run faiss's next calls in this thread on ``count`` OpenMP threads. OpenMP keeps the count per
    thread, and faiss runs in the index writer's thread and in the server's request threads, so each
    call sets it for the thread it runs in:
    - a query scans a few cells: a team of threads costs more than it saves there, and its threads spin
      for work on a busy host (tens of milliseconds a query when other processes hold the cores), so one;
    - a write (adding a batch, the one training) is a large matrix product, and its team fills the core
      the store's and the embedder's threads leave idle while they wait for Python's lock: all of them
      (measured in docs/vector-index.md, "Ingest: thread by thread")."""
    faiss.omp_set_num_threads(count)


heap.configure()  # faiss's lists and a write's large blocks: see adapters/heap.py


def cells_for(points: int) -> int:
    """Enough cells that each holds about ``POINTS_PER_CELL`` training points, never more than points."""
    return min(points, max(MIN_CELLS, min(MAX_CELLS, points // POINTS_PER_CELL)))


def probes_for(cells: int) -> int:
    return max(MIN_PROBES, round(cells * PROBED_SHARE))


def training_rows(points: int) -> Labels:
    """The rows of ``points`` the cells are trained on (a seeded sample, ascending): only these
    vectors need be read, wherever the shard keeps them."""
    sample = np.random.default_rng(TRAINING_SEED).permutation(points)[: cells_for(points) * POINTS_PER_CELL]
    rows: Labels = np.sort(sample)
    return rows


class IvfLists:
    def __init__(self, index: Any) -> None:
        self._index = index
        self._index.nprobe = probes_for(int(index.nlist))
        # A hash table from label to slot: removals cost the removed labels, not a scan of every cell.
        self._index.set_direct_map_type(faiss.DirectMap.Hashtable)  # type: ignore[attr-defined]

    @classmethod
    def trained(cls, sample: Vectors, points: int) -> "IvfLists":
        """An index trained on ``sample``: the vectors of ``training_rows(points)`` of ``points``."""
        dimensions = sample.shape[1]
        index = faiss.IndexIVFScalarQuantizer(
            faiss.IndexFlatIP(dimensions),
            dimensions,
            cells_for(points),
            faiss.ScalarQuantizer.QT_8bit,
            faiss.METRIC_INNER_PRODUCT,
        )
        index.cp.seed = TRAINING_SEED
        threads_for(WRITE_THREADS)
        index.train(np.ascontiguousarray(sample, dtype=np.float32))
        return cls(index)

    @classmethod
    def load(cls, path: Path) -> "IvfLists":
        return cls(faiss.read_index(str(path)))

    @property
    def dimensions(self) -> int:
        return int(self._index.d)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, labels: Labels, vectors: Vectors) -> None:
        threads_for(WRITE_THREADS)
        self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), labels)

    def remove(self, labels: Labels) -> None:
        threads_for(WRITE_THREADS)
        self._index.remove_ids(np.ascontiguousarray(labels, dtype=np.int64))

    def labels(self) -> Labels:
        lists = self._index.invlists
        parts = [
            faiss.rev_swig_ptr(lists.get_ids(cell), lists.list_size(cell)).copy()
            for cell in range(self._index.nlist)
            if lists.list_size(cell)
        ]
        return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)

    def search(self, query: Vectors, count: int) -> Labels:
        """Up to ``count`` labels, best first by the int8 codes' inner product."""
        if count == 0 or len(self) == 0:
            return np.empty(0, dtype=np.int64)
        threads_for(1)
        _, found = self._index.search(query[None, :], count)
        labels: Labels = found[0]
        return labels[labels >= 0]

    def save(self, path: Path) -> None:
        """Atomically: the file is either the previous save or this one."""
        partial = private_file(path.with_name(path.name + ".partial"))  # faiss keeps a file's mode
        faiss.write_index(self._index, str(partial))
        os.replace(partial, path)
