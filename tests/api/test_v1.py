"""The /v1 resource API: namespaces, get/put/delete, per-item bulk, filtered recall, graph, NDJSON."""

import json
from typing import Any

from fastapi.testclient import TestClient

BASE = "/v1/namespaces/team-a"


def test_put_get_delete(client: TestClient) -> None:
    put = client.put(f"{BASE}/memories/1,2,3", json={"payload": {"text": "hello"}, "type": "semantic"})
    assert put.status_code == 200
    resource = put.json()
    assert resource["namespace"] == "team-a" and resource["coord"] == [1.0, 2.0, 3.0]
    assert resource["type"] == "semantic" and resource["payload"] == {"text": "hello"}
    assert client.get(f"{BASE}/memories/1.0,2,3").json()["payload"] == {"text": "hello"}
    assert client.delete(f"{BASE}/memories/1,2,3").status_code == 204
    assert client.get(f"{BASE}/memories/1,2,3").status_code == 404
    assert client.delete(f"{BASE}/memories/1,2,3").status_code == 404


def test_namespaces_are_isolated(client: TestClient) -> None:
    client.put(f"{BASE}/memories/1", json={"payload": {"text": "team a secret"}})
    other = client.post("/v1/namespaces/team-b/recall", json={"query": "team a secret"}).json()
    assert other == {"results": [], "ranking": "fused"}
    assert client.get("/v1/namespaces/team-b/memories/1").status_code == 404
    assert client.get("/stats").json()["total_memories"] == 0  # the compatibility namespace is separate


def test_create_assigns_coordinate(client: TestClient) -> None:
    created = client.post(f"{BASE}/memories", json={"payload": {"text": "x"}})
    assert created.status_code == 201
    coord = created.json()["coord"]
    assert client.get(f"{BASE}/memories/" + ",".join(map(repr, coord))).status_code == 200
    placed = client.post(f"{BASE}/memories", json={"payload": {"text": "y"}, "coord": [4, 5]})
    assert placed.json()["coord"] == [4.0, 5.0]


def test_bulk_reports_each_item(client: TestClient) -> None:
    body = client.post(
        f"{BASE}/bulk",
        json={
            "items": [
                {"coord": "1", "payload": {"text": "one"}},
                {"coord": "one", "payload": {"text": "bad coordinate"}},
                {"coord": [2], "payload": "not an object"},
                {"coord": [3], "payload": {"text": "three"}, "type": "nonsense"},
                {"coord": [4], "payload": {"text": "four"}, "type": "semantic"},
            ]
        },
    ).json()
    assert body["stored"] == 2 and body["failed"] == 3
    assert [r["ok"] for r in body["results"]] == [True, False, False, False, True]
    assert body["results"][1]["error"].startswith("coord.string: coordinate component 0 is not a number")
    assert body["results"][2]["error"] == "payload: Input should be a valid dictionary"
    assert body["results"][3]["error"] == "type must be 'episodic' or 'semantic', got 'nonsense'"
    assert client.get(f"{BASE}/stats").json() == {
        "total_memories": 2,
        "episodic": 1,
        "semantic": 1,
        "embedders": {"hashing:rules-1b13d4b8:384": 2},
    }


def test_recall_with_operator_filters(client: TestClient) -> None:
    items = [{"coord": [n], "payload": {"text": f"kubernetes note {n}", "priority": n}} for n in range(40)]
    client.post(f"{BASE}/bulk", json={"items": items})
    body = client.post(
        f"{BASE}/recall",
        json={"query": "kubernetes", "top_k": 5, "filters": {"priority": {"$gte": 30, "$lt": 38}}},
    ).json()
    priorities = [r["memory"]["payload"]["priority"] for r in body["results"]]
    assert len(priorities) == 5 and all(30 <= p < 38 for p in priorities)
    assert all(isinstance(r["score"], float) for r in body["results"])
    bad = client.post(f"{BASE}/recall", json={"query": "k", "filters": {"priority": {"$regex": "x"}}})
    assert bad.status_code == 400 and "$regex" in bad.json()["error"]["message"]


def test_hybrid_and_search(client: TestClient) -> None:
    client.put(f"{BASE}/memories/1", json={"payload": {"text": "tea ceremony", "ticket": "OPS-7"}})
    client.put(f"{BASE}/memories/2", json={"payload": {"text": "operations runbook"}})
    hybrid = client.post(
        f"{BASE}/recall", json={"query": "operations", "hybrid": True, "terms": ["OPS-7"], "top_k": 1}
    ).json()
    assert hybrid["results"][0]["memory"]["coord"] == [1.0]
    found = client.post(f"{BASE}/search", json={"term": "runbook"}).json()
    assert [m["coord"] for m in found["results"]] == [[2.0]]


