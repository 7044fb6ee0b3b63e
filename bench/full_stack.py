"""The issue-3 benchmark: the runtime on the full local stack (PostgreSQL, Redis, Kafka protocol, Qdrant).

Run from the repository root:  .venv/bin/python bench/full_stack.py [--memories 10000] [--events 50000]

It starts PostgreSQL, Redis and the Tansu broker on 127.0.0.1 (the launchers of tests/support), then measures:

- HTTP store p50/p95 and bulk memories/s: a real ``soma serve`` child process in evented mode (PostgreSQL
  write + outbox row in one transaction, Redis cache invalidation; the relay publishes in the background,
  indexing is measured apart); one keep-alive client, 200 warm-up then 2,000 timed
  ``PUT /v1/namespaces/bench/memories/{coord}``, then ``--memories`` through ``POST .../bulk`` (500 a batch);
- store-to-recall visibility lag p50/p95: ``soma serve`` with the consumer in-process (as ``soma serve
  --consume``; Qdrant local ``:memory:``, which one process must own), 200 times: store one memory with a
  unique probe field, then poll a recall filtered on that field every 2 ms until it is returned (the write,
  the relay, the broker, the consumer's embed and index write, and the recall are all in the path);
- consumer events/s: ``--events`` upserts already in the topic (written through the outbox and relayed),
  indexed by a new consumer group of 1, then of 2 processes (batches of 2,000, hashing embedder, 384
  dimensions, each process with its own Qdrant local ``:memory:`` collection), timed from the group's first
  commit to its last (joins excluded). qdrant-client's local mode is pure Python (no Qdrant server installs
  here); against a server the index write is cheaper and the group scales with partitions.
"""

import argparse
import multiprocessing
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY / "tests"))

from confluent_kafka import Consumer, TopicPartition  # noqa: E402

from somafractalmemory.adapters.postgres_outbox import PostgresOutbox  # noqa: E402
from somafractalmemory.adapters.postgres_store import PostgresStore  # noqa: E402
from somafractalmemory.adapters.qdrant_index import QdrantIndex  # noqa: E402
from somafractalmemory.cli.bench_workload import Workload  # noqa: E402
from somafractalmemory.core.models import Memory  # noqa: E402
from somafractalmemory.embedding.hashing import HashingEmbedder  # noqa: E402
from somafractalmemory.events.consumer import IndexingConsumer  # noqa: E402
from somafractalmemory.events.indexer import EventIndexer  # noqa: E402
from somafractalmemory.events.pipeline import EventPipeline  # noqa: E402
from somafractalmemory.events.relay import OutboxRelay  # noqa: E402
from somafractalmemory.events.topics import DEFAULT_PARTITIONS  # noqa: E402
from support.processes import SomaProcess, wait_http_ok  # noqa: E402
from support.servers import KafkaBroker, PostgresServer, RedisServer, free_port, wait_until  # noqa: E402
from support.stack import AUTH, TOKEN, StackAddresses  # noqa: E402

NAMESPACE = "bench"
DIMENSIONS = 384
STORE_WARMUP, STORES = 200, 2000
BULK_BATCH = 500
LAG_SAMPLES = 200


def percentiles_ms(samples: list[float]) -> tuple[float, float]:
    p50, p95 = np.percentile(np.asarray(samples) * 1000, [50, 95])
    return float(p50), float(p95)


def memory_body(workload: Workload) -> tuple[str, dict[str, Any]]:
    item = workload.memory()
    coordinate = ",".join(repr(x) for x in item.coordinate)
    return coordinate, {"payload": item.payload, "type": item.memory_type.value}


def serve(values: dict[str, Any], workdir: Path, name: str) -> tuple[SomaProcess, str]:
    port = free_port()
    server = SomaProcess(
        ["serve", "--no-access-log"],
        {**values, "port": port, "api_token": TOKEN, "rate_limit_per_minute": 0},
        workdir / f"{name}.log",
    )
    server.start()
    url = f"http://127.0.0.1:{port}"
    wait_http_ok(f"{url}/readyz", 120, server)
    return server, url


