"""The API tests run against a real app in-process, on the embedded default."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_settings import AUTH, SettingsFactory, embedded_settings
from fastapi.testclient import TestClient

from somafractalmemory.http_api import create_app
from somafractalmemory.settings import Settings


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
