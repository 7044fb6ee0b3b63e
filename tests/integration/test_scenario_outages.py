"""A backend goes away under a running API and comes back: what the API answers, and that it recovers."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis
from fastapi.testclient import TestClient

from somafractalmemory.http_api import create_app
from somafractalmemory.settings import Settings
from support.servers import KafkaBroker, PostgresServer, RedisServer, wait_until
from support.stack import AUTH

SettingsFactory = Callable[..., Settings]


@contextmanager
def api(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        client.headers.update(AUTH)
        yield client


def ready(client: TestClient) -> bool:
    return client.get("/readyz").status_code == 200


def store(client: TestClient, i: int, text: str = "memory") -> int:
    return client.post(
        "/store", json={"coord": f"{i},0", "payload": {"text": f"{text} number {i}"}}
    ).status_code


def test_without_redis_the_api_serves_and_readiness_says_so(
    make_app_settings: SettingsFactory, postgres_server: PostgresServer, own_redis: RedisServer
) -> None:
    settings = make_app_settings(postgres_server, own_redis)
    cache_keys = redis.Redis.from_url(str(settings.redis_url.get_secret_value()))  # type: ignore[union-attr]
    with api(settings) as client:
        assert store(client, 1) == 200
        assert client.get("/v1/namespaces/default/memories/1,0").status_code == 200
        assert cache_keys.keys("soma:cache:*"), "a read fills the cache"
        own_redis.stop()
        assert store(client, 2) == 200
        assert client.get("/v1/namespaces/default/memories/2,0").status_code == 200
        assert client.post("/recall", json={"query": "memory number 2", "top_k": 1}).json()["matches"]
        readiness = client.get("/readyz")
        assert readiness.status_code == 503
        assert "redis" in readiness.json()["failed"]
        own_redis.start()
        wait_until(lambda: ready(client), 30, "readiness once Redis is back")
        cache_keys = redis.Redis.from_url(str(settings.redis_url.get_secret_value()))  # type: ignore[union-attr]
        assert not cache_keys.keys("soma:cache:*")  # a fresh Redis
        assert client.get("/v1/namespaces/default/memories/2,0").status_code == 200
        wait_until(lambda: bool(cache_keys.keys("soma:cache:*")), 10, "the cache to be filled again")


def test_without_postgres_writes_get_503_and_nothing_unstored_is_acknowledged(
    make_app_settings: SettingsFactory, own_postgres: PostgresServer, redis_server: RedisServer
) -> None:
    with api(make_app_settings(own_postgres, redis_server)) as client:
        assert store(client, 1) == 200
        own_postgres.stop()
        refused = client.post("/store", json={"coord": "2,0", "payload": {"text": "lost?"}})
        assert refused.status_code == 503
        assert "postgres" in refused.text and "unavailable" in refused.text
        assert refused.headers["Retry-After"]
        bulk = client.post("/store_bulk", json={"items": [{"coord": "3,0", "payload": {"text": "x"}}]})
        assert bulk.status_code == 503
        assert client.post("/link", json={"from_coord": "1,0", "to_coord": "1,0"}).status_code == 503
        readiness = client.get("/readyz")
        assert readiness.status_code == 503
        assert readiness.json()["failed"] == ["postgres"]
        own_postgres.start()
        wait_until(lambda: ready(client), 60, "readiness once PostgreSQL is back")
        assert store(client, 4) == 200
        assert client.get("/v1/namespaces/default/memories/1,0").status_code == 200
        assert client.get("/v1/namespaces/default/memories/2,0").status_code == 404
        assert client.get("/v1/namespaces/default/memories/3,0").status_code == 404
        assert client.get("/stats").json()["total_memories"] == 2


def test_with_the_broker_down_the_api_accepts_and_indexes_everything_once_it_is_back(
    make_app_settings: SettingsFactory, postgres_server: PostgresServer, redis_server: RedisServer,
    own_kafka: KafkaBroker,
) -> None:  # fmt: skip
    settings = make_app_settings(postgres_server, redis_server, own_kafka, evented=True, consume=True)
    with api(settings) as client:
        index = client.app.state.runtime.service.index  # type: ignore[attr-defined]
        assert store(client, 0) == 200
        wait_until(lambda: index.count("default") == 1, 60, "indexing before the outage")
        own_kafka.stop()
        statuses = [store(client, i, "written while the broker was down") for i in range(1, 1001)]
        assert statuses == [200] * 1000
        assert client.get("/stats").json()["total_memories"] == 1001
        own_kafka.start()
        wait_until(lambda: index.count("default") == 1001, 180, "all 1,000 memories to be indexed")
        matches = client.post("/recall", json={"query": "broker was down number 777", "top_k": 1}).json()
        assert [m["text"] for m in matches["matches"]] == ["written while the broker was down number 777"]
        assert index.count("default") == 1001  # none twice
        assert client.get("/readyz").json()["backends"]["event-pipeline"] == {"ok": True}
        client.app.state.runtime.pipeline.stop()  # type: ignore[attr-defined]
        stopped = client.get("/readyz")
        assert stopped.status_code == 503
        assert stopped.json()["failed"] == ["event-pipeline"]
