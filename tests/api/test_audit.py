"""The audit log over /v1: every change is attributed to the caller's token id, never the token; the log
is paged, per namespace and per memory, and bounded. Run on the embedded default here, and on
PostgreSQL by the production-stack suite."""

import hashlib
import itertools
from typing import Any

from api_settings import AUTH, TOKEN, SettingsFactory
from fastapi.testclient import TestClient

from somafractalmemory.http_api import create_app

BASE = "/v1/namespaces/team-a"
ACTOR = "token:" + hashlib.sha256(TOKEN.encode()).hexdigest()[:16]


def log(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get(f"{BASE}/audit", params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def actions(client: TestClient, **params: Any) -> list[tuple[str, list[float]]]:
    return [(e["action"], e["coord"]) for e in log(client, **params)["entries"]]


def test_every_change_is_logged_newest_first(client: TestClient) -> None:
    client.put(f"{BASE}/memories/1", json={"payload": {"text": "a", "predicted_outcome": "x"}})
    client.post(f"{BASE}/bulk", json={"items": [{"coord": [2], "payload": {"text": "b"}}]})
    client.put(f"{BASE}/memories/1", json={"payload": {"text": "a2"}})
    client.post(f"{BASE}/memories/1/versions/1/restore")
    client.put(f"{BASE}/memories/2/importance", json={"importance": 0.9})
    client.post(f"{BASE}/memories/1/outcome", json={"outcome": "y"})
    client.delete(f"{BASE}/memories/2")
    client.post(f"{BASE}/import", content=b'{"kind": "memory", "coord": [3], "payload": {"t": 1}}\n')
    entries = log(client)["entries"]
    corrective = entries[3]["coord"]
    assert entries[2]["to"] == corrective
    assert [(e["action"], e["coord"]) for e in entries] == [
        ("import", [3.0]),
        ("delete", [2.0]),
        ("link", [1.0]),  # from the mispredicted memory to its corrective one
        ("store", corrective),  # the corrective memory of the misprediction
        ("report_outcome", [1.0]),
        ("set_importance", [2.0]),
        ("restore_version", [1.0]),
        ("store", [1.0]),
        ("store", [2.0]),
        ("store", [1.0]),
    ]
    assert {e["actor"] for e in entries} == {ACTOR}
    assert [e["entry"] for e in entries] == sorted((e["entry"] for e in entries), reverse=True)
    assert all(later["at"] >= earlier["at"] for later, earlier in itertools.pairwise(entries))


def test_the_token_itself_is_never_logged(client: TestClient) -> None:
    client.put(f"{BASE}/memories/1", json={"payload": {"text": "a"}})
    answer = client.get(f"{BASE}/audit")
    assert TOKEN not in answer.text
    assert answer.json()["entries"][0]["actor"] == ACTOR


def test_nothing_deleted_is_nothing_logged(client: TestClient) -> None:
    assert client.delete(f"{BASE}/memories/9").status_code == 404
    assert client.put(f"{BASE}/memories/9/importance", json={"importance": 0.1}).status_code == 404
    assert log(client) == {"entries": [], "next_before": None}


def test_the_log_of_one_memory(client: TestClient) -> None:
    client.put(f"{BASE}/memories/1", json={"payload": {"text": "a"}})
    client.put(f"{BASE}/memories/2", json={"payload": {"text": "b"}})
    client.delete(f"{BASE}/memories/1")
    assert actions(client, coord="1") == [("delete", [1.0]), ("store", [1.0])]


def test_pages_follow_next_before(client: TestClient) -> None:
    for n in range(5):
        client.put(f"{BASE}/memories/{n}", json={"payload": {"n": n}})
    first = log(client, limit=2)
    assert [e["coord"] for e in first["entries"]] == [[4.0], [3.0]]
    second = log(client, limit=2, before=first["next_before"])
    assert [e["coord"] for e in second["entries"]] == [[2.0], [1.0]]
    last = log(client, limit=2, before=second["next_before"])
    assert ([e["coord"] for e in last["entries"]], last["next_before"]) == ([[0.0]], None)


def test_namespaces_have_their_own_log(client: TestClient) -> None:
    client.put(f"{BASE}/memories/1", json={"payload": {"text": "a"}})
    other = client.get("/v1/namespaces/team-b/audit").json()
    assert other == {"entries": [], "next_before": None}


def test_the_log_keeps_its_newest_entries(make_settings: SettingsFactory) -> None:
    with TestClient(create_app(make_settings(audit_retention=3))) as client:
        client.headers.update(AUTH)
        for n in range(5):
            client.put(f"{BASE}/memories/{n}", json={"payload": {"n": n}})
        client.put("/v1/namespaces/team-b/memories/1", json={"payload": {"n": 9}})
        assert [e["coord"] for e in log(client)["entries"]] == [[4.0], [3.0]]


def test_a_retention_of_zero_keeps_no_log(make_settings: SettingsFactory) -> None:
    with TestClient(create_app(make_settings(audit_retention=0))) as client:
        client.headers.update(AUTH)
        client.put(f"{BASE}/memories/1", json={"payload": {"n": 1}})
        assert log(client)["entries"] == []


def test_bad_pages_are_refused(client: TestClient) -> None:
    expected = {
        "limit=0": "query.limit: Input should be greater than or equal to 1",
        "limit=1001": "query.limit: Input should be less than or equal to 1000",
        "before=0": "query.before: Input should be greater than or equal to 1",
    }
    for query, message in expected.items():
        answer = client.get(f"{BASE}/audit?{query}")
        assert (answer.status_code, answer.json()["error"]["message"]) == (422, message)


def test_the_log_needs_the_token(client: TestClient) -> None:
    assert client.get(f"{BASE}/audit", headers={"Authorization": ""}).status_code == 401


def test_writes_through_the_reference_routes_are_attributed_to_the_token(client: TestClient) -> None:
    assert client.post("/store", json={"coord": "1,2", "payload": {"text": "a"}}).status_code == 200
    assert (
        client.post("/store_bulk", json={"items": [{"coord": "3,4", "payload": {"t": 1}}]}).status_code == 200
    )
    entries = client.get("/v1/namespaces/default/audit").json()["entries"]
    assert [(e["action"], e["coord"], e["actor"]) for e in entries] == [
        ("store", [3.0, 4.0], ACTOR),
        ("store", [1.0, 2.0], ACTOR),
    ]
