"""Real servers for the integration tier, started lazily: only when a test asks for one.

Session-wide servers are shared (each test gets its own database, Redis prefix or topic); tests that stop a
server get their own instance from the ``own_*`` fixtures, so an outage never leaks into other tests.
"""

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from somafractalmemory.adapters.postgres_store import PostgresStore
from somafractalmemory.adapters.redis_connection import RedisLink
from somafractalmemory.settings import Settings
from support.servers import KafkaBroker, PostgresServer, RedisServer, ServerProcess
from support.stack import TOKEN, StackAddresses

INTEGRATION_DIR = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if INTEGRATION_DIR in Path(item.fspath).parents:
            item.add_marker(pytest.mark.integration)


S = TypeVar("S", bound=ServerProcess)


def _serve(server: S) -> Iterator[S]:
    server.start()
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    yield from _serve(PostgresServer())


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    yield from _serve(RedisServer())


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    yield from _serve(KafkaBroker())


@pytest.fixture
def own_postgres() -> Iterator[PostgresServer]:
    yield from _serve(PostgresServer())


@pytest.fixture
def own_redis() -> Iterator[RedisServer]:
    yield from _serve(RedisServer())


@pytest.fixture
def own_kafka() -> Iterator[KafkaBroker]:
    yield from _serve(KafkaBroker())


@pytest.fixture
def unique() -> str:
    """A short name no other test uses (databases, prefixes, topics, namespaces)."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, unique: str) -> str:
    return postgres_server.create_database(unique)


def _open_store(url: str, *, evented: bool) -> PostgresStore:
    store = PostgresStore.connect(url, evented=evented)
    store.migrate()
    return store


@pytest.fixture
def store(postgres_url: str) -> Iterator[PostgresStore]:
    store = _open_store(postgres_url, evented=False)
    yield store
    store.close()


@pytest.fixture
def evented_store(postgres_url: str) -> Iterator[PostgresStore]:
    store = _open_store(postgres_url, evented=True)
    yield store
    store.close()


@pytest.fixture
def redis_link(redis_server: RedisServer) -> Iterator[RedisLink]:
    link = RedisLink.from_url(redis_server.url())
    yield link
    link.close()


@pytest.fixture
def make_app_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings for an app on the given servers; each call is a separate system (own database, topics)."""

    def factory(
        postgres: PostgresServer, redis: RedisServer, kafka: KafkaBroker | None = None, **values: object
    ) -> Settings:
        data_dir = tmp_path / f"app{len(list(tmp_path.iterdir()))}"
        data_dir.mkdir()
        evented = bool(values.pop("evented", False))
        consume = bool(values.pop("consume", False))
        base = StackAddresses.of(postgres, redis, kafka).settings_values(
            data_dir, evented=evented, consume=consume
        )
        base.update({"api_token": TOKEN, "rate_limit_per_minute": 0, "cache_ttl_seconds": 30})
        base.update(values)
        return Settings(**base)

    return factory
