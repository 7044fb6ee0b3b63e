"""Delete many by filter and share into another namespace, over /v1 (on both backends: the
production-stack suite runs this file on PostgreSQL)."""

from typing import Any

from api_settings import AUTH, SettingsFactory
from fastapi.testclient import TestClient

from somafractalmemory.http_api import create_app

BASE = "/v1/namespaces/team-a"
OTHER = "/v1/namespaces/team-b"


def seed(client: TestClient) -> None:
    items = [
        {"coord": [1], "payload": {"text": "outage", "source": "ticket"}},
        {"coord": [2], "payload": {"text": "budget", "source": "meeting"}},
        {"coord": [3], "payload": {"text": "login", "source": "ticket"}, "type": "semantic"},
    ]
    assert client.post(f"{BASE}/bulk", json={"items": items}).json()["stored"] == 3


def post(client: TestClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(path, json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_a_dry_run_deletes_nothing(client: TestClient) -> None:
    seed(client)
    answer = post(client, f"{BASE}/delete_many", {"filters": {"source": "ticket"}, "dry_run": True})
    assert answer == {"matched": 2, "coords": [[1.0], [3.0]], "applied": 0, "dry_run": True}
    assert client.get(f"{BASE}/stats").json()["total_memories"] == 3


def test_delete_many_deletes_the_matches_with_their_versions_and_audits_each(client: TestClient) -> None:
    seed(client)
    client.put(f"{BASE}/memories/1", json={"payload": {"text": "outage 2", "source": "ticket"}})
    answer = post(client, f"{BASE}/delete_many", {"filters": {"source": "ticket"}, "type": "episodic"})
    assert answer == {"matched": 1, "coords": [[1.0]], "applied": 1, "dry_run": False}
    assert client.get(f"{BASE}/memories/1").status_code == 404
    assert client.get(f"{BASE}/stats").json()["total_memories"] == 2
    assert client.get(f"{BASE}/audit", params={"limit": 1}).json()["entries"][0]["action"] == "delete"
    client.put(f"{BASE}/memories/1", json={"payload": {"text": "new"}})
    assert client.get(f"{BASE}/memories/1/versions").json()["versions"] == []


def test_a_change_to_many_needs_filters_or_a_type(client: TestClient) -> None:
    seed(client)
    message = (
        "body: Value error, give filters or a type: a change to many memories never applies to a whole "
        "namespace by default"
    )
    for path, body in (
        (f"{BASE}/delete_many", {}),
        (f"{BASE}/delete_many", {"filters": {}, "type": None}),
        (f"{BASE}/share", {"to": "team-b"}),
    ):
        answer = client.post(path, json=body)
        assert (answer.status_code, answer.json()["error"]["message"]) == (422, message)
    assert client.get(f"{BASE}/stats").json()["total_memories"] == 3


def test_share_copies_the_matches_into_another_namespace(client: TestClient) -> None:
    seed(client)
    dry = post(client, f"{BASE}/share", {"to": "team-b", "type": "semantic", "dry_run": True})
    assert (dry["matched"], dry["applied"]) == (1, 0)
    assert client.get(f"{OTHER}/stats").json()["total_memories"] == 0
    answer = post(client, f"{BASE}/share", {"to": "team-b", "filters": {"source": "ticket"}})
    assert answer == {"matched": 2, "coords": [[1.0], [3.0]], "applied": 2, "dry_run": False}
    copied = client.get(f"{OTHER}/memories/3").json()
    assert (copied["namespace"], copied["payload"], copied["type"]) == (
        "team-b",
        {"text": "login", "source": "ticket"},
        "semantic",
    )
    assert client.get(f"{BASE}/stats").json()["total_memories"] == 3
    recall = post(client, f"{OTHER}/recall", {"query": "outage", "ranking": "lexical"})
    assert [hit["memory"]["coord"] for hit in recall["results"]] == [[1.0]]
    actions = [e["action"] for e in client.get(f"{OTHER}/audit").json()["entries"]]
    assert actions == ["share", "share"]


def test_a_share_into_the_namespace_itself_copies_nothing(client: TestClient) -> None:
    seed(client)
    answer = post(client, f"{BASE}/share", {"to": "team-a", "type": "semantic"})
    assert answer == {"matched": 1, "coords": [[3.0]], "applied": 0, "dry_run": False}
    assert client.get(f"{BASE}/memories/3/versions").json()["versions"] == []


def test_more_matches_than_the_scan_budget_are_refused_before_any_change(
    make_settings: SettingsFactory,
) -> None:
    with TestClient(create_app(make_settings(max_scan_rows=100))) as client:
        client.headers.update(AUTH)
        items = [{"coord": [n], "payload": {"text": "t", "source": "ticket"}} for n in range(101)]
        assert client.post(f"{BASE}/bulk", json={"items": items}).json()["stored"] == 101
        answer = client.post(f"{BASE}/delete_many", json={"filters": {"source": "ticket"}})
        assert (answer.status_code, answer.json()["error"]["message"]) == (
            400,
            "more than 100 memories match (SOMA_MAX_SCAN_ROWS): narrow the filters",
        )
        assert client.get(f"{BASE}/stats").json()["total_memories"] == 101
