"""``soma bench --scale --sizes 1000000``: the embedded default at scale (issue 15).

In one temporary data directory, growing to each size in turn: bulk ingest through the service
(``store_many``), recall p50/p95 with dense ranking (the vector index alone) and with the default
(fused) ranking, recall@10 of the vector index against an exact float32 scan of the same namespace
(tie-aware: a result counts when its exact score reaches the exact tenth's, as the hashing embedder
gives many memories the same vector), and the p50 of single stores through the service. Single stores
are timed first at the plan's smallest cost size (1,000 memories, or the smallest size when that is
smaller), and the store cost at the largest size is their ratio (flat in N: at most 1.3x). The single
stores add to the memories held, so each size is reached by bulk ingest from what the directory holds.
After the largest size, ``soma serve`` starts on the directory: the time from launch to a ready
``/readyz``, its resident memory once ready, then bulk ingest of the plan's ``http_bulk`` more memories
(10,000) through ``/v1`` bulk and its resident memory after them.
"""

import os
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from somafractalmemory.adapters.ann_index import AnnIndex
from somafractalmemory.cli.bench import (
    BULK_TARGET_PER_SECOND,
    HTTP_TIMEOUT_SECONDS,
    IN_PROCESS_STORE_WARMUP,
    NAMESPACE,
    RECALL_P95_TARGET_MS,
    STORE_COST_RATIO_TARGET,
    Goal,
    Metric,
    Plan,
    _percentiles_ms,
    _single_stores,
    _timed,
)
from somafractalmemory.cli.bench import _ingest as ingest_into
from somafractalmemory.cli.bench_workload import Workload
from somafractalmemory.cli.bytecode import compiled_at_every_start
from somafractalmemory.cli.embedded_target import EmbeddedTarget
from somafractalmemory.cli.output import note, progress
from somafractalmemory.cli.server_process import ServerProcess
from somafractalmemory.cli.target import open_target
from somafractalmemory.core.fusion import Ranking
from somafractalmemory.core.index_writer import IndexWriter
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import Runtime, build_runtime

RECALL_AT_10_TARGET = 0.95
RSS_TARGET_MIB = 1024.0
START_TARGET_SECONDS = 5.0
RECALL_QUERIES = 100
READY_TIMEOUT_SECONDS = 600.0
TIE = 1e-6


def _ingest(
    runtime: Runtime, workload: Workload, count: int, batch: int, advance: Callable[[int], object]
) -> float:
    spent = 0.0
    for start in range(0, count, batch):
        items = workload.memories(min(batch, count - start))
        started = time.perf_counter()
        runtime.service.store_many(NAMESPACE, items)
        spent += time.perf_counter() - started
        advance(len(items))
    started = time.perf_counter()
    runtime.service.index.settle()  # the rate counts until the index holds every memory too
    return spent + time.perf_counter() - started


def recall_at_10(runtime: Runtime, queries: Sequence[str]) -> float:
    """Share of the exact top 10 the index returns, ties at the tenth score counted as found."""
    index = runtime.service.index
    index.settle()
    if isinstance(index, IndexWriter):
        index = index.inner
    if not isinstance(index, AnnIndex):
        raise TypeError("recall against exact search is measured on the embedded index")
    found = 0
    for query in queries:
        vector = runtime.service.embedder.embed([query])[0]
        exact = index.exact_search(NAMESPACE, vector, top_k=10)
        hits = index.search(NAMESPACE, vector, top_k=10, memory_type=None, conditions=())
        if exact:
            tenth = exact[-1].score
            found += sum(1 for hit in hits if hit.score >= tenth - TIE)
    return found / (10 * len(queries))


def resident_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS line")


@dataclass
class Served:
    start_seconds: float  # from launching ``soma serve`` to a ready /readyz
    ready_mib: float  # resident memory once ready
    http_ingest_per_s: float
    after_ingest_mib: float  # resident memory after the HTTP bulk


def serve_and_ingest(data_dir: Path, log_path: Path, workload: Workload, plan: Plan) -> Served:
    """Start ``soma serve`` on the directory, wait for /readyz, then bulk-store over HTTP."""
    token = secrets.token_urlsafe(32)
    environment = {"SOMA_RATE_LIMIT_PER_MINUTE": "0"}
    with log_path.open("wb") as log:
        started = time.perf_counter()
        server = ServerProcess(
            data_dir, token=token, environment=environment, log=log, start_timeout=READY_TIMEOUT_SECONDS
        )
        with server, httpx.Client(base_url=server.url, timeout=30) as client:
            while client.get("/readyz").status_code != 200:
                if time.perf_counter() - started > READY_TIMEOUT_SECONDS:
                    raise TimeoutError("soma serve did not become ready")
                time.sleep(0.05)
            seconds = time.perf_counter() - started
            ready = resident_mib(server.pid)
            target = open_target(
                Settings(api_token=token, namespace=NAMESPACE), server.url, HTTP_TIMEOUT_SECONDS
            )
            try:
                spent = ingest_into(target, workload, plan.http_bulk, plan.batch, lambda _: None)
            finally:
                target.close()
            return Served(seconds, ready, plan.http_bulk / spent, resident_mib(server.pid))


