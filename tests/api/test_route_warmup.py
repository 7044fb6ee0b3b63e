"""The routes are prepared in the lifespan, before the server takes a request (http_api/route_warmup.py).

FastAPI prepares an included router's routes (their parameter models) the first time a request is matched
against them; these tests pin that upstream fact, and that the lifespan leaves nothing of it to a
client's first request.
"""

from collections.abc import Iterator

import anyio
import fastapi.routing
import pytest
from api_settings import AUTH, SettingsFactory
from fastapi.testclient import TestClient

from somafractalmemory.http_api import application, create_app, route_warmup

BULK = {"items": [{"coord": [1, 2, 3], "payload": {"text": "first after a start"}}]}


@pytest.fixture
def preparations(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The routes FastAPI prepares, by path, as it prepares them."""
    prepared: list[str] = []
    original = fastapi.routing._EffectiveRouteContext.from_api_route

    def counted(*args: object, **kwargs: object) -> object:
        context = original(*args, **kwargs)
        prepared.append(context.original_route.path)  # type: ignore[attr-defined]
        return context

    monkeypatch.setattr(fastapi.routing._EffectiveRouteContext, "from_api_route", counted)
    yield prepared


def test_fastapi_prepares_a_routers_routes_on_the_first_request_matched_against_them(
    make_settings: SettingsFactory, preparations: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    async def nothing(app: fastapi.FastAPI) -> int:
        return 404

    monkeypatch.setattr(application, "prepare_routes", nothing)
    with TestClient(create_app(make_settings())) as client:
        assert preparations == []
        response = client.post("/v1/namespaces/n/bulk", json=BULK, headers=AUTH)
        assert response.status_code == 200
        assert "/v1/namespaces/{namespace}/bulk" in preparations


def test_the_lifespan_prepares_every_route_so_the_first_request_prepares_none(
    make_settings: SettingsFactory, preparations: list[str]
) -> None:
    with TestClient(create_app(make_settings())) as client:
        ready = len(preparations)
        assert "/v1/namespaces/{namespace}/bulk" in preparations
        assert "/healthz" in preparations and "/store_bulk" in preparations  # the other routers too
        response = client.post("/v1/namespaces/n/bulk", json=BULK, headers=AUTH)
        assert response.status_code == 200 and response.json()["stored"] == 1
        assert len(preparations) == ready


def test_the_warmup_request_is_one_no_route_answers(make_settings: SettingsFactory) -> None:
    app = create_app(make_settings())
    with TestClient(app):
        assert anyio.run(route_warmup.prepare_routes, app) == 404
