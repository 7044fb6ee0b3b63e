"""``soma consume`` killed in the middle of its work and started again: every memory indexed exactly as
the document store says, no duplicate effects, and the group's offsets committed to the end."""

import re
from pathlib import Path

import httpx
import psycopg
from confluent_kafka import Consumer, TopicPartition
from fastapi.testclient import TestClient

from somafractalmemory.adapters.qdrant_index import QdrantIndex
from somafractalmemory.embedding.hashing import HashingEmbedder
from somafractalmemory.events.topics import DEFAULT_PARTITIONS
from somafractalmemory.http_api import create_app
from somafractalmemory.settings import Settings
from support.processes import SomaProcess, wait_http_ok
from support.servers import KafkaBroker, PostgresServer, RedisServer, free_port, wait_until
from support.stack import AUTH, TOKEN, StackAddresses

MEMORIES = 3000
DELETED = range(0, 200)
CHANGED = range(200, 300)
EVENTS = MEMORIES + len(DELETED) + len(CHANGED)
DIMS = 64  # qdrant-client's local mode is slow to write; small vectors keep the test short


def committed(bootstrap: str, topic: str, group: str) -> int:
    reader = Consumer({"bootstrap.servers": bootstrap, "group.id": group})
    offsets = reader.committed([TopicPartition(topic, p) for p in range(DEFAULT_PARTITIONS)], timeout=10)
    reader.close()
    return sum(max(0, tp.offset) for tp in offsets)


def consumed(metrics_url: str) -> float:
    try:
        text = httpx.get(metrics_url, timeout=2).text
    except httpx.HTTPError:
        return 0.0
    found = re.search(r"^soma_consumer_consumed_total (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def write_everything(settings: Settings) -> None:
    with TestClient(create_app(settings)) as client:
        client.headers.update(AUTH)
        for start in range(0, MEMORIES, 500):
            items = [{"coord": f"{i},1", "payload": {"text": f"note {i}"}} for i in range(start, start + 500)]
            assert client.post("/store_bulk", json={"items": items}).json() == {"stored": 500}
        for i in DELETED:
            assert client.delete(f"/v1/namespaces/default/memories/{i},1").status_code == 204
        changed = [{"coord": f"{i},1", "payload": {"text": f"changed {i}"}} for i in CHANGED]
        assert client.post("/store_bulk", json={"items": changed}).json() == {"stored": len(CHANGED)}
        url = settings.postgres_url.get_secret_value()  # type: ignore[union-attr]
        with psycopg.connect(url) as conn:

            def outbox_empty() -> bool:
                row = conn.execute("SELECT count(*) FROM soma_outbox").fetchone()
                conn.commit()
                return row is not None and row[0] == 0

            wait_until(outbox_empty, 60, "the API's relay to publish every event")


def test_a_consumer_killed_mid_batch_resumes_without_loss_or_duplicates(
    tmp_path: Path, postgres_server: PostgresServer, redis_server: RedisServer, kafka_broker: KafkaBroker
) -> None:
    values = StackAddresses.of(postgres_server, redis_server, kafka_broker).settings_values(
        tmp_path / "api", evented=True
    )
    write_everything(Settings(**values, api_token=TOKEN, rate_limit_per_minute=0))

    port = free_port()
    index_path = tmp_path / "consumer-index"
    consumer_values = {
        **values,
        "qdrant_path": index_path,
        "consumer_metrics_port": port,
        "embedding_dimensions": DIMS,
    }
    consumer = SomaProcess(["consume"], consumer_values, tmp_path / "consume.log")
    group = (kafka_broker.bootstrap_servers, values["kafka_topic"], values["kafka_consumer_group"])
    metrics = f"http://127.0.0.1:{port}/metrics"

    consumer.start()
    wait_until(lambda: consumed(metrics) > 0, 120, "the consumer to index its first batch")
    consumer.kill()
    assert committed(*group) < EVENTS, "the consumer was killed with work left"

    consumer.start()
    wait_http_ok(f"http://127.0.0.1:{port}/healthz", 60, consumer)
    wait_until(lambda: committed(*group) == EVENTS, 180, "the restarted consumer to commit every event")
    assert consumer.terminate() == 0, consumer.log()

    embedder = HashingEmbedder(DIMS)
    index = QdrantIndex.connect(path=str(index_path), dimensions=DIMS)
    assert index.count("default") == MEMORIES - len(DELETED)
    query = embedder.embed(["note"])[0]
    hits = index.search("default", query, top_k=MEMORIES, memory_type=None, conditions=())
    assert sorted(hit.coordinate for hit in hits) == [(float(i), 1.0) for i in range(len(DELETED), MEMORIES)]
    changed = index.search(
        "default", embedder.embed(["changed 250"])[0], top_k=1, memory_type=None, conditions=()
    )
    assert changed[0].coordinate == (250.0, 1.0)
    index.close()
