"""``soma bench``: the performance table of DESIGN.md section 5, measured on the embedded default.

Two phases, each in a fresh temporary data directory:

- in-process, through the embedded target (the service, as ``soma`` uses it without --url): bulk ingest
  with ``store_many`` in batches up to the largest size, pausing at each size to time recalls (and, at
  the two store-cost sizes, single stores);
- over HTTP, against a real ``soma serve`` child process on 127.0.0.1 (rate limit off): a bare
  ``/healthz`` and a single store taking turns on one lean keep-alive connection (after a warm-up),
  bulk ingest through ``/v1`` bulk, then ``/healthz`` every 10 ms on its own connection while the
  heaviest requests the work budgets allow run on another.

``--soak`` instead runs many concurrent clients for a while (see ``bench_soak``).
"""

import argparse
import os
import platform
import secrets
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import numpy as np

from somafractalmemory.cli.bench_http import (
    LeanClient,
    healthz_and_store,
    heaviest_requests,
    probe_while_heavy,
)
from somafractalmemory.cli.bench_soak import SoakResult, soak
from somafractalmemory.cli.bench_workload import Workload
from somafractalmemory.cli.errors import CommandFailed
from somafractalmemory.cli.options import (
    QUIET_LOG_LEVEL,
    Subparsers,
    add_command,
    logging_options,
    quiet_option,
)
from somafractalmemory.cli.output import note, progress, write_json, write_table
from somafractalmemory.cli.target import MemoryTarget, RecallQuery, open_target
from somafractalmemory.core.budget import DEFAULT_BULK_ITEMS
from somafractalmemory.settings import Settings

if TYPE_CHECKING:
    from somafractalmemory.cli.server_process import ServerProcess

NAMESPACE = "bench"
DEFAULT_SEED = 42
HTTP_TIMEOUT_SECONDS = 60.0
SPEC_RECALL_SIZE = 100_000  # the size the recall target is stated for
STORE_P50_TARGET_MS = 2.0
STORE_TO_HEALTHZ_TARGET = 2.0
BULK_TARGET_PER_SECOND = 20_000.0
PROBE_TARGET_MS = 100.0
SOAK_RSS_GROWTH_TARGET = 10.0
RECALL_P95_TARGET_MS = 25.0
IN_PROCESS_STORE_WARMUP = 10
STORE_COST_RATIO_TARGET = 1.3
# Timed after a bulk ingest: it returns once the vector index holds every memory stored before it.
SETTLING_RECALL = RecallQuery("settle", top_k=1)


@dataclass(frozen=True)
class Plan:
    recall_sizes: tuple[int, ...] = (1_000, 10_000, SPEC_RECALL_SIZE)
    cost_sizes: tuple[int, int] = (1_000, 50_000)
    batch: int = 500
    single_stores: int = 300
    http_stores: int = 2_000
    http_bulk: int = 10_000
    warmup: int = 200
    queries: int = 200
    top_k: int = 10
    heavy_bulk: int = DEFAULT_BULK_ITEMS
    heavy_queries: int = 100

    @property
    def is_spec(self) -> bool:
        """Whether the sizes are the ones the targets are stated for."""
        return self.cost_sizes == Plan.cost_sizes


FULL = Plan()
QUICK = Plan(
    recall_sizes=(200, 1_000),
    cost_sizes=(200, 1_000),
    batch=100,
    single_stores=20,
    http_stores=30,
    http_bulk=300,
    warmup=10,
    queries=20,
    heavy_bulk=500,
    heavy_queries=10,
)


@dataclass(frozen=True)
class Goal:
    op: Literal["<", "<=", ">="]
    bound: float
    unit: str

    def met(self, value: float) -> bool:
        if self.op == "<":
            return value < self.bound
        if self.op == "<=":
            return value <= self.bound
        return value >= self.bound

    def __str__(self) -> str:
        return f"{self.op} {self.bound:,g} {self.unit}".rstrip()


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    value: float
    unit: str
    goal: Goal | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "value": self.value,
            "unit": self.unit,
            "target": str(self.goal) if self.goal else None,
            "met": self.goal.met(self.value) if self.goal else None,
        }


# --- measuring ----------------------------------------------------------------------------------


def _timed(calls: int, call: Callable[[], object]) -> list[int]:
    """Nanoseconds of each of ``calls`` calls."""
    samples = []
    for _ in range(calls):
        started = time.perf_counter_ns()
        call()
        samples.append(time.perf_counter_ns() - started)
    return samples


def _percentiles_ms(samples: Sequence[int]) -> tuple[float, float]:
    p50, p95 = np.percentile(np.asarray(samples, dtype=np.float64) / 1e6, [50, 95])
    return float(p50), float(p95)


