"""Each backend SIGKILLed and restarted while the API takes writes (issue 12): nothing acknowledged is lost.

One evented system (PostgreSQL with the outbox, Redis, the broker, the consumer in the API process) takes
/store requests from a writer that never pauses. PostgreSQL, Redis and the broker are killed in turn (the
whole process group, no clean shutdown) and started again on their data. A write is acknowledged by a 200;
every acknowledged memory must be readable from PostgreSQL afterwards, and indexed. Writes during the
PostgreSQL outage wait for a connection or are refused (503): either way, only what committed is
acknowledged.

The broker here is Tansu with in-memory storage, so a killed broker forgets the events it held: only what
was acknowledged after its restart can be required in the index, and what was written while it was dead
waits in the outbox until it is back. Redpanda's log is fsynced and (with 3 brokers, acks=all) on a majority
before the relay deletes an outbox row; that part is the broker's own guarantee.
"""

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient

from integration.test_scenario_outages import api, ready
from somafractalmemory.adapters.qdrant_index import point_id
from somafractalmemory.core.coordinates import parse_coordinate
from somafractalmemory.settings import Settings
from support.servers import (
    DurablePostgresServer,
    KafkaBroker,
    RedisServer,
    ServerProcess,
    wait_until,
)

SettingsFactory = Callable[..., Settings]
OUTAGE_SECONDS = 1.5


@dataclass
class Writer:
    """Stores memory after memory until stopped; remembers which were acknowledged, and when."""

    client: TestClient
    acknowledged: dict[int, float] = field(default_factory=dict)
    refused: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def run(self) -> None:
        i = 0
        while not self.stop.is_set():
            answer = self.client.post(
                "/store", json={"coord": f"{i},7", "payload": {"text": f"under fire {i}"}}
            )
            if answer.status_code == 200:
                self.acknowledged[i] = time.monotonic()
            else:
                assert answer.status_code == 503, answer.text
                self.refused += 1
                time.sleep(0.01)
            i += 1

    def __enter__(self) -> "Writer":
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        assert self.thread is not None
        self.thread.join(60)

    def count(self) -> int:
        return len(self.acknowledged)


@pytest.fixture
def durable_postgres() -> Iterator[DurablePostgresServer]:
    # The session's servers trade durability for speed (synchronous_commit off loses the last commits of a
    # crash): a drill that kills PostgreSQL needs one that keeps what it acknowledged, as production does.
    server = DurablePostgresServer()
    server.start()
    yield server
    server.destroy()


def crash(server: ServerProcess, writer: Writer) -> float:
    """Kill the server under the running writer, keep it dead a moment, start it again; when it died."""
    before = writer.count()
    wait_until(lambda: writer.count() >= before + 50, 60, "writes before the crash")
    server.kill()
    died = time.monotonic()
    time.sleep(OUTAGE_SECONDS)
    server.start()
    after = writer.count()
    wait_until(lambda: writer.count() >= after + 50, 120, f"writes after {server.name} is back")
    return died


def test_killing_each_backend_under_writes_loses_nothing_acknowledged(
    make_app_settings: SettingsFactory,
    durable_postgres: DurablePostgresServer,
    own_redis: RedisServer,
    own_kafka: KafkaBroker,
) -> None:
    settings = make_app_settings(durable_postgres, own_redis, own_kafka, evented=True, consume=True)
    with api(settings) as client:
        index = client.app.state.runtime.service.index  # type: ignore[attr-defined]
        with Writer(client) as writer:
            crash(durable_postgres, writer)
            crash(own_redis, writer)
            broker_died = crash(own_kafka, writer)
        acknowledged = writer.acknowledged
        assert len(acknowledged) > 300
        wait_until(lambda: ready(client), 60, "readiness after the drills")

        # The document store, the source of truth, has every acknowledged memory.
        missing = [
            i for i in acknowledged if client.get(f"/v1/namespaces/default/memories/{i},7").status_code != 200
        ]
        assert missing == []
        stored = client.get("/stats").json()["total_memories"]
        assert stored >= len(acknowledged)

        # The index gets every memory acknowledged since the broker came back, and nothing twice.
        required = [i for i, at in acknowledged.items() if at > broker_died]

        def not_indexed() -> list[int]:
            ids = [point_id("default", parse_coordinate(f"{i},7")) for i in required]
            with index._lock:  # local mode is not thread-safe: the consumer thread writes meanwhile
                found = {str(p.id) for p in index._client.retrieve(index.collection, ids=ids)}
            return [i for i, pid in zip(required, ids, strict=True) if pid not in found]

        wait_until(
            lambda: not not_indexed(), 180, "every memory acknowledged after the broker's restart indexed"
        )
        assert index.count("default") <= stored