def write_phase(addresses: StackAddresses, workdir: Path, memories: int) -> dict[str, float]:
    """The API in evented mode (its relay publishing in the background); indexing is measured apart."""
    values = addresses.settings_values(workdir / "write", evented=True)
    server, url = serve(values, workdir, "serve-write")
    workload = Workload(7)
    results: dict[str, float] = {}
    with httpx.Client(base_url=url, headers=AUTH, timeout=60) as client:
        samples = []
        for n in range(STORE_WARMUP + STORES):
            coordinate, body = memory_body(workload)
            started = time.perf_counter()
            client.put(f"/v1/namespaces/{NAMESPACE}/memories/{coordinate}", json=body).raise_for_status()
            if n >= STORE_WARMUP:
                samples.append(time.perf_counter() - started)
        results["store_p50_ms"], results["store_p95_ms"] = percentiles_ms(samples)
        spent = 0.0
        for _ in range(0, memories, BULK_BATCH):
            items = [{"coord": c, **b} for c, b in (memory_body(workload) for _ in range(BULK_BATCH))]
            started = time.perf_counter()
            client.post(f"/v1/namespaces/{NAMESPACE}/bulk", json={"items": items}).raise_for_status()
            spent += time.perf_counter() - started
        results["bulk_per_second"] = memories / spent
    server.terminate()
    return results


def visibility_phase(addresses: StackAddresses, workdir: Path) -> dict[str, float]:
    """``soma serve --consume``: the consumer in the API process, so recall reads what it indexes."""
    values = addresses.settings_values(workdir / "visibility", evented=True, consume=True)
    server, url = serve({**values, "qdrant_path": ":memory:"}, workdir, "serve-consume")
    with httpx.Client(base_url=url, headers=AUTH, timeout=60) as client:
        p50, p95 = visibility_lags(client)
    server.terminate()
    return {"visibility_lag_p50_ms": p50, "visibility_lag_p95_ms": p95}


def visibility_lags(client: httpx.Client) -> tuple[float, float]:
    """Store, then poll a recall filtered on the memory's unique probe until it is visible."""
    lags = []
    for n in range(LAG_SAMPLES):
        probe = uuid.uuid4().hex
        text = f"visibility probe {n}"
        started = time.perf_counter()
        body = {"payload": {"text": text, "probe": probe}}
        client.put(f"/v1/namespaces/lag/memories/{n},0", json=body).raise_for_status()
        query = {"query": text, "top_k": 1, "filters": {"probe": probe}}

        def visible(request: dict[str, Any] = query) -> bool:
            return bool(client.post("/v1/namespaces/lag/recall", json=request).json()["results"])

        wait_until(visible, 30, "a stored memory to become visible to recall", interval=0.002)
        lags.append(time.perf_counter() - started)
    return percentiles_ms(lags)


def fill_topic(postgres: PostgresServer, broker: KafkaBroker, events: int) -> tuple[str, str]:
    """``events`` upserts written through the outbox and published by the relay; returns the topics."""
    name = f"b{uuid.uuid4().hex[:10]}"
    topic, dead_letters = f"{name}.memories", f"{name}.dlq"
    store = PostgresStore.connect(postgres.create_database(name), evented=True)
    store.migrate()
    workload = Workload(11)
    now = time.time()
    for start in range(0, events, 2000):
        batch = [workload.memory() for _ in range(min(2000, events - start))]
        store.put_many(
            [Memory(NAMESPACE, m.coordinate, m.payload, m.memory_type, 0.5, now, now) for m in batch]
        )
    outbox = PostgresOutbox(store.connection)
    topics = [topic, dead_letters]
    relay = EventPipeline(OutboxRelay(outbox, broker.bootstrap_servers, topic, topics_to_ensure=topics))
    relay.start()
    wait_until(lambda: outbox.backlog() == 0, 300, "the relay to publish every event")
    relay.stop()
    store.close()
    return topic, dead_letters