def _single_stores(target: MemoryTarget, workload: Workload, warmup: int, count: int) -> list[int]:
    def store() -> None:
        item = workload.memory()
        target.store(item.coordinate, item.payload, item.memory_type.value)

    _timed(warmup, store)
    return _timed(count, store)


def _ingest(
    target: MemoryTarget, workload: Workload, count: int, batch: int, advance: Callable[[int], object]
) -> float:
    """Seconds spent in bulk stores of ``count`` new memories (generating them is not counted), and in
    one recall after them: the embedded default writes its vector index behind the store, and a recall
    waits until the index holds every memory stored before it, so the rate counts until then."""
    spent = 0.0
    for start in range(0, count, batch):
        items = workload.memories(min(batch, count - start))
        started = time.perf_counter()
        target.store_many(items)
        spent += time.perf_counter() - started
        advance(len(items))
    started = time.perf_counter()
    target.recall(SETTLING_RECALL)
    return spent + time.perf_counter() - started


def _recalls(target: MemoryTarget, workload: Workload, plan: Plan, *, hybrid: bool) -> list[int]:
    def recall() -> None:
        target.recall(RecallQuery(workload.query(), top_k=plan.top_k, hybrid=hybrid))

    _timed(min(plan.warmup, plan.queries), recall)
    return _timed(plan.queries, recall)


