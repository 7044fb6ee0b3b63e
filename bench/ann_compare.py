"""Side-by-side comparison of approximate-nearest-neighbour libraries for the embedded vector index.

    python bench/ann_compare.py --size 100000 --queries 500

Every candidate indexes the same seeded data (unit vectors drawn around 2,000 cluster centres, like
sentence embeddings: dense neighbourhoods, not uniform noise) and answers the same queries (held-out
points from the same distribution). recall@10 is measured against an exact float32 scan; latency is one
query at a time on one thread, as the service asks. Libraries that are not installed are skipped.
"""

import argparse
import gc
import os
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

Matrix = np.ndarray[Any, np.dtype[np.float32]]
CLUSTERS = 2_000
NOISE = 0.6
TOP_K = 10


def dataset(size: int, queries: int, dimensions: int, seed: int) -> tuple[Matrix, Matrix]:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((CLUSTERS, dimensions), dtype=np.float32)
    points = centres[rng.integers(0, CLUSTERS, size + queries)]
    points += NOISE * rng.standard_normal(points.shape, dtype=np.float32)
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points[:size], points[size:]


def exact_top(data: Matrix, queries: Matrix) -> np.ndarray[Any, Any]:
    out = np.empty((len(queries), TOP_K), dtype=np.int64)
    for start in range(0, len(queries), 256):
        scores = queries[start : start + 256] @ data.T
        top = np.argpartition(-scores, TOP_K, axis=1)[:, :TOP_K]
        out[start : start + 256] = top
    return out


def rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@dataclass
class Row:
    name: str
    build_s: float
    insert_per_s: float
    p50_ms: float
    p95_ms: float
    recall: float
    memory_mib: float
    file_mib: float
    open_s: float


Searcher = Callable[[Matrix], np.ndarray[Any, Any]]


def measure(
    name: str,
    data: Matrix,
    queries: Matrix,
    truth: Any,
    build: Callable[[Matrix], Any],
    searcher: Callable[[Any], Searcher],
    save: Callable[[Any, Path], None],
    load: Callable[[Path], Any],
) -> Row:
    gc.collect()
    before = rss_mib()
    started = time.perf_counter()
    index = build(data)
    build_s = time.perf_counter() - started
    memory = rss_mib() - before
    search = searcher(index)
    samples = []
    found = 0
    for row, query in enumerate(queries):
        t = time.perf_counter_ns()
        ids = search(query)
        samples.append(time.perf_counter_ns() - t)
        found += len(set(ids[:TOP_K].tolist()) & set(truth[row].tolist()))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "index"
        save(index, path)
        size = path.stat().st_size / 2**20
        del index, search
        gc.collect()
        t = time.perf_counter()
        load(path)
        open_s = time.perf_counter() - t
    p50, p95 = np.percentile(np.array(samples) / 1e6, [50, 95])
    return Row(
        name,
        build_s,
        len(data) / build_s,
        float(p50),
        float(p95),
        found / (TOP_K * len(queries)),
        memory,
        size,
        open_s,
    )


Candidates = list[tuple[str, dict[str, Any]]]


def candidates(dimensions: int) -> Candidates:
    return [
        *numpy_candidates(),
        *usearch_candidates(dimensions),
        *faiss_candidates(dimensions),
        *hnswlib_candidates(dimensions),
    ]


def numpy_candidates() -> Candidates:
    rows: Candidates = []

    def exact() -> dict[str, Any]:
        return dict(
            build=lambda d: d.copy(),
            searcher=lambda m: lambda q: np.argpartition(-(m @ q), TOP_K)[:TOP_K],
            save=lambda m, p: np.save(str(p) + ".npy", m) or os.replace(str(p) + ".npy", p),
            load=lambda p: np.load(p, allow_pickle=False),
        )

    rows.append(("numpy exact (f32 scan)", exact()))
    return rows


def usearch_candidates(dimensions: int) -> Candidates:
    rows: Candidates = []
    try:
        from usearch.index import Index

        for dtype in ("f32", "f16", "i8"):

            def build(d: Matrix, dtype: str = dtype) -> Any:
                index = Index(
                    ndim=dimensions,
                    metric="cos",
                    dtype=dtype,
                    connectivity=16,
                    expansion_add=128,
                    expansion_search=64,
                )
                index.add(np.arange(len(d)), d, threads=2)
                return index

            def searcher(index: Any) -> Searcher:
                return lambda q: index.search(q, TOP_K, threads=1).keys

            def load(p: Path) -> Any:
                return Index.restore(str(p), view=False)

            rows.append(
                (
                    f"usearch 2.26 HNSW {dtype} M=16",
                    dict(build=build, searcher=searcher, save=lambda i, p: i.save(str(p)), load=load),
                )
            )
    except ImportError:
        pass
    return rows