def test_recall_ranks_as_asked_and_says_how(client: TestClient) -> None:
    client.put(f"{BASE}/memories/1", json={"payload": {"text": "sailing boats at dawn"}})
    client.put(f"{BASE}/memories/2", json={"payload": {"text": "boats"}})

    def recall(**body: object) -> dict[str, Any]:
        response = client.post(f"{BASE}/recall", json={"query": "sailing boats", **body})
        assert response.status_code == 200
        return response.json()  # type: ignore[no-any-return]

    fused = recall()
    assert fused["ranking"] == "fused"
    # the defaults: dense weight 1, lexical weight 3, k 20; both legs agree on the order
    assert [(r["memory"]["coord"], r["score"]) for r in fused["results"]] == [
        ([1.0], 1 / 21 + 3 / 21),
        ([2.0], 1 / 22 + 3 / 22),
    ]
    dense = recall(ranking="dense")
    assert dense["ranking"] == "dense" and dense["results"][0]["memory"]["coord"] == [1.0]
    assert 0 < dense["results"][1]["score"] < dense["results"][0]["score"] <= 1.0 + 1e-6
    lexical = recall(ranking="lexical", top_k=1)
    assert lexical["ranking"] == "lexical" and [r["memory"]["coord"] for r in lexical["results"]] == [[1.0]]
    assert recall(hybrid=True, ranking="fused")["ranking"] == "fused"
    bad = client.post(f"{BASE}/recall", json={"query": "x", "ranking": "bm25"})
    assert bad.status_code == 422
    assert bad.json()["error"]["message"] == "ranking: Input should be 'fused', 'dense' or 'lexical'"
    for hybrid in (False, True):  # refused by the schema, as the document states, used or not
        negative = client.post(f"{BASE}/recall", json={"query": "x", "hybrid": hybrid, "boost": -1})
        assert negative.status_code == 422
        assert negative.json()["error"]["message"] == "boost: Input should be greater than or equal to 0"
    assert recall(hybrid=True, boost=0)["ranking"] == "fused"
    mixed = client.post(f"{BASE}/recall", json={"query": "x", "hybrid": True, "ranking": "dense"})
    assert mixed.status_code == 400
    assert mixed.json()["error"]["message"] == (
        "hybrid recall always fuses its two legs: ranking 'dense' needs hybrid off"
    )


def test_graph(client: TestClient) -> None:
    for n in range(3):
        client.put(f"{BASE}/memories/{n}", json={"payload": {"text": str(n)}})
    link = client.put(f"{BASE}/links", json={"from": [0], "to": "1", "type": "next", "weight": 0.5})
    assert link.status_code == 200 and link.json()["from"] == [0.0] and link.json()["to"] == [1.0]
    client.put(f"{BASE}/links", json={"from": "1", "to": "2", "type": "next"})
    links = client.get(f"{BASE}/memories/0/links").json()["links"]
    assert [(link["to"], link["type"], link["weight"]) for link in links] == [([1.0], "next", 0.5)]
    assert client.get(f"{BASE}/path", params={"from": "0", "to": "2"}).json() == {
        "path": [[0.0], [1.0], [2.0]],
        "found": True,
    }
    assert client.get(f"{BASE}/path", params={"from": "2", "to": "0"}).json() == {"path": [], "found": False}
    assert client.put(f"{BASE}/links", json={"from": [0], "to": [9]}).status_code == 404


def test_range(client: TestClient) -> None:
    for coord in ("1,1", "2,2", "5,5"):
        client.put(f"{BASE}/memories/{coord}", json={"payload": {}})
    assert client.get(f"{BASE}/range", params={"min": "0,0", "max": "3,3"}).json() == {
        "coords": [[1.0, 1.0], [2.0, 2.0]]
    }


def test_export_import_stream(client: TestClient) -> None:
    client.put(f"{BASE}/memories/1", json={"payload": {"text": "one", "importance": 0.8}})
    client.put(f"{BASE}/memories/2", json={"payload": {"text": "two"}})
    client.put(f"{BASE}/links", json={"from": [1], "to": [2]})
    exported = client.get(f"{BASE}/export")
    assert exported.headers["content-type"].startswith("application/x-ndjson")
    records = [json.loads(line) for line in exported.text.splitlines()]
    assert [r["kind"] for r in records] == ["memory", "memory", "link"]
    body = exported.content + b"\n{broken\n"
    imported = client.post(
        "/v1/namespaces/copy/import", content=body, headers={"content-type": "application/x-ndjson"}
    )
    assert imported.status_code == 200
    report = imported.json()
    assert (report["memories"], report["links"]) == (2, 1)
    assert report["errors"] == [report["errors"][0]] and report["errors"][0].startswith("line 5")
    copy = client.get("/v1/namespaces/copy/memories/1").json()
    assert copy["payload"] == {"text": "one", "importance": 0.8} and copy["importance"] == 0.8
    assert client.get("/v1/namespaces/copy/path", params={"from": "1", "to": "2"}).json()["found"] is True


def test_bad_namespace_name_is_rejected(client: TestClient) -> None:
    assert client.get("/v1/namespaces/%20bad/stats").status_code == 422
