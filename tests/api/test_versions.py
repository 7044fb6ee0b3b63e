"""Memory versions over /v1: each replace keeps the content it overwrote, bounded per memory; a version
can be restored. Run on the embedded default here, and on PostgreSQL by the production-stack suite."""

from typing import Any

from api_settings import AUTH, SettingsFactory
from fastapi.testclient import TestClient

from somafractalmemory.http_api import create_app

BASE = "/v1/namespaces/team-a"
MEMORY = f"{BASE}/memories/1,2"


def put(client: TestClient, payload: dict[str, Any], memory_type: str = "episodic") -> dict[str, Any]:
    response = client.put(MEMORY, json={"payload": payload, "type": memory_type})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def history(client: TestClient, path: str = MEMORY) -> list[dict[str, Any]]:
    response = client.get(f"{path}/versions")
    assert response.status_code == 200, response.text
    versions: list[dict[str, Any]] = response.json()["versions"]
    return versions


def test_each_replace_keeps_the_content_it_overwrote(client: TestClient) -> None:
    first = put(client, {"text": "draft", "importance": 0.2})
    second = put(client, {"text": "final"}, "semantic")
    assert history(client) == [
        {
            "number": 1,
            "payload": {"text": "draft", "importance": 0.2},
            "type": "episodic",
            "importance": 0.2,
            "updated_at": first["updated_at"],
            "replaced_at": second["updated_at"],
        }
    ]
    answer = client.get(f"{MEMORY}/versions").json()
    assert (answer["namespace"], answer["coord"]) == ("team-a", [1.0, 2.0])


def test_a_new_memory_has_no_versions(client: TestClient) -> None:
    put(client, {"text": "only"})
    assert history(client) == []


def test_versions_are_newest_first_and_bounded(make_settings: SettingsFactory) -> None:
    with TestClient(create_app(make_settings(max_versions=3))) as client:
        client.headers.update(AUTH)
        for n in range(6):
            put(client, {"n": n})
        kept = history(client)
    assert [v["number"] for v in kept] == [5, 4, 3]
    assert [v["payload"] for v in kept] == [{"n": 4}, {"n": 3}, {"n": 2}]


def test_no_versions_are_kept_when_the_bound_is_zero(make_settings: SettingsFactory) -> None:
    with TestClient(create_app(make_settings(max_versions=0))) as client:
        client.headers.update(AUTH)
        put(client, {"n": 1})
        put(client, {"n": 2})
        assert history(client) == []


def test_a_bulk_replace_keeps_versions_too(client: TestClient) -> None:
    put(client, {"text": "one"})
    bulk = client.post(f"{BASE}/bulk", json={"items": [{"coord": [1, 2], "payload": {"text": "two"}}]})
    assert bulk.json()["stored"] == 1
    assert [v["payload"] for v in history(client)] == [{"text": "one"}]


def test_restore_makes_a_version_current_and_keeps_the_replaced_content(client: TestClient) -> None:
    first = put(client, {"text": "the meeting is on Monday"})
    put(client, {"text": "the meeting is on Friday"}, "semantic")
    restored = client.post(f"{MEMORY}/versions/1/restore")
    assert restored.status_code == 200, restored.text
    body = restored.json()
    assert body["payload"] == {"text": "the meeting is on Monday"}
    assert body["type"] == "episodic"
    assert body["created_at"] == first["created_at"]
    assert client.get(MEMORY).json()["payload"] == {"text": "the meeting is on Monday"}
    kept = history(client)
    assert [(v["number"], v["payload"]["text"], v["type"]) for v in kept] == [
        (2, "the meeting is on Friday", "semantic"),
        (1, "the meeting is on Monday", "episodic"),
    ]
    assert kept[0]["replaced_at"] == body["updated_at"]


def test_a_restored_memory_is_recalled_by_its_restored_content(client: TestClient) -> None:
    put(client, {"text": "penguins live in Antarctica"})
    put(client, {"text": "volcanoes erupt lava"})
    client.post(f"{MEMORY}/versions/1/restore")
    recall = client.post(f"{BASE}/recall", json={"query": "penguins Antarctica", "ranking": "dense"})
    assert [hit["memory"]["payload"]["text"] for hit in recall.json()["results"]] == [
        "penguins live in Antarctica"
    ]
    lexical = client.post(f"{BASE}/recall", json={"query": "volcanoes", "ranking": "lexical"})
    assert lexical.json()["results"] == []


def test_delete_removes_the_versions(client: TestClient) -> None:
    put(client, {"text": "old"})
    put(client, {"text": "new"})
    assert client.delete(MEMORY).status_code == 204
    put(client, {"text": "again"})
    assert history(client) == []


def test_an_unknown_version_is_404_naming_the_kept_ones(client: TestClient) -> None:
    put(client, {"n": 1})
    put(client, {"n": 2})
    missing = client.post(f"{MEMORY}/versions/7/restore")
    assert missing.status_code == 404
    assert missing.json()["error"]["message"] == (
        "memory [1.0, 2.0] in namespace 'team-a' has no version 7 (kept: 1)"
    )


def test_versions_of_a_missing_memory_are_404(client: TestClient) -> None:
    for response in (
        client.get(f"{BASE}/memories/9,9/versions"),
        client.post(f"{BASE}/memories/9,9/versions/1/restore"),
    ):
        assert response.status_code == 404
        assert response.json()["error"]["message"] == (
            "no memory at coordinate [9.0, 9.0] in namespace 'team-a'"
        )


def test_a_version_number_below_one_is_a_client_error(client: TestClient) -> None:
    put(client, {"n": 1})
    expected = {
        "0": "path.number: Input should be greater than or equal to 1",
        "x": "path.number: Input should be a valid integer, unable to parse string as an integer",
    }
    for number, message in expected.items():
        response = client.post(f"{MEMORY}/versions/{number}/restore")
        assert response.status_code == 422
        assert response.json()["error"]["message"] == message
    assert client.get(MEMORY).json()["payload"] == {"n": 1}


def test_namespaces_keep_their_own_versions(client: TestClient) -> None:
    put(client, {"text": "a1"})
    put(client, {"text": "a2"})
    other = "/v1/namespaces/team-b/memories/1,2"
    client.put(other, json={"payload": {"text": "b1"}})
    assert history(client, other) == []
    assert [v["payload"] for v in history(client)] == [{"text": "a1"}]
