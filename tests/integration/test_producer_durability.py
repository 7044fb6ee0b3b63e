"""Every producer of the runtime waits for all in-sync replicas (issue 12): an event the relay counts as
published, and a dead letter, is on every replica the topic's min.insync.replicas asks for, so losing the
partition leader loses nothing acknowledged. Idempotence keeps the retries that this implies from
duplicating or reordering events.

The real producers are used, on a real broker; their configuration is read on the way in."""

from typing import Any

import pytest
from confluent_kafka import Producer

from somafractalmemory.adapters.postgres_outbox import PostgresOutbox
from somafractalmemory.adapters.postgres_store import PostgresStore
from somafractalmemory.core.models import Memory, MemoryType
from somafractalmemory.events import relay as relay_module
from somafractalmemory.events.kafka_config import producer_config
from somafractalmemory.events.relay import OutboxRelay
from support.servers import KafkaBroker

DURABLE = {"acks": "all", "enable.idempotence": True}


def test_the_producer_settings_wait_for_every_in_sync_replica() -> None:
    config = producer_config("broker:9092", "client")
    assert {key: config[key] for key in DURABLE} == DURABLE


def test_the_relay_publishes_with_acks_all(
    monkeypatch: pytest.MonkeyPatch, kafka_broker: KafkaBroker, evented_store: PostgresStore, unique: str
) -> None:
    configs: list[dict[str, Any]] = []

    class Observed(Producer):  # type: ignore[misc]
        def __init__(self, config: dict[str, Any]) -> None:
            configs.append(dict(config))
            super().__init__(config)

    monkeypatch.setattr(relay_module, "Producer", Observed)
    outbox = PostgresOutbox(evented_store.connection)
    relay = OutboxRelay(outbox, kafka_broker.bootstrap_servers, f"{unique}.memories")
    evented_store.put_many([Memory("ns", (1.0, 2.0), {"text": "x"}, MemoryType.EPISODIC, 0.5, 1.0, 1.0)])
    assert relay.publish_batch() == 1
    [config] = configs
    assert {key: config[key] for key in DURABLE} == DURABLE
