"""Recall latency on the production store: PostgreSQL (its word index for the lexical leg) with the
embedded vector index, as ``soma eval`` and ``soma serve`` run with $SOMA_POSTGRES_URL and no Qdrant.

It stores the ``soma bench`` workload (same seed, same texts) up to each size, then times recall with
each ranking (fused: the default ``/recall``; dense; lexical) and hybrid recall, top 10, through the
service, after a warm-up; the four take turns on each query. After each ingest the table is vacuumed and
analysed (``settle``). A database comes from $SOMA_POSTGRES_URL
(emptied first: use a scratch one), else a PostgreSQL is started from the test harness's embedded build
(``tests/support/servers.py``). Run from the repository root:

    .venv/bin/python bench/postgres_recall.py --sizes 10000,100000

It prints one JSON object: per size and ranking, p50 and p95 in milliseconds, and the load average.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import psycopg

from somafractalmemory.cli.bench import DEFAULT_SEED
from somafractalmemory.cli.bench_workload import Workload
from somafractalmemory.core.fusion import Ranking
from somafractalmemory.core.service import MemoryService
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import build_runtime

NAMESPACE = "bench"
TOP_K = 10
BATCH = 1000


@contextmanager
def database() -> Iterator[str]:
    given = os.environ.get("SOMA_POSTGRES_URL")
    if given:
        with psycopg.connect(given, autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
        yield given
        return
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from support.servers import PostgresServer

    server = PostgresServer()
    server.start()
    try:
        yield server.url()
    finally:
        server.destroy()


def settle(url: str) -> None:
    """Vacuum and analyse what the ingest wrote, as autovacuum soon would (its word index's pending list
    merged, fresh statistics), so that recall is measured in steady state, not during that work."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) soma_memories")


def latencies(service: MemoryService, workload: Workload, warmup: int, queries: int) -> dict[str, object]:
    """p50 and p95 of each ranking over ``queries`` workload queries, after ``warmup``. The rankings take
    turns on each query, so that they meet the same state (the term counts remembered, the database's
    background work after the ingest) and none is measured colder than another."""
    calls: dict[str, Callable[[str], object]] = {
        ranking.value: (
            lambda query, ranking=ranking: service.recall(NAMESPACE, query, top_k=TOP_K, ranking=ranking)
        )
        for ranking in (Ranking.FUSED, Ranking.DENSE, Ranking.LEXICAL)
    }
    calls["hybrid"] = lambda query: service.hybrid_recall(NAMESPACE, query, top_k=TOP_K)
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for n in range(warmup + queries):
        query = workload.query()
        for name, call in calls.items():
            started = time.perf_counter()
            call(query)
            if n >= warmup:
                samples[name].append((time.perf_counter() - started) * 1000)
    found: dict[str, object] = {}
    for name, values in samples.items():
        p50, p95 = np.percentile(np.asarray(values), [50, 95])
        found[name] = {"p50_ms": round(float(p50), 2), "p95_ms": round(float(p95), 2)}
    found["load_average"] = [round(value, 1) for value in os.getloadavg()]
    return found


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes", default="10000,100000", help="memories held at each measure, comma-separated"
    )
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args(argv)
    sizes = sorted(int(size) for size in args.sizes.split(","))
    workload = Workload(DEFAULT_SEED)
    results: dict[str, object] = {}
    with database() as url, tempfile.TemporaryDirectory(prefix="soma-pg-bench-") as scratch:
        runtime = build_runtime(Settings(data_dir=Path(scratch), postgres_url=url))
        try:
            held = 0
            for size in sizes:
                while held < size:
                    count = min(BATCH, size - held)
                    runtime.service.store_many(NAMESPACE, workload.memories(count))
                    held += count
                settle(url)
                results[str(size)] = latencies(runtime.service, workload, args.warmup, args.queries)
                print(f"{size}: {results[str(size)]}", file=sys.stderr, flush=True)
        finally:
            runtime.close()
    json.dump(results, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
