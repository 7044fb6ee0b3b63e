"""Creates the pipeline's topics when missing (a fresh cluster, or a broker without durable storage)."""

import logging
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from somafractalmemory.events.kafka_config import KAFKA_LOGGER

logger = logging.getLogger(__name__)

DEFAULT_PARTITIONS = 4


def ensure_topics(bootstrap_servers: str, topics: list[str], partitions: int = DEFAULT_PARTITIONS) -> None:
    """Create each topic that does not exist; raises KafkaException if the broker cannot be asked."""
    config: dict[str, Any] = {
        "bootstrap.servers": bootstrap_servers,
        "socket.connection.setup.timeout.ms": 2000,
        "logger": KAFKA_LOGGER,
    }
    admin = AdminClient(config)
    existing = admin.list_topics(timeout=5).topics
    missing = [NewTopic(topic, partitions, 1) for topic in topics if topic not in existing]
    if not missing:
        return
    for topic, future in admin.create_topics(missing, operation_timeout=5, request_timeout=5).items():
        try:
            future.result()
            logger.info("created topic %s", topic)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
