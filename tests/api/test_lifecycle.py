"""Data survives restarts; readiness names a failed backend."""

from api_settings import AUTH, SettingsFactory
from fastapi.testclient import TestClient

from somafractalmemory.http_api import create_app


def test_data_survives_a_restart(make_settings: SettingsFactory) -> None:
    settings = make_settings()
    with TestClient(create_app(settings)) as first:
        first.headers.update(AUTH)
        first.post("/store", json={"coord": "1", "payload": {"text": "durable memory"}})
        first.post("/store", json={"coord": "2", "payload": {"text": "deleted memory"}})
        first.post("/link", json={"from_coord": "1", "to_coord": "2"})
        first.post("/store", json={"coord": "3", "payload": {"text": "linked memory"}})
        first.post("/link", json={"from_coord": "1", "to_coord": "3"})
        first.delete("/v1/namespaces/default/memories/2")
    with TestClient(create_app(settings)) as second:
        second.headers.update(AUTH)
        matches = second.post("/recall", json={"query": "memory", "top_k": 5}).json()["matches"]
        assert sorted(m["text"] for m in matches) == ["durable memory", "linked memory"]
        assert second.get("/shortest_path", params={"frm": "1", "to": "3"}).json()["path"] == [[1.0], [3.0]]
        assert second.get("/stats").json()["total_memories"] == 2


def test_readiness_is_503_and_names_the_failed_backend(client: TestClient) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime.service.store.close()  # the document store goes away under a running app
    ready = client.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert body["failed"] == [runtime.service.store.name]
    assert body["backends"][runtime.service.index.name]["ok"] is True
    assert client.get("/health").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_metrics_count_requests_by_route_and_memories_by_type(client: TestClient) -> None:
    client.post("/store", json={"coord": "1", "payload": {}})
    client.put("/v1/namespaces/other/memories/1,2", json={"payload": {}, "type": "semantic"})
    text = client.get("/metrics").text
    assert 'soma_http_requests_total{method="POST",route="/store",status="200"} 1.0' in text
    assert 'route="/v1/namespaces/{namespace}/memories/{coord}"' in text
    assert 'soma_memories{type="semantic"} 1.0' in text  # namespaces only with SOMA_METRICS_NAMESPACES
    assert 'soma_memories{type="episodic"} 1.0' in text