def committed(broker: KafkaBroker, topic: str, group: str) -> int:
    reader = Consumer({"bootstrap.servers": broker.bootstrap_servers, "group.id": group})
    offsets = reader.committed([TopicPartition(topic, p) for p in range(DEFAULT_PARTITIONS)], timeout=10)
    reader.close()
    return sum(max(0, tp.offset) for tp in offsets)


def run_consumer(bootstrap: str, topics: tuple[str, str], group: str, stop: Any, counts: Any) -> None:
    """One consumer process of the group, indexing into its own Qdrant ``:memory:`` collection."""
    index = QdrantIndex.connect(path=":memory:", dimensions=DIMENSIONS)
    IndexingConsumer(EventIndexer(index, HashingEmbedder(DIMENSIONS)), bootstrap, *topics, group).run(stop)
    counts.put(index.count(NAMESPACE))


def group_rate(
    broker: KafkaBroker, topics: tuple[str, str], events: int, processes: int
) -> tuple[float, int]:
    """Events/s of a new group of ``processes`` consumers over the whole topic, from the group's first
    commit to its last (joins excluded), and the points they indexed in all."""
    group = f"group-{uuid.uuid4().hex[:8]}"
    context = multiprocessing.get_context("spawn")
    stop, counts = context.Event(), context.Queue()
    args = (broker.bootstrap_servers, topics, group, stop, counts)
    workers = [context.Process(target=run_consumer, args=args) for _ in range(processes)]
    for worker in workers:
        worker.start()
    wait_until(lambda: committed(broker, topics[0], group) > 0, 180, "the first commit", interval=0.01)
    first, started = committed(broker, topics[0], group), time.perf_counter()
    wait_until(lambda: committed(broker, topics[0], group) >= events, 900, "every event", interval=0.01)
    elapsed = time.perf_counter() - started
    stop.set()
    indexed = sum(counts.get(timeout=60) for _ in workers)
    for worker in workers:
        worker.join(60)
    return (events - first) / elapsed, indexed


def consumer_phase(postgres: PostgresServer, broker: KafkaBroker, events: int) -> dict[str, float]:
    topics = fill_topic(postgres, broker, events)
    results: dict[str, float] = {}
    for processes in (1, 2):
        rate, indexed = group_rate(broker, topics, events, processes)
        results[f"consumer_{processes}_per_second"], results[f"consumer_{processes}_indexed"] = rate, indexed
    return results


TARGETS = {
    "store_p50_ms": ("HTTP store p50 (ms)", "< 2 (embedded target)"),
    "store_p95_ms": ("HTTP store p95 (ms)", ""),
    "bulk_per_second": ("bulk ingest over HTTP (memories/s)", ">= 5000"),
    "visibility_lag_p50_ms": ("store-to-recall visibility lag p50 (ms)", ""),
    "visibility_lag_p95_ms": ("store-to-recall visibility lag p95 (ms)", "< 1000"),
    "consumer_1_per_second": ("consumer, 1 process (events/s)", ">= 5000"),
    "consumer_1_indexed": ("  points it indexed", "= events"),
    "consumer_2_per_second": ("consumer group of 2 processes (events/s)", ">= 5000"),
    "consumer_2_indexed": ("  points they indexed", "= events"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--memories", type=int, default=10_000, help="memories for the bulk ingest")
    parser.add_argument("--events", type=int, default=50_000, help="events for the consumer throughput")
    args = parser.parse_args()
    postgres, redis_server, broker = PostgresServer(), RedisServer(), KafkaBroker()
    servers = [postgres, redis_server, broker]
    for server in servers:
        server.start()
    try:
        with tempfile.TemporaryDirectory(prefix="soma-bench-") as workdir:
            addresses = StackAddresses.of(postgres, redis_server, broker)
            results = write_phase(addresses, Path(workdir), args.memories)
            results.update(visibility_phase(addresses, Path(workdir)))
            results.update(consumer_phase(postgres, broker, args.events))
    finally:
        for server in servers:
            server.destroy()
    print("| metric | measured | target |\n|---|---|---|")
    for key, (label, target) in TARGETS.items():
        print(f"| {label} | {results[key]:,.1f} | {target} |")


if __name__ == "__main__":
    main()
