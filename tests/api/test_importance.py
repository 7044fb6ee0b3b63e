"""Importance over /v1: set directly, outcome feedback, the most recent and most important lists. Run on
the embedded default here, and on PostgreSQL by the production-stack suite."""

from typing import Any

from fastapi.testclient import TestClient

BASE = "/v1/namespaces/team-a"


def put(client: TestClient, coord: str, payload: dict[str, Any], memory_type: str = "episodic") -> None:
    response = client.put(f"{BASE}/memories/{coord}", json={"payload": payload, "type": memory_type})
    assert response.status_code == 200, response.text


def coords(response: Any) -> list[list[float]]:
    assert response.status_code == 200, response.text
    return [memory["coord"] for memory in response.json()["results"]]


def test_set_importance_changes_it_and_keeps_the_memory_before_as_a_version(client: TestClient) -> None:
    put(client, "1", {"text": "x", "importance": 0.2})
    answer = client.put(f"{BASE}/memories/1/importance", json={"importance": 0.9})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["importance"], answer.json()["payload"]) == (0.9, {"text": "x", "importance": 0.2})
    assert client.get(f"{BASE}/memories/1").json()["importance"] == 0.9
    versions = client.get(f"{BASE}/memories/1/versions").json()["versions"]
    assert [(v["number"], v["importance"]) for v in versions] == [(1, 0.2)]


def test_importance_outside_0_to_1_is_refused_and_nothing_changes(client: TestClient) -> None:
    put(client, "1", {"text": "x"})
    refusals = [
        (1.5, 400, "importance must be a number from 0 to 1, got 1.5"),
        (-0.1, 400, "importance must be a number from 0 to 1, got -0.1"),
        ("high", 422, "importance: Input should be a valid number"),
        (True, 422, "importance: Input should be a valid number"),
    ]
    for value, status, message in refusals:
        answer = client.put(f"{BASE}/memories/1/importance", json={"importance": value})
        assert (answer.status_code, answer.json()["error"]["message"]) == (status, message)
    assert client.get(f"{BASE}/memories/1").json()["importance"] == 0.5


def test_importance_of_a_missing_memory_is_404(client: TestClient) -> None:
    answer = client.put(f"{BASE}/memories/9/importance", json={"importance": 0.3})
    assert answer.status_code == 404
    assert answer.json()["error"]["message"] == "no memory at coordinate [9.0] in namespace 'team-a'"


def test_an_outcome_that_matches_the_prediction_is_recorded_only(client: TestClient) -> None:
    put(client, "1", {"text": "rain tomorrow", "predicted_outcome": "rain"})
    answer = client.post(f"{BASE}/memories/1/outcome", json={"outcome": "rain"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert (body["mispredicted"], body["corrective"]) == (False, None)
    assert body["memory"]["payload"] == {
        "text": "rain tomorrow",
        "predicted_outcome": "rain",
        "reported_outcome": "rain",
    }
    assert body["memory"]["importance"] == 0.5
    assert client.get(f"{BASE}/stats").json()["total_memories"] == 1


def test_an_outcome_without_a_prediction_is_no_misprediction(client: TestClient) -> None:
    put(client, "1", {"text": "deploy"})
    body = client.post(f"{BASE}/memories/1/outcome", json={"outcome": {"ok": True}}).json()
    assert (body["mispredicted"], body["memory"]["importance"]) == (False, 0.5)
    assert body["memory"]["payload"]["reported_outcome"] == {"ok": True}


def test_a_misprediction_lowers_importance_and_links_a_corrective_memory(client: TestClient) -> None:
    put(client, "1", {"text": "rain tomorrow", "predicted_outcome": "rain", "importance": 0.35})
    body = client.post(f"{BASE}/memories/1/outcome", json={"outcome": "sun"}).json()
    assert body["mispredicted"] is True
    assert body["memory"]["importance"] == 0.25
    corrective = body["corrective"]
    assert corrective["type"] == "semantic"
    assert corrective["payload"] == {
        "fact": "prediction mismatch at [1.0]: expected 'rain', got 'sun'",
        "corrective_for": [1.0],
        "predicted_outcome": "rain",
        "reported_outcome": "sun",
    }
    links = client.get(f"{BASE}/memories/1/links").json()["links"]
    assert [(link["to"], link["type"]) for link in links] == [(corrective["coord"], "corrective")]


def test_importance_never_drops_below_zero(client: TestClient) -> None:
    put(client, "1", {"text": "x", "predicted_outcome": 1, "importance": 0.05})
    body = client.post(f"{BASE}/memories/1/outcome", json={"outcome": 2}).json()
    assert body["memory"]["importance"] == 0.0


def test_an_outcome_needs_an_outcome_and_a_memory(client: TestClient) -> None:
    put(client, "1", {"text": "x"})
    empty = client.post(f"{BASE}/memories/1/outcome", json={})
    assert (empty.status_code, empty.json()["error"]["message"]) == (422, "outcome: Field required")
    missing = client.post(f"{BASE}/memories/9/outcome", json={"outcome": "x"})
    assert missing.status_code == 404


def test_recent_lists_last_written_first(client: TestClient) -> None:
    put(client, "1", {"text": "a"})
    put(client, "2", {"text": "b"}, "semantic")
    put(client, "3", {"text": "c"})
    put(client, "1", {"text": "a again"})
    assert coords(client.get(f"{BASE}/recent")) == [[1.0], [3.0], [2.0]]
    assert coords(client.get(f"{BASE}/recent", params={"limit": 2})) == [[1.0], [3.0]]
    assert coords(client.get(f"{BASE}/recent", params={"type": "semantic"})) == [[2.0]]


def test_important_lists_most_important_first_then_last_written(client: TestClient) -> None:
    put(client, "1", {"text": "a", "importance": 0.3})
    put(client, "2", {"text": "b", "importance": 0.9})
    put(client, "3", {"text": "c", "importance": 0.3})
    put(client, "4", {"text": "d", "importance": 0.6}, "semantic")
    assert coords(client.get(f"{BASE}/important")) == [[2.0], [4.0], [3.0], [1.0]]
    assert coords(client.get(f"{BASE}/important", params={"limit": 1})) == [[2.0]]
    assert coords(client.get(f"{BASE}/important", params={"type": "episodic", "limit": 2})) == [[2.0], [3.0]]
    client.put(f"{BASE}/memories/1/importance", json={"importance": 1.0})
    assert coords(client.get(f"{BASE}/important", params={"limit": 1})) == [[1.0]]


def test_lists_are_bounded_and_per_namespace(client: TestClient) -> None:
    put(client, "1", {"text": "a"})
    assert coords(client.get("/v1/namespaces/team-b/recent")) == []
    for limit in (0, 1001):
        assert client.get(f"{BASE}/recent", params={"limit": limit}).status_code == 422
    other = client.get(f"{BASE}/important", params={"type": "other"})
    assert (other.status_code, other.json()["error"]["message"]) == (
        400,
        "type must be 'episodic' or 'semantic', got 'other'",
    )
