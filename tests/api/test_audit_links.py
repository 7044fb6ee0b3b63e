"""Links in the audit log over HTTP: the /v1 route and the reference's /link attribute the link to the
caller's token id, name both memories (``coord`` where it starts, ``to`` where it points), and a memory's
log lists the links to it as well as its own changes. Run on the embedded default."""

import hashlib
from typing import Any

from api_settings import AUTH, TOKEN, SettingsFactory
from fastapi.testclient import TestClient

from somafractalmemory.http_api import create_app

BASE = "/v1/namespaces/team-a"
ACTOR = "token:" + hashlib.sha256(TOKEN.encode()).hexdigest()[:16]


def entries(client: TestClient, base: str = BASE, **params: Any) -> list[tuple[str, list[float], Any]]:
    response = client.get(f"{base}/audit", params=params)
    assert response.status_code == 200, response.text
    found = response.json()["entries"]
    assert {e["actor"] for e in found} <= {ACTOR}
    return [(e["action"], e["coord"], e["to"]) for e in found]


def test_a_v1_link_is_logged_with_both_memories(client: TestClient) -> None:
    for n in (1, 2, 3):
        client.put(f"{BASE}/memories/{n}", json={"payload": {"text": f"m{n}"}})
    answer = client.put(f"{BASE}/links", json={"from": [1], "to": [2], "type": "cites", "weight": 0.5})
    assert answer.status_code == 200, answer.text
    client.put(f"{BASE}/links", json={"from": [3], "to": [1]})
    assert entries(client) == [
        ("link", [3.0], [1.0]),
        ("link", [1.0], [2.0]),
        ("store", [3.0], None),
        ("store", [2.0], None),
        ("store", [1.0], None),
    ]
    # The log of a memory: its own changes and the links from it and to it.
    assert entries(client, coord="1") == [
        ("link", [3.0], [1.0]),
        ("link", [1.0], [2.0]),
        ("store", [1.0], None),
    ]
    assert entries(client, coord="2") == [("link", [1.0], [2.0]), ("store", [2.0], None)]
    body = client.get(f"{BASE}/audit", params={"limit": 1}).json()
    assert body["entries"][0]["actor"] == ACTOR
    assert TOKEN not in client.get(f"{BASE}/audit").text


def test_a_link_made_again_is_logged_again(client: TestClient) -> None:
    for n in (1, 2):
        client.put(f"{BASE}/memories/{n}", json={"payload": {"text": f"m{n}"}})
    for weight in (0.2, 0.9):
        assert client.put(f"{BASE}/links", json={"from": [1], "to": [2], "weight": weight}).status_code == 200
    assert entries(client)[:2] == [("link", [1.0], [2.0]), ("link", [1.0], [2.0])]


def test_a_refused_link_logs_nothing(client: TestClient) -> None:
    client.put(f"{BASE}/memories/1", json={"payload": {"text": "m1"}})
    assert client.put(f"{BASE}/links", json={"from": [1], "to": [9]}).status_code == 404
    assert client.put(f"{BASE}/links", json={"from": [1], "to": [1], "weight": -1}).status_code == 400
    assert entries(client) == [("store", [1.0], None)]


def test_the_reference_link_route_is_logged_in_the_default_namespace(make_settings: SettingsFactory) -> None:
    with TestClient(create_app(make_settings(namespace="shared"))) as client:
        client.headers.update(AUTH)
        for coord in ("1,0,0", "2,0,0"):
            assert client.post("/store", json={"coord": coord, "payload": {"text": coord}}).status_code == 200
        linked = client.post("/link", json={"from_coord": "1,0,0", "to_coord": "2,0,0", "type": "related"})
        assert linked.json() == {"ok": True}
        assert client.post("/link", json={"from_coord": "1,0,0", "to_coord": "8,8,8"}).status_code == 404
        assert entries(client, "/v1/namespaces/shared") == [
            ("link", [1.0, 0.0, 0.0], [2.0, 0.0, 0.0]),
            ("store", [2.0, 0.0, 0.0], None),
            ("store", [1.0, 0.0, 0.0], None),
        ]


def test_without_an_audit_log_a_link_is_still_made(make_settings: SettingsFactory) -> None:
    with TestClient(create_app(make_settings(audit_retention=0))) as client:
        client.headers.update(AUTH)
        for n in (1, 2):
            client.put(f"{BASE}/memories/{n}", json={"payload": {"text": f"m{n}"}})
        assert client.put(f"{BASE}/links", json={"from": [1], "to": [2]}).status_code == 200
        assert len(client.get(f"{BASE}/memories/1/links").json()["links"]) == 1
        assert entries(client) == []
