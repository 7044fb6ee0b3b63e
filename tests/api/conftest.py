"""The API tests run against a real app in-process. ``stack`` picks the backends: the embedded default
here; the production stack (real PostgreSQL, Redis, Qdrant) is added by ``support.stacks`` when present."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from somafractalmemory.http_api import create_app
from somafractalmemory.settings import Settings

TOKEN = "test-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}

SettingsFactory = Callable[..., Settings]


def embedded_settings(data_dir: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"data_dir": data_dir, "api_token": TOKEN, "rate_limit_per_minute": 0}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def make_settings(tmp_path: Path) -> SettingsFactory:
    def factory(**overrides: object) -> Settings:
        return embedded_settings(tmp_path, **overrides)

    return factory


@pytest.fixture
def client(make_settings: SettingsFactory) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings())) as test_client:
        test_client.headers.update(AUTH)
        yield test_client
