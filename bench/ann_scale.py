"""The embedded vector index alone (no store, no embedder) at a size: ingest rate, search p50/p95,
recall@10 against an exact scan, resident memory, and the time to reopen its file.

    python bench/ann_scale.py --size 1000000 [--numpy] [--data DIR]
    python bench/ann_scale.py --size 1000000 --reopen DIR

The data are ann_compare.py's clustered unit vectors, in the namespace ``ns``. ``--numpy`` measures the
numpy index instead (exact scan up to 20,000 points, SimHash sketches beyond), for the threshold between
the two. ``--data DIR`` keeps the index in ``DIR/vectors.sqlite`` (a data directory ``soma serve
--data-dir DIR`` opens) instead of a temporary directory.

``--reopen DIR`` measures opening the index ``--data`` left there (the same ``--size`` and ``--queries``:
the data are drawn with the queries), in this fresh process: once with its files in the page cache, then
with them dropped from it first (``posix_fadvise`` DONTNEED on every file of the directory: what a start
reads from disk after a reboot or once other work evicted the files), then resident memory after opening,
the ``--queries`` searches right after that cold opening (their vectors read from disk as they ask for
them, or from the page cache once the reading ahead got there), recall@10 and resident memory after them.
"""

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from ann_compare import dataset, exact_top, rss_mib

from somafractalmemory.adapters.ann_index import AnnIndex
from somafractalmemory.adapters.numpy_index import NumpyIndex
from somafractalmemory.core.models import MemoryType, VectorPoint

BATCH = 1000
NAMESPACE = "ns"


def drop_page_cache(folder: Path) -> None:
    """Evict every file under ``folder`` from the page cache (written back first, so it can go)."""
    for path in folder.rglob("*"):
        if path.is_file():
            descriptor = os.open(path, os.O_RDONLY)
            try:
                os.fsync(descriptor)
                os.posix_fadvise(descriptor, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(descriptor)


def searched(
    index: AnnIndex | NumpyIndex, queries: np.ndarray, truth: np.ndarray
) -> tuple[float, float, float]:
    """Search p50 and p95 in milliseconds, and recall@10 against ``truth``."""
    samples, found = [], 0
    for query, exact in zip(queries, truth, strict=True):
        started = time.perf_counter_ns()
        hits = index.search(NAMESPACE, query, top_k=10, memory_type=None, conditions=())
        samples.append(time.perf_counter_ns() - started)
        found += len({int(h.coordinate[0]) for h in hits} & set(exact.tolist()))
    p50, p95 = np.percentile(np.array(samples) / 1e6, [50, 95])
    return float(p50), float(p95), found / (10 * len(queries))


def ingest(args: argparse.Namespace, path: Path) -> None:
    data, queries = dataset(args.size, args.queries, 384, 7)
    truth = exact_top(data, queries)

    def open_index() -> AnnIndex | NumpyIndex:
        return NumpyIndex(path, 384) if args.numpy else AnnIndex(path, 384, threshold=args.threshold)

    index = open_index()
    before = rss_mib()
    started = time.perf_counter()
    for start in range(0, args.size, BATCH):
        stop = min(args.size, start + BATCH)
        index.upsert(
            [
                VectorPoint(NAMESPACE, (float(n),), data[n], MemoryType.EPISODIC, {"n": n})
                for n in range(start, stop)
            ]
        )
    rate = args.size / (time.perf_counter() - started)
    p50, p95, recall = searched(index, queries, truth)
    resident = rss_mib() - before
    index.close()
    started = time.perf_counter()
    open_index().close()
    reopen = time.perf_counter() - started
    kind = "numpy" if args.numpy else f"ann (threshold {args.threshold:,})"
    print(
        f"| {kind} | {args.size:,} | {rate:,.0f} | {p50:.2f} | {p95:.2f} | "
        f"{recall:.3f} | {resident:,.0f} | {reopen:.1f} | {os.getloadavg()[0]:.1f} |"
    )


def reopen(args: argparse.Namespace, folder: Path) -> None:
    data, queries = dataset(args.size, args.queries, 384, 7)
    truth = exact_top(data, queries)
    del data  # freed before the resident memory is read
    path = folder / "vectors.sqlite"
    started = time.perf_counter()
    AnnIndex(path, 384, threshold=args.threshold).close()
    warm = time.perf_counter() - started
    for thread in threading.enumerate():
        if thread.name == "warm vectors":
            thread.join()  # its reading ahead would overlap the cold opening
    drop_page_cache(folder)
    before = rss_mib()
    started = time.perf_counter()
    index = AnnIndex(path, 384, threshold=args.threshold)
    cold = time.perf_counter() - started
    opened = rss_mib() - before
    p50, p95, recall = searched(index, queries, truth)
    print(
        f"| {args.size:,} | {warm:.2f} | {cold:.2f} | {opened:,.0f} | {p50:.2f} / {p95:.2f} | {recall:.3f} | "
        f"{rss_mib() - before:,.0f} | {os.getloadavg()[0]:.1f} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--threshold", type=int, default=20_000)
    parser.add_argument("--numpy", action="store_true")
    parser.add_argument("--data", type=Path, help="keep the index in this directory")
    parser.add_argument("--reopen", type=Path, help="measure opening the index --data left in this directory")
    args = parser.parse_args()
    if args.reopen is not None:
        reopen(args, args.reopen)
        return
    folder = args.data if args.data is not None else Path(tempfile.mkdtemp())
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    ingest(args, folder / "vectors.sqlite")


if __name__ == "__main__":
    main()