def scale_metrics(plan: Plan, seed: int, workdir: Path, quiet: bool) -> list[Metric]:
    workload = Workload(seed)
    data_dir = workdir / "embedded"
    runtime = build_runtime(Settings(data_dir=data_dir, namespace=NAMESPACE), start_recovery=False)
    metrics: list[Metric] = []
    held = bulk = 0
    spent = 0.0
    store_p50: dict[int, float] = {}
    try:
        sizes = sorted(plan.recall_sizes)
        baseline = min(plan.cost_sizes[0], sizes[0])
        with progress(total=sizes[-1], unit="memories", description="ingest", quiet=quiet) as bar:

            def grow_to(size: int) -> None:
                nonlocal held, bulk, spent
                count = max(0, size - held)
                spent += _ingest(runtime, workload, count, plan.batch, bar.update)
                held, bulk = held + count, bulk + count

            def time_single_stores(size: int) -> None:
                nonlocal held
                if not quiet:
                    note(f"single stores at {size:,} memories")
                samples = _single_stores(
                    EmbeddedTarget(runtime), workload, IN_PROCESS_STORE_WARMUP, plan.single_stores
                )
                store_p50[size] = _percentiles_ms(samples)[0]
                held += IN_PROCESS_STORE_WARMUP + plan.single_stores

            if baseline < sizes[0]:
                grow_to(baseline)
                time_single_stores(baseline)
            for size in sizes:
                grow_to(size)
                metrics += _recalls_at(runtime, workload, plan, size, quiet)
                if size not in store_p50:
                    time_single_stores(size)
    finally:
        runtime.close()
    metrics.append(
        Metric(
            "scale_ingest_per_s",
            f"bulk ingest of {bulk:,} to {held:,} (service store_many)",
            bulk / spent,
            "/s",
            Goal(">=", BULK_TARGET_PER_SECOND, "/s"),
        )
    )
    metrics += _store_cost_metrics(store_p50, baseline, sizes[-1])
    if not quiet:
        note(f"soma serve on {held:,} memories")
    if uncached := compiled_at_every_start():
        note(
            f"soma serve compiles {', '.join(uncached)} from source as it starts (PYTHONDONTWRITEBYTECODE "
            "is set and their bytecode is not cached): its start includes that; `python -m compileall` of "
            "the install caches it, as `make install` and the images do"
        )
    served = serve_and_ingest(data_dir, workdir / "serve-scale.log", workload, plan)
    rss_goal = Goal("<=", RSS_TARGET_MIB, "MiB")
    metrics += [
        Metric(
            "serve_start_s",
            f"soma serve start to ready at {held:,}",
            served.start_seconds,
            "s",
            Goal("<=", START_TARGET_SECONDS, "s"),
        ),
        Metric("serve_rss_mib", f"soma serve resident memory at {held:,}", served.ready_mib, "MiB", rss_goal),
        Metric(
            "scale_http_ingest_per_s",
            f"bulk ingest of {plan.http_bulk:,} more over HTTP (/v1 bulk)",
            served.http_ingest_per_s,
            "/s",
            Goal(">=", BULK_TARGET_PER_SECOND, "/s"),
        ),
        Metric(
            "serve_rss_after_ingest_mib",
            f"soma serve resident memory after the HTTP bulk, {held + plan.http_bulk:,}",
            served.after_ingest_mib,
            "MiB",
            rss_goal,
        ),
    ]
    metrics.append(Metric("load_average", "load average (1 min) at the end", os.getloadavg()[0], ""))
    return metrics


def _store_cost_metrics(store_p50: dict[int, float], baseline: int, largest: int) -> list[Metric]:
    """The single stores' p50 at each size they were timed at, and the largest size's over the baseline's."""
    metrics = [
        Metric(f"scale_store_p50_ms_{size}", f"store p50 at {size:,} (service, single stores)", p50, "ms")
        for size, p50 in sorted(store_p50.items())
    ]
    metrics.append(
        Metric(
            "scale_store_cost_ratio",
            f"store cost {largest:,} / {baseline:,}",
            store_p50[largest] / store_p50[baseline],
            "x",
            Goal("<=", STORE_COST_RATIO_TARGET, ""),
        )
    )
    return metrics


def _recalls_at(runtime: Runtime, workload: Workload, plan: Plan, size: int, quiet: bool) -> list[Metric]:
    service = runtime.service
    metrics = []
    for name, ranking in (("dense", Ranking.DENSE), ("default", Ranking.FUSED)):
        if not quiet:
            note(f"{name} recall at {size:,} memories")

        def recall(ranking: Ranking = ranking) -> None:
            service.recall(NAMESPACE, workload.query(), top_k=plan.top_k, ranking=ranking)

        _timed(min(plan.warmup, plan.queries), recall)
        p50, p95 = _percentiles_ms(_timed(plan.queries, recall))
        goal = Goal("<", RECALL_P95_TARGET_MS, "ms")
        metrics.append(Metric(f"scale_{name}_p50_ms_{size}", f"{name} recall p50 at {size:,}", p50, "ms"))
        metrics.append(
            Metric(f"scale_{name}_p95_ms_{size}", f"{name} recall p95 at {size:,}", p95, "ms", goal)
        )
    queries = [workload.query() for _ in range(RECALL_QUERIES)]
    metrics.append(
        Metric(
            f"scale_recall_at_10_{size}",
            f"recall@10 against exact at {size:,}",
            recall_at_10(runtime, queries),
            "",
            Goal(">=", RECALL_AT_10_TARGET, ""),
        )
    )
    return metrics
