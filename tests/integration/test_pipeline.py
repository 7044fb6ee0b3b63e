"""The evented write path on real PostgreSQL and a real Kafka-protocol broker: outbox, relay, consumer."""

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from qdrant_client import QdrantClient, models

from somafractalmemory.adapters.index_events import IndexOp, decode
from somafractalmemory.adapters.postgres_outbox import PostgresOutbox
from somafractalmemory.adapters.postgres_store import PostgresStore
from somafractalmemory.adapters.qdrant_index import QdrantIndex
from somafractalmemory.core.models import Memory, MemoryType
from somafractalmemory.embedding.hashing import HashingEmbedder
from somafractalmemory.events.consumer import IndexingConsumer
from somafractalmemory.events.indexer import EventIndexer
from somafractalmemory.events.pipeline import EventPipeline
from somafractalmemory.events.relay import OutboxRelay
from somafractalmemory.events.topics import DEFAULT_PARTITIONS
from support.servers import KafkaBroker, wait_until

NS = "ns"
DIMS = 32


def memory(i: int, text: str = "note") -> Memory:
    return Memory(NS, (float(i), 0.0), {"text": f"{text} {i}"}, MemoryType.EPISODIC, 0.5, 1.0, 1.0)


@dataclass
class Stack:
    store: PostgresStore
    outbox: PostgresOutbox
    qdrant: QdrantClient
    index: QdrantIndex
    broker: KafkaBroker
    topic: str
    dead_letters: str
    group: str

    def pipeline(self) -> EventPipeline:
        relay = OutboxRelay(
            self.outbox,
            self.broker.bootstrap_servers,
            self.topic,
            topics_to_ensure=[self.topic, self.dead_letters],
        )
        consumer = IndexingConsumer(
            EventIndexer(self.index, HashingEmbedder(DIMS)),
            self.broker.bootstrap_servers,
            self.topic,
            self.dead_letters,
            self.group,
        )
        return EventPipeline(relay, consumer)

    def indexed(self) -> int:
        self.index.ping()  # creates the collection if the consumer has not yet
        namespace = models.FieldCondition(key="namespace", match=models.MatchValue(value=NS))
        return self.qdrant.count(self.index.collection, count_filter=models.Filter(must=[namespace])).count

    def committed(self) -> int:
        """The group's committed offsets, summed over partitions."""
        reader = Consumer({"bootstrap.servers": self.broker.bootstrap_servers, "group.id": self.group})
        partitions = [TopicPartition(self.topic, p) for p in range(DEFAULT_PARTITIONS)]
        offsets = reader.committed(partitions, timeout=10)
        reader.close()
        return sum(max(0, tp.offset) for tp in offsets)

    def read_topic(self, topic: str, expected: int) -> list[tuple[bytes, bytes, dict[str, bytes]]]:
        """Every message of ``topic`` from the beginning, waiting until ``expected`` arrived."""
        reader = Consumer(
            {
                "bootstrap.servers": self.broker.bootstrap_servers,
                "group.id": f"{self.group}-reader",
                "auto.offset.reset": "earliest",
                "enable.auto.commit": False,
                "session.timeout.ms": 6000,
                "heartbeat.interval.ms": 500,
            }
        )
        reader.subscribe([topic])
        found: list[tuple[bytes, bytes, dict[str, bytes]]] = []

        def more() -> bool:
            for message in reader.consume(500, 0.5):
                if message.error() is None:
                    headers = dict(message.headers() or [])
                    found.append((message.key() or b"", message.value() or b"", headers))  # type: ignore[arg-type]
            return len(found) >= expected

        wait_until(more, 60, f"{expected} messages in {topic}")
        reader.close()
        return found


def build_stack(store: PostgresStore, broker: KafkaBroker, unique: str) -> Stack:
    qdrant = QdrantClient(location=":memory:")
    return Stack(
        store=store,
        outbox=PostgresOutbox(store.connection),
        qdrant=qdrant,
        index=QdrantIndex(qdrant, dimensions=DIMS, local=True),
        broker=broker,
        topic=f"{unique}.memories",
        dead_letters=f"{unique}.dlq",
        group=f"{unique}-indexer",
    )


