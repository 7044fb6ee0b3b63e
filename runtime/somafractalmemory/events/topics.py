"""Creates the pipeline's topics when missing (a fresh cluster, or a broker without durable storage)."""

import logging
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from somafractalmemory.events.kafka_config import KAFKA_LOGGER

logger = logging.getLogger(__name__)

DEFAULT_PARTITIONS = 4
DEFAULT_REPLICATION = 1


@dataclass(frozen=True)
class TopicLayout:
    """How the topics the runtime creates are laid out: the operator sets both from the MemorySystem."""

    partitions: int = DEFAULT_PARTITIONS
    replication: int = DEFAULT_REPLICATION

    @property
    def min_insync_replicas(self) -> int:
        """A majority of the replicas, yet never all of them, so one broker can be drained."""
        return (self.replication + 1) // 2

    def new_topic(self, name: str) -> NewTopic:
        config: dict[str, str] = {}
        if self.replication > 1:
            # Redpanda accepts and ignores it, acks=all already waits for a Raft majority (redpanda
            # src/v/kafka/server/handlers/topics/types.h lists it among the no-op properties); an external
            # Kafka broker needs it for acks=all to mean more than the leader.
            config["min.insync.replicas"] = str(self.min_insync_replicas)
        return NewTopic(name, self.partitions, self.replication, config=config)


def ensure_topics(bootstrap_servers: str, topics: list[str], layout: TopicLayout | None = None) -> None:
    """Create each topic that does not exist; raises KafkaException if the broker cannot be asked."""
    layout = layout or TopicLayout()
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers,
        "socket.connection.setup.timeout.ms": 2000,
        "logger": KAFKA_LOGGER,
    }
    admin = AdminClient(config)
    existing = admin.list_topics(timeout=5).topics
    missing = [layout.new_topic(topic) for topic in topics if topic not in existing]
    if not missing:
        return
    for topic, future in admin.create_topics(missing, operation_timeout=5, request_timeout=5).items():
        try:
            future.result()
            logger.info(
                "created topic %s: %d partitions, replication %d",
                topic,
                layout.partitions,
                layout.replication,
            )
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
