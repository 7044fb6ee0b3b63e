"""The embedded vector index alone (no store, no embedder) at a size: ingest rate, search p50/p95,
recall@10 against an exact scan, resident memory, and the time to reopen its file.

    python bench/ann_scale.py --size 1000000 [--numpy]

The data are ann_compare.py's clustered unit vectors. ``--numpy`` measures the numpy index instead
(exact scan up to 20,000 points, SimHash sketches beyond), for the threshold between the two.
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from ann_compare import dataset, rss_mib

from somafractalmemory.adapters.ann_index import AnnIndex
from somafractalmemory.adapters.numpy_index import NumpyIndex
from somafractalmemory.core.models import MemoryType, VectorPoint

BATCH = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--threshold", type=int, default=20_000)
    parser.add_argument("--numpy", action="store_true")
    args = parser.parse_args()
    data, queries = dataset(args.size, args.queries, 384, 7)
    path = Path(tempfile.mkdtemp()) / "vectors.sqlite"

    def open_index() -> AnnIndex | NumpyIndex:
        return NumpyIndex(path, 384) if args.numpy else AnnIndex(path, 384, threshold=args.threshold)

    index = open_index()
    before = rss_mib()
    started = time.perf_counter()
    for start in range(0, args.size, BATCH):
        stop = min(args.size, start + BATCH)
        index.upsert(
            [
                VectorPoint("ns", (float(n),), data[n], MemoryType.EPISODIC, {"n": n})
                for n in range(start, stop)
            ]
        )
    ingest = args.size / (time.perf_counter() - started)
    samples, found = [], 0
    for query in queries:
        t = time.perf_counter_ns()
        hits = index.search("ns", query, top_k=10, memory_type=None, conditions=())
        samples.append(time.perf_counter_ns() - t)
        exact = set(np.argpartition(-(data @ query), 10)[:10].tolist())
        found += len({int(h.coordinate[0]) for h in hits} & exact)
    p50, p95 = np.percentile(np.array(samples) / 1e6, [50, 95])
    resident = rss_mib() - before
    index.close()
    started = time.perf_counter()
    open_index().close()
    reopen = time.perf_counter() - started
    kind = "numpy" if args.numpy else f"ann (threshold {args.threshold:,})"
    print(
        f"| {kind} | {args.size:,} | {ingest:,.0f} | {p50:.2f} | {p95:.2f} | "
        f"{found / (10 * len(queries)):.3f} | {resident:,.0f} | {reopen:.1f} | {os.getloadavg()[0]:.1f} |"
    )


if __name__ == "__main__":
    main()
