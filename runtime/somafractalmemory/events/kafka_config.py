"""librdkafka settings of the pipeline's clients, in one place."""

import logging
from typing import Any

# librdkafka's own log lines go through Python logging, not straight to stderr.
KAFKA_LOGGER = logging.getLogger("somafractalmemory.events.kafka")

# Short enough that an outage is noticed and retried promptly, long enough for a broker restart.
DELIVERY_TIMEOUT_MS = 5000


def producer_config(bootstrap_servers: str, client_id: str) -> dict[str, Any]:
    """Idempotent, ordered per partition, batching by a short linger (never one flush per write)."""
    return {
        "bootstrap.servers": bootstrap_servers,
        "client.id": client_id,
        "logger": KAFKA_LOGGER,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "batch.num.messages": 10000,
        "compression.type": "none",
        "message.timeout.ms": DELIVERY_TIMEOUT_MS,
        "socket.connection.setup.timeout.ms": 2000,
        "reconnect.backoff.max.ms": 1000,
    }


def consumer_config(bootstrap_servers: str, group_id: str) -> dict[str, Any]:
    """Manual commits after the index write; earliest on a missing offset (never rely on ``latest``)."""
    return {
        "bootstrap.servers": bootstrap_servers,
        "group.id": group_id,
        "logger": KAFKA_LOGGER,
        "client.id": f"{group_id}-consumer",
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "topic.metadata.refresh.interval.ms": 2000,
        "reconnect.backoff.max.ms": 1000,
        "fetch.wait.max.ms": 50,
    }
