"""The runtime creates its topics with the partitions and replication the operator sets (issue 8, finding 3).

The operator's rendered ConfigMap is the runtime's environment here, and the topics are created by the relay
and the consumer on a real Kafka-protocol broker, whose metadata is then read back.
"""

import threading
from typing import Any

import pytest
from confluent_kafka.admin import AdminClient, ConfigResource  # type: ignore[attr-defined]

from soma_operator.builders import BuildContext, Credentials, configmap
from soma_operator.config import OperatorConfig
from soma_operator.spec import MemorySystem
from somafractalmemory import production_wiring
from somafractalmemory.adapters.postgres_store import PostgresStore
from somafractalmemory.adapters.qdrant_index import QdrantIndex
from somafractalmemory.core.models import Memory, MemoryType
from somafractalmemory.embedding.hashing import HashingEmbedder
from somafractalmemory.settings import Settings
from support.servers import KafkaBroker, wait_until


def runtime_settings(
    monkeypatch: pytest.MonkeyPatch, broker: KafkaBroker, unique: str, redpanda: dict[str, Any]
) -> Settings:
    """Settings as a runtime pod of this MemorySystem reads them: the operator's ConfigMap as env."""
    body = {"metadata": {"name": "m", "namespace": "default", "uid": "u"}, "spec": {"redpanda": redpanda}}
    ctx = BuildContext(MemorySystem.from_body(body), OperatorConfig(), Credentials())
    [config_map] = configmap.build(ctx)
    for name, value in config_map["data"].items():
        monkeypatch.setenv(name, value)
    return Settings(
        kafka_bootstrap_servers=broker.bootstrap_servers,
        kafka_topic=f"{unique}.memories",
        kafka_dead_letter_topic=f"{unique}.dlq",
        kafka_consumer_group=f"{unique}-indexer",
    )


def layout(broker: KafkaBroker, topic: str) -> list[int]:
    """The replica count of each partition of ``topic``, as the broker reports it."""
    metadata = AdminClient({"bootstrap.servers": broker.bootstrap_servers}).list_topics(topic, timeout=10)
    partitions = metadata.topics[topic].partitions
    return [len(partitions[number].replicas) for number in sorted(partitions)]


def topic_config(broker: KafkaBroker, topic: str) -> dict[str, str]:
    admin = AdminClient({"bootstrap.servers": broker.bootstrap_servers})
    [future] = admin.describe_configs([ConfigResource("topic", topic)]).values()
    return {name: entry.value for name, entry in future.result().items()}


def test_the_relay_creates_the_topics_with_the_spec_partitions_and_three_replicas(
    monkeypatch: pytest.MonkeyPatch, kafka_broker: KafkaBroker, evented_store: PostgresStore, unique: str
) -> None:
    settings = runtime_settings(monkeypatch, kafka_broker, unique, {"replicas": 3, "partitions": 12})
    assert (settings.kafka_topic_partitions, settings.kafka_topic_replication) == (12, 3)
    relay = production_wiring.outbox_relay(settings, evented_store)
    evented_store.put_many([Memory("ns", (1.0, 0.0), {"text": "x"}, MemoryType.EPISODIC, 0.5, 1.0, 1.0)])
    assert relay.publish_batch() == 1
    for topic in (settings.kafka_topic, settings.kafka_dead_letter_topic):
        assert layout(kafka_broker, topic) == [3] * 12
        # A majority must have a write before acks=all holds; one broker can still be drained.
        assert topic_config(kafka_broker, topic)["min.insync.replicas"] == "2"


def test_the_consumer_creates_the_topics_with_the_spec_partitions_and_one_replica(
    monkeypatch: pytest.MonkeyPatch, kafka_broker: KafkaBroker, unique: str
) -> None:
    # Two brokers: Raft wants an odd replication, so the topics keep one copy.
    settings = runtime_settings(monkeypatch, kafka_broker, unique, {"replicas": 2, "partitions": 5})
    assert (settings.kafka_topic_partitions, settings.kafka_topic_replication) == (5, 1)
    index = QdrantIndex.connect(path=":memory:", dimensions=settings.embedding_dimensions)
    consumer = production_wiring.indexing_consumer(
        settings, index, HashingEmbedder(settings.embedding_dimensions)
    )
    stop = threading.Event()
    thread = threading.Thread(target=consumer.run, args=(stop,), daemon=True)
    thread.start()
    try:
        admin = AdminClient({"bootstrap.servers": kafka_broker.bootstrap_servers})
        wanted = {settings.kafka_topic, settings.kafka_dead_letter_topic}
        wait_until(lambda: wanted <= set(admin.list_topics(timeout=5).topics), 30, "the consumer's topics")
    finally:
        stop.set()
        thread.join(30)
        index.close()
    for topic in wanted:
        assert layout(kafka_broker, topic) == [1] * 5
