"""Settings of an app under test: the embedded default in a directory, with a known token."""

import os
from collections.abc import Callable
from pathlib import Path

from somafractalmemory.settings import Settings

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

SettingsFactory = Callable[..., Settings]


# Set by tests/integration/test_api_on_production_stack.py, which runs this suite again on PostgreSQL,
# Redis and Qdrant: each app then gets its own database there (see tests/support/stack.py).
STACK_VARIABLE = "SOMA_TEST_STACK"
ON_PRODUCTION_STACK = STACK_VARIABLE in os.environ


def embedded_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"data_dir": data_dir, "api_token": TOKEN, "rate_limit_per_minute": 0}
    if ON_PRODUCTION_STACK:
        from support.stack import production_overrides

        values.update(production_overrides(data_dir))
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]