class Bench:
    def __init__(self, plan: Plan, seed: int, workdir: Path, quiet: bool) -> None:
        self.plan = plan
        self.workload = Workload(seed)
        self.workdir = workdir
        self.quiet = quiet

    def _say(self, message: str) -> None:
        if not self.quiet:
            note(message)

    def in_process(self) -> list[Metric]:
        plan = self.plan
        settings = Settings(data_dir=self.workdir / "embedded", namespace=NAMESPACE)
        target = open_target(settings, url=None, timeout=HTTP_TIMEOUT_SECONDS)
        metrics: list[Metric] = []
        store_p50: list[float] = []
        held = ingested = 0
        spent = 0.0
        try:
            sizes = sorted({*plan.recall_sizes, *plan.cost_sizes})
            with progress(total=sizes[-1], unit="memories", description="ingest", quiet=self.quiet) as bar:
                for size in sizes:
                    count = max(0, size - held)
                    spent += _ingest(target, self.workload, count, plan.batch, bar.update)
                    held += count
                    ingested += count
                    if size in plan.recall_sizes:
                        for kind, hybrid in (("recall", False), ("hybrid", True)):
                            self._say(f"{kind} at {size:,} memories")
                            samples = _recalls(target, self.workload, plan, hybrid=hybrid)
                            metrics += self._recall_metrics(kind, size, samples)
                    if size in plan.cost_sizes:
                        self._say(f"single stores at {size:,} memories")
                        samples = _single_stores(
                            target, self.workload, IN_PROCESS_STORE_WARMUP, plan.single_stores
                        )
                        held += IN_PROCESS_STORE_WARMUP + plan.single_stores
                        store_p50.append(_percentiles_ms(samples)[0])
        finally:
            target.close()
        metrics.append(
            self._bulk_metric("bulk_ingest_per_s", "bulk ingest (service store_many)", ingested / spent)
        )
        metrics += self._cost_metrics(store_p50)
        return metrics

    def _server(self, folder: str, token: str, log: IO[bytes]) -> "ServerProcess":
        """A `soma serve` on its own data directory, rate limits off. Imported here: it needs httpx (0.37 s
        to import), which every command, `soma serve` among them, would otherwise import at start."""
        from somafractalmemory.cli.server_process import ServerProcess

        return ServerProcess(
            self.workdir / folder, token=token, environment={"SOMA_RATE_LIMIT_PER_MINUTE": "0"}, log=log
        )

    def over_http(self) -> list[Metric]:
        plan = self.plan
        token = secrets.token_urlsafe(32)
        log_path = self.workdir / "serve.log"
        self._say("starting `soma serve` for the HTTP measurements")
        with log_path.open("wb") as log:
            server = self._server("http", token, log)
            try:
                server.start()
            except CommandFailed as error:
                raise CommandFailed(f"{error}; its log ends with: {log_path.read_text()[-2000:]}") from error
            try:
                target = open_target(
                    Settings(api_token=token, namespace=NAMESPACE), server.url, HTTP_TIMEOUT_SECONDS
                )
                lean = LeanClient(server.url, token, HTTP_TIMEOUT_SECONDS)
                try:
                    self._say(f"{plan.http_stores:,} single stores and /healthz over HTTP")
                    healthz_and_store(lean, self.workload, plan.warmup)
                    health, stores = healthz_and_store(lean, self.workload, plan.http_stores)
                    with progress(
                        total=plan.http_bulk, unit="memories", description="HTTP bulk", quiet=self.quiet
                    ) as bar:
                        spent = _ingest(target, self.workload, plan.http_bulk, plan.batch, bar.update)
                    self._say("/healthz while the heaviest allowed requests run")
                    probes = probe_while_heavy(
                        server.url,
                        token,
                        heaviest_requests(self.workload, plan.heavy_bulk, plan.heavy_queries),
                    )
                finally:
                    target.close()
                    lean.close()
            finally:
                server.stop()
        health_p50, _ = _percentiles_ms(health)
        p50, p95 = _percentiles_ms(stores)
        probe_p50, _ = _percentiles_ms(probes)
        probe_max = max(probes) / 1e6
        return [
            Metric("http_healthz_p50_ms", "HTTP /healthz p50 (same connection)", health_p50, "ms"),
            Metric("http_store_p50_ms", "HTTP store p50", p50, "ms", Goal("<", STORE_P50_TARGET_MS, "ms")),
            Metric("http_store_p95_ms", "HTTP store p95", p95, "ms"),
            Metric(
                "store_to_healthz_ratio",
                "HTTP store p50 / /healthz p50",
                p50 / health_p50,
                "x",
                Goal("<=", STORE_TO_HEALTHZ_TARGET, ""),
            ),
            self._bulk_metric(
                "http_bulk_ingest_per_s", "bulk ingest (HTTP /v1 bulk)", plan.http_bulk / spent
            ),
            Metric("probe_p50_ms_under_heaviest", "/healthz p50 under heaviest requests", probe_p50, "ms"),
            Metric(
                "probe_max_ms_under_heaviest",
                "/healthz max under heaviest requests",
                probe_max,
                "ms",
                Goal("<", PROBE_TARGET_MS, "ms"),
            ),
        ]

    def soak(self, clients: int, seconds: float) -> list[Metric]:
        token = secrets.token_urlsafe(32)
        log_path = self.workdir / "serve.log"
        self._say(f"soak: {clients} clients, mixed stores and recalls, {seconds:g} s against `soma serve`")
        with log_path.open("wb") as log:
            server = self._server("soak", token, log)
            server.start()
            try:
                result = soak(server.url, token, server.pid, clients, seconds)
            finally:
                server.stop()
        if result.first_error:
            self._say(f"first error: {result.first_error}")
        return soak_metrics(result)

    def _bulk_metric(self, name: str, label: str, rate: float) -> Metric:
        return Metric(name, label, rate, "memories/s", Goal(">=", BULK_TARGET_PER_SECOND, "memories/s"))

    def _recall_metrics(self, kind: str, size: int, samples: list[int]) -> list[Metric]:
        """``kind`` is recall (fused, the default ranking) or hybrid (fused over extracted terms)."""
        p50, p95 = _percentiles_ms(samples)
        goal = Goal("<", RECALL_P95_TARGET_MS, "ms") if size == SPEC_RECALL_SIZE else None
        return [
            Metric(f"{kind}_p50_ms_at_{size}", f"{kind} p50 @ {size:,}", p50, "ms"),
            Metric(f"{kind}_p95_ms_at_{size}", f"{kind} p95 @ {size:,}", p95, "ms", goal),
        ]

    def _cost_metrics(self, store_p50: list[float]) -> list[Metric]:
        small, large = self.plan.cost_sizes
        goal = Goal("<=", STORE_COST_RATIO_TARGET, "") if self.plan.is_spec else None
        return [
            Metric(f"store_p50_ms_at_{small}", f"store p50 @ {small:,} (service)", store_p50[0], "ms"),
            Metric(f"store_p50_ms_at_{large}", f"store p50 @ {large:,} (service)", store_p50[1], "ms"),
            Metric(
                "store_cost_ratio",
                f"store cost {large:,} / {small:,}",
                store_p50[1] / store_p50[0],
                "x",
                goal,
            ),
        ]


def soak_metrics(result: SoakResult) -> list[Metric]:
    p50, p95, p99 = np.percentile(np.asarray(result.latencies_ns, dtype=np.float64) / 1e6, [50, 95, 99])
    return [
        Metric("soak_requests", "soak requests", result.requests, "requests"),
        Metric("soak_throughput_per_s", "soak throughput", result.requests / result.seconds, "requests/s"),
        Metric("soak_errors", "soak errors", result.errors, "errors", Goal("<=", 0, "errors")),
        Metric("soak_p50_ms", "soak latency p50", float(p50), "ms"),
        Metric("soak_p95_ms", "soak latency p95", float(p95), "ms"),
        Metric("soak_p99_ms", "soak latency p99", float(p99), "ms"),
        Metric("soak_rss_start_mib", "server RSS after warm-up", result.rss_start_kib / 1024, "MiB"),
        Metric(
            "soak_rss_growth_percent",
            "server RSS growth",
            100 * result.rss_growth,
            "%",
            Goal("<", SOAK_RSS_GROWTH_TARGET, "%"),
        ),
    ]


