"""`soma maintain` as the operator's CronJob runs it: the API's database settings, PostgreSQL, Redis,
Qdrant and eventing on. Its writes go through the outbox like the API's, so the vector index follows a
decay and indexes the semantic memory of a consolidation. (The /v1 behaviour, boundaries included, runs
on PostgreSQL through test_api_on_production_stack, which runs tests/api/test_maintenance.py.)"""

import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from somafractalmemory.cli.main import main
from somafractalmemory.http_api import create_app
from somafractalmemory.settings import Settings
from support.servers import KafkaBroker, PostgresServer, RedisServer, wait_until
from support.stack import AUTH

NS = "team-a"
BASE = f"/v1/namespaces/{NS}"
HOUR = 3600.0
OLD = 400_000 * HOUR
DECAY_RULES = [{"after_seconds": HOUR, "drop": ["scratch"]}]
LINES = [
    {"kind": "memory", "coord": [1], "payload": {"text": "opened the ticket", "scratch": "zanzibar"},
     "created_at": OLD},
    {"kind": "memory", "coord": [2], "payload": {"text": "fixed the bug"}, "created_at": OLD + 60},
]  # fmt: skip


def environment(settings: Settings) -> dict[str, str]:
    """The variables the operator gives the API pods and the CronJob alike."""
    assert settings.postgres_url is not None and settings.redis_url is not None
    return {
        "POSTGRES_URL": settings.postgres_url.get_secret_value(),
        "REDIS_URL": settings.redis_url.get_secret_value(),
        "QDRANT_PATH": str(settings.qdrant_path),
        "EVENTING_ENABLED": "true",
        "KAFKA_BOOTSTRAP_SERVERS": str(settings.kafka_bootstrap_servers),
        "SOMA_KAFKA_TOPIC": settings.kafka_topic,
        "SOMA_KAFKA_DEAD_LETTER_TOPIC": settings.kafka_dead_letter_topic,
        "SOMA_KAFKA_CONSUMER_GROUP": settings.kafka_consumer_group,
        "SOMA_DATA_DIR": str(settings.data_dir),
        "SOMA_DECAY_RULES": json.dumps(DECAY_RULES),
        "SOMA_CONSOLIDATION_WINDOW_SECONDS": str(HOUR),
    }


def dense(client: TestClient, filters: dict[str, Any], memory_type: str = "episodic") -> list[list[float]]:
    body = {"query": "ticket bug", "ranking": "dense", "filters": filters, "type": memory_type}
    answer = client.post(f"{BASE}/recall", json=body)
    assert answer.status_code == 200, answer.text
    return [hit["memory"]["coord"] for hit in answer.json()["results"]]


def test_soma_maintain_on_the_production_stack_reaches_the_index_through_the_outbox(
    make_app_settings: Callable[..., Settings],
    postgres_server: PostgresServer,
    redis_server: RedisServer,
    kafka_broker: KafkaBroker,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = make_app_settings(postgres_server, redis_server, kafka_broker, evented=True, consume=True)
    ndjson = "".join(json.dumps(line) + "\n" for line in LINES)
    with TestClient(create_app(settings)) as client:
        client.headers.update(AUTH)
        imported = client.post(
            f"{BASE}/import", content=ndjson, headers={"Content-Type": "application/x-ndjson"}
        )
        assert imported.json()["memories"] == 2, imported.text
        wait_until(lambda: dense(client, {"scratch": "zanzibar"}) == [[1.0]], 60, "the memory to be indexed")

    # The CronJob: a separate process with the API's settings (the API is stopped here only because
    # Qdrant's local mode, which the tests use in place of a Qdrant server, admits one process).
    for name, value in environment(settings).items():
        monkeypatch.setenv(name, value)
    assert main(["maintain", "--namespace", NS]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary == {
        "namespaces": 1, "decayed": 1, "forgotten": 0, "consolidated": 2, "created": 1, "dry_run": False,
        "retried": 0, "skipped": 0,
    }  # fmt: skip
    assert main(["maintain"]) == 0  # every namespace: nothing left to do
    again = json.loads(capsys.readouterr().out)
    assert (again["namespaces"], again["decayed"], again["consolidated"]) == (1, 0, 0)

    with TestClient(create_app(settings)) as client:
        client.headers.update(AUTH)
        marked = {"consolidated_into": {"$exists": True}}
        wait_until(lambda: sorted(dense(client, marked)) == [[1.0], [2.0]], 60, "the index to follow")
        assert dense(client, {"scratch": "zanzibar"}) == []
        wait_until(
            lambda: len(dense(client, {"consolidated_from": {"$exists": True}}, "semantic")) == 1,
            60,
            "the semantic memory to be indexed",
        )
        payload = client.get(f"{BASE}/memories/1").json()["payload"]
        assert set(payload) == {"text", "consolidated_into"}
