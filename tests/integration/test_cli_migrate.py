"""``soma migrate`` against a real PostgreSQL: applies the schema once, then reports nothing to do."""

import json
import subprocess
import sys

from support.processes import environment
from support.servers import PostgresServer


def migrate(url: str) -> subprocess.CompletedProcess[str]:
    env = environment({"postgres_url": url})
    command = [sys.executable, "-m", "somafractalmemory.cli", "migrate"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=120, check=False)


def test_migrate_applies_the_schema_once(postgres_server: PostgresServer, unique: str) -> None:
    url = postgres_server.create_database(unique)
    first, second = migrate(url), migrate(url)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout) == {"applied": [1, 2, 3, 4, 5, 6, 7], "schema_version": 7}
    assert json.loads(second.stdout) == {"applied": [], "schema_version": 7}


def test_migrate_without_a_database_url_is_a_usage_error() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "somafractalmemory.cli", "migrate"],
        env=environment({}), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "POSTGRES_URL" in result.stderr