# --- reporting ----------------------------------------------------------------------------------


def _shown(metric: Metric) -> str:
    if metric.unit == "ms":
        return f"{metric.value:.2f} ms"
    if metric.unit == "x":
        return f"{metric.value:.2f}x"
    if metric.unit in ("%", "MiB"):
        return f"{metric.value:,.1f} {metric.unit}"
    return f"{metric.value:,.0f} {metric.unit}"


def _verdict(metric: Metric) -> str:
    if metric.goal is None:
        return ""
    return "yes" if metric.goal.met(metric.value) else "NO"


def report_table(metrics: Sequence[Metric]) -> None:
    write_table(
        ["metric", "measured", "target", "met"],
        [[m.label, _shown(m), str(m.goal) if m.goal else "", _verdict(m)] for m in metrics],
    )


def setup_description(plan: Plan, seed: int) -> dict[str, Any]:
    return {
        "recall_sizes": list(plan.recall_sizes),
        "store_cost_sizes": list(plan.cost_sizes),
        "batch": plan.batch,
        "queries": plan.queries,
        "top_k": plan.top_k,
        "http_stores": plan.http_stores,
        "seed": seed,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def bench(args: argparse.Namespace) -> int:
    plan = QUICK if args.quick else FULL
    if args.sizes:
        plan = replace(plan, recall_sizes=tuple(args.sizes))
    with tempfile.TemporaryDirectory(prefix="soma-bench-") as workdir:
        runner = Bench(plan, args.seed, Path(workdir), args.quiet)
        if args.soak:
            metrics = runner.soak(args.clients, args.soak_seconds)
        elif args.scale:
            from somafractalmemory.cli.bench_scale import scale_metrics  # it imports this module

            metrics = scale_metrics(plan, args.seed, Path(workdir), args.quiet)
        elif args.embedding:
            from somafractalmemory.cli.bench_embedding import embedding_metrics  # it imports this module

            metrics = embedding_metrics(Settings(), quick=args.quick, seed=args.seed)
        else:
            metrics = runner.over_http() + runner.in_process()
    if args.json:
        write_json({"metrics": [m.as_json() for m in metrics], "setup": setup_description(plan, args.seed)})
    else:
        report_table(metrics)
    return 0


def sizes(text: str) -> list[int]:
    try:
        values = sorted({int(part) for part in text.split(",")})
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of whole numbers") from None
    if not values or values[0] < 1:
        raise argparse.ArgumentTypeError("sizes must be at least 1")
    return values


def register(subparsers: "Subparsers[argparse.ArgumentParser]") -> None:
    parser = add_command(
        subparsers,
        "bench",
        "Measure the embedded default in a temporary data directory and print each measured value next to "
        "its target (DESIGN.md section 5): HTTP store p50/p95 against a real `soma serve`, bulk ingest "
        "(service and HTTP), recall p50/p95 at each size, and store cost at 50k relative to 1k memories.",
        [logging_options()],
    )
    parser.add_argument(
        "--sizes",
        type=sizes,
        help="memory counts to time recall at, comma-separated (default: 1000,10000,100000)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small sizes and few samples: checks that the bench runs, in seconds",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help=f"seed of the workload (default: {DEFAULT_SEED})"
    )
    parser.add_argument(
        "--soak",
        action="store_true",
        help="instead of the table: concurrent clients storing and recalling against `soma serve` for a "
        "while; reports errors, latency p50/p95/p99 and the server's memory growth",
    )
    parser.add_argument(
        "--embedding",
        action="store_true",
        help="instead of the table: memories embedded a second by the hashing embedder and by the one "
        "$SOMA_EMBEDDING_PROVIDER selects",
    )
    parser.add_argument(
        "--scale",
        action="store_true",
        help="instead of the table: the embedded default at --sizes (e.g. 1000000): dense and default "
        "recall p50/p95, recall@10 against exact search, ingest rate, then soma serve's start-up time and "
        "resident memory at the largest size",
    )
    parser.add_argument("--clients", type=int, default=32, help="soak clients (default: 32)")
    parser.add_argument(
        "--soak-seconds", type=float, default=60.0, help="how long the soak runs (default: 60)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    quiet_option(parser)
    parser.set_defaults(func=bench, default_log_level=QUIET_LOG_LEVEL)
