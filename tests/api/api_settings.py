"""Settings of an app under test: the embedded default in a directory, with a known token."""

from collections.abc import Callable
from pathlib import Path

from somafractalmemory.settings import Settings

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

SettingsFactory = Callable[..., Settings]


def embedded_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"data_dir": data_dir, "api_token": TOKEN, "rate_limit_per_minute": 0}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]