def faiss_candidates(dimensions: int) -> Candidates:
    rows: Candidates = []
    try:
        import faiss

        faiss.omp_set_num_threads(2)

        def faiss_build(kind: str) -> Callable[[Matrix], Any]:
            def build(d: Matrix) -> Any:
                if kind == "flat":
                    index = faiss.IndexHNSWFlat(dimensions, 16, faiss.METRIC_INNER_PRODUCT)
                else:
                    index = faiss.IndexHNSWSQ(
                        dimensions, faiss.ScalarQuantizer.QT_8bit, 16, faiss.METRIC_INNER_PRODUCT
                    )
                    index.train(d[:20_000])
                index.hnsw.efConstruction = 128
                index.add(d)
                index.hnsw.efSearch = 64
                return index

            return build

        def faiss_search(index: Any) -> Searcher:
            return lambda q: index.search(q[None, :], TOP_K)[1][0]

        for kind in ("flat", "sq8"):
            rows.append(
                (
                    f"faiss-cpu 1.15 HNSW{kind} M=16",
                    dict(
                        build=faiss_build(kind),
                        searcher=faiss_search,
                        save=lambda i, p: faiss.write_index(i, str(p)),
                        load=lambda p: faiss.read_index(str(p)),
                    ),
                )
            )

        def ivf_build(kind: str, lists: int, probes: int) -> Callable[[Matrix], Any]:
            def build(d: Matrix) -> Any:
                quantiser = faiss.IndexFlatIP(dimensions)
                keep.append(quantiser)  # the IVF index holds no reference of its own
                if kind == "flat":
                    index = faiss.IndexIVFFlat(quantiser, dimensions, lists, faiss.METRIC_INNER_PRODUCT)
                else:
                    index = faiss.IndexIVFScalarQuantizer(
                        quantiser,
                        dimensions,
                        lists,
                        faiss.ScalarQuantizer.QT_8bit,
                        faiss.METRIC_INNER_PRODUCT,
                    )
                index.train(d[rng.choice(len(d), min(len(d), lists * 40), replace=False)])
                index.add(d)
                index.nprobe = probes
                return index

            return build

        rng = np.random.default_rng(0)
        keep: list[Any] = []
        for kind in ("flat", "sq8"):
            for lists, probes in ((1024, 16), (1024, 32)):
                rows.append(
                    (
                        f"faiss-cpu 1.15 IVF{lists}-{kind} nprobe={probes}",
                        dict(
                            build=ivf_build(kind, lists, probes),
                            searcher=faiss_search,
                            save=lambda i, p: faiss.write_index(i, str(p)),
                            load=lambda p: faiss.read_index(str(p)),
                        ),
                    )
                )
    except ImportError:
        pass
    return rows


def hnswlib_candidates(dimensions: int) -> Candidates:
    rows: Candidates = []
    try:
        import hnswlib

        def hnsw_build(d: Matrix) -> Any:
            index = hnswlib.Index(space="cosine", dim=dimensions)
            index.init_index(max_elements=len(d), ef_construction=128, M=16, allow_replace_deleted=True)
            index.add_items(d, np.arange(len(d)), num_threads=2)
            index.set_ef(64)
            index.set_num_threads(1)
            return index

        def hnsw_load(p: Path) -> Any:
            index = hnswlib.Index(space="cosine", dim=dimensions)
            index.load_index(str(p))
            return index

        rows.append(
            (
                "hnswlib 0.8 HNSW f32 M=16",
                dict(
                    build=hnsw_build,
                    searcher=lambda i: lambda q: i.knn_query(q, TOP_K)[0][0],
                    save=lambda i, p: i.save_index(str(p)),
                    load=hnsw_load,
                ),
            )
        )
    except ImportError:
        pass
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--dimensions", type=int, default=384)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", default="", help="run only candidates whose name contains this")
    args = parser.parse_args()
    data, queries = dataset(args.size, args.queries, args.dimensions, args.seed)
    truth = exact_top(data, queries)
    print(
        f"{args.size:,} x {args.dimensions}-d, {args.queries} queries, load average {os.getloadavg()[0]:.2f}"
    )
    print(
        "| library / index | build s | insert /s | p50 ms | p95 ms | recall@10 | RSS added MiB "
        "| file MiB | open s |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, parts in candidates(args.dimensions):
        if args.only not in name:
            continue
        row = measure(name, data, queries, truth, **parts)
        print(
            f"| {row.name} | {row.build_s:.1f} | {row.insert_per_s:,.0f} | {row.p50_ms:.2f} | "
            f"{row.p95_ms:.2f} | {row.recall:.3f} | {row.memory_mib:,.0f} | {row.file_mib:,.0f} | "
            f"{row.open_s:.2f} |  load {os.getloadavg()[0]:.2f}",
            flush=True,
        )
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB")


if __name__ == "__main__":
    main()
