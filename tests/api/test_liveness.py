"""/healthz answers from the latest probe and never waits on a backend's ping: a store busy with a heavy
write (its lock held) must not slow liveness."""

import threading
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from somafractalmemory.http_api.routes import health

HEALTHY = {"kv_store": True, "vector_store": True, "graph_store": True, "prediction_provider": True}


@pytest.fixture
def release_store_ping(client: TestClient) -> Iterator[threading.Event]:
    """From here on the store's ping blocks until the event is set, as behind a heavy write holding its
    lock (so the latest probe is taken before)."""
    assert client.get("/readyz").status_code == 200  # the latest probe: all up
    store = client.app.state.runtime.service.store  # type: ignore[attr-defined]
    release, original = threading.Event(), store.ping

    def blocked() -> None:
        release.wait(30)
        original()

    store.ping = blocked
    yield release
    release.set()
    store.ping = original


def test_the_first_liveness_probe_takes_the_backends_state(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", **HEALTHY}


def test_liveness_answers_the_latest_probe_while_a_ping_is_blocked(
    client: TestClient, release_store_ping: threading.Event, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(health, "LIVENESS_REFRESH_SECONDS", 0.0)  # every answer finds it stale
    for _ in range(3):
        assert client.get("/healthz").json() == {"status": "ok", **HEALTHY}
    latest = client.app.state.latest_probe  # type: ignore[attr-defined]
    assert latest.refreshing is not None and not latest.refreshing.done()  # one refresh, still blocked


def test_a_stale_report_is_refreshed_in_the_background(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert client.get("/healthz").json()["vector_store"] is True
    client.app.state.runtime.service.index.close()  # type: ignore[attr-defined]
    assert client.get("/healthz").json()["vector_store"] is True  # fresh enough: not probed again
    monkeypatch.setattr(health, "LIVENESS_REFRESH_SECONDS", 0.0)
    client.get("/healthz")  # answers the old report and starts the refresh
    latest = client.app.state.latest_probe  # type: ignore[attr-defined]
    for _ in range(200):
        if latest.refreshing.done():
            break
        threading.Event().wait(0.01)
    assert client.get("/healthz").json() == {"status": "ok", **HEALTHY, "vector_store": False}


def test_liveness_refreshes_every_5_seconds() -> None:
    assert health.LIVENESS_REFRESH_SECONDS == 5.0
