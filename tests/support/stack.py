"""Settings that point the runtime at the real servers of the test session (the production stack).

Each call gets its own PostgreSQL database, Redis database and topic names, so apps built from different
calls share nothing; apps built from one call's settings share everything, like replicas of one system.
"""

import itertools
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis

from support.servers import KafkaBroker, PostgresServer, RedisServer

TOKEN = "integration-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

# Set (to the JSON of StackAddresses) for a pytest run of tests/api that must use the production stack.
STACK_VARIABLE = "SOMA_TEST_STACK"

REDIS_DATABASES = 64  # RedisServer starts with this many
_redis_database = itertools.count(1)


@dataclass(frozen=True)
class StackAddresses:
    postgres_admin_url: str
    redis_url_base: str
    kafka_bootstrap_servers: str | None

    @classmethod
    def of(
        cls, postgres: PostgresServer, redis_server: RedisServer, kafka: KafkaBroker | None
    ) -> "StackAddresses":
        return cls(
            postgres.url(),
            f"redis://127.0.0.1:{redis_server.port}",
            kafka.bootstrap_servers if kafka else None,
        )

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_environment(cls) -> "StackAddresses":
        return cls(**json.loads(os.environ[STACK_VARIABLE]))

    def settings_values(
        self, data_dir: Path, *, evented: bool = False, consume: bool = False
    ) -> dict[str, Any]:
        """Fresh database, Redis database and topics; Qdrant in local mode under ``data_dir``."""
        import psycopg

        name = f"t{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.postgres_admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        database = next(_redis_database) % REDIS_DATABASES
        redis_url = f"{self.redis_url_base}/{database}"
        with redis.Redis.from_url(redis_url) as client:
            client.flushdb()
        values: dict[str, Any] = {
            "data_dir": data_dir,
            "postgres_url": self.postgres_admin_url.rsplit("/", 1)[0] + f"/{name}",
            "redis_url": redis_url,
            "qdrant_path": data_dir / "qdrant",
            "backend_wait_seconds": 10,
            "eventing_enabled": evented,
            "consume_in_process": consume,
            "kafka_topic": f"{name}.memories",
            "kafka_dead_letter_topic": f"{name}.dlq",
            "kafka_consumer_group": f"{name}-indexer",
        }
        if self.kafka_bootstrap_servers is not None:
            values["kafka_bootstrap_servers"] = self.kafka_bootstrap_servers
        return values


def production_overrides(data_dir: Path) -> dict[str, Any]:
    """The hook of tests/api: empty on the embedded default, the production stack when selected."""
    if STACK_VARIABLE not in os.environ:
        return {}
    return StackAddresses.from_environment().settings_values(data_dir)
