"""A schema-driven fuzz of the published OpenAPI: whatever the generated input, never a 5xx."""

import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from api_settings import AUTH, embedded_settings
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from somafractalmemory.http_api import create_app


@schemathesis.serializer("application/x-ndjson")
def ndjson_body(_: object, value: object) -> bytes:
    """Import bodies are NDJSON text: send what was generated as the raw stream."""
    return str(value).encode()


app = create_app(embedded_settings(Path(tempfile.mkdtemp(prefix="soma-fuzz-"))))
schema = schemathesis.openapi.from_asgi("/openapi.json", app)


@pytest.fixture(scope="module", autouse=True)
def running_app() -> Iterator[None]:
    """Enter the app's lifespan once, so every generated call meets connected backends."""
    with TestClient(app) as client:
        client.post("/store", json={"coord": "1,2,3", "payload": {"text": "seed"}}, headers=AUTH)
        yield


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_input_gives_a_server_error(case: schemathesis.Case) -> None:
    case.call_and_validate(headers=AUTH, checks=[not_a_server_error])