@pytest.fixture
def stack(evented_store: PostgresStore, kafka_broker: KafkaBroker, unique: str) -> Stack:
    return build_stack(evented_store, kafka_broker, unique)


@pytest.fixture
def running(stack: Stack) -> Iterator[EventPipeline]:
    pipeline = stack.pipeline()
    pipeline.start()
    yield pipeline
    pipeline.stop()


def test_writes_and_deletes_reach_the_index_and_offsets_are_committed(
    stack: Stack, running: EventPipeline
) -> None:
    for start in range(0, 2000, 250):
        stack.store.put_many([memory(i) for i in range(start, start + 250)])
    for i in range(100):
        stack.store.delete(NS, (float(i), 0.0))
    stack.store.put_many([memory(i, "changed") for i in range(100, 200)])
    events = 2000 + 100 + 100
    wait_until(lambda: stack.committed() == events, 60, "the group to commit every event")
    assert stack.indexed() == 1900
    assert stack.outbox.backlog() == 0
    assert running.healthy()
    hits = stack.index.search(
        NS, HashingEmbedder(DIMS).embed(["changed 150"])[0], top_k=1, memory_type=None, conditions=()
    )
    assert hits[0].coordinate == (150.0, 0.0)


def test_events_are_keyed_by_namespace_and_coordinate(stack: Stack, running: EventPipeline) -> None:
    stack.store.put_many([memory(1), memory(2)])
    stack.store.delete(NS, (1.0, 0.0))
    messages = stack.read_topic(stack.topic, 3)
    assert Counter(key for key, _, _ in messages) == {b"ns\x1f1.0,0.0": 2, b"ns\x1f2.0,0.0": 1}
    ops = [decode(value).op for key, value, _ in messages if key == b"ns\x1f1.0,0.0"]
    assert ops == [IndexOp.UPSERT, IndexOp.DELETE]


def test_a_poison_message_goes_to_the_dead_letter_topic_and_the_rest_is_indexed(
    stack: Stack, running: EventPipeline
) -> None:
    producer = Producer({"bootstrap.servers": stack.broker.bootstrap_servers})
    stack.store.put_many([memory(0)])
    wait_until(lambda: stack.indexed() == 1, 60, "the first memory to be indexed")
    producer.produce(stack.topic, key=b"bad", value=b"{not json")
    producer.produce(stack.topic, key=b"bad2", value=json.dumps({"op": "upsert", "namespace": NS}).encode())
    producer.flush(10)
    stack.store.put_many([memory(i) for i in range(1, 11)])
    wait_until(lambda: stack.indexed() == 11, 60, "the memories after the poison messages")
    wait_until(lambda: stack.committed() == 13, 60, "the poison messages to be committed too")
    letters = stack.read_topic(stack.dead_letters, 2)
    assert sorted(key for key, _, _ in letters) == [b"bad", b"bad2"]
    for _key, _value, headers in letters:
        assert headers["error"]
        assert headers["source"].startswith(stack.topic.encode())
    assert {value for _, value, _ in letters} == {
        b"{not json",
        json.dumps({"op": "upsert", "namespace": NS}).encode(),
    }


def test_writes_during_a_broker_outage_are_published_once_when_it_is_back(
    evented_store: PostgresStore, own_kafka: KafkaBroker, unique: str
) -> None:
    stack = build_stack(evented_store, own_kafka, unique)
    pipeline = stack.pipeline()
    pipeline.start()
    try:
        stack.store.put_many([memory(0)])
        wait_until(lambda: stack.indexed() == 1, 60, "indexing before the outage")
        own_kafka.stop()
        for start in range(1, 301, 50):
            stack.store.put_many([memory(i) for i in range(start, start + 50)])
        assert stack.outbox.backlog() >= 300  # kept while the broker is away
        own_kafka.start()  # in-memory storage: the broker comes back empty
        wait_until(lambda: stack.indexed() == 301, 120, "every memory written during the outage")
        wait_until(lambda: stack.outbox.backlog() == 0, 30, "the outbox to drain")
        keys = Counter(key for key, _, _ in stack.read_topic(stack.topic, 300))
        assert len(keys) == 300 and set(keys.values()) == {1}
    finally:
        pipeline.stop()
