"""The whole HTTP API suite of tests/api, run again with PostgreSQL, Redis and Qdrant behind the app.

The suite runs in a child pytest (its fixtures are per directory); every app it builds gets a fresh
database on this session's servers through the hook in tests/api/api_settings.py.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.servers import PostgresServer, RedisServer
from support.stack import STACK_VARIABLE, StackAddresses

TESTS = Path(__file__).resolve().parents[1]


# The child runs the whole tests/api suite (about 300 tests, each app on a fresh database): longer than
# the session's per-test default.
@pytest.mark.timeout(900)
def test_the_api_suite_passes_on_the_production_stack(
    postgres_server: PostgresServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        STACK_VARIABLE: StackAddresses.of(postgres_server, redis_server, None).to_json(),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])),
    }
    command = [sys.executable, "-m", "pytest", str(TESTS / "api"), "-q", "-p", "no:cacheprovider"]
    result = subprocess.run(
        [*command, "--basetemp", str(tmp_path)],
        env=env, cwd=TESTS.parent, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
