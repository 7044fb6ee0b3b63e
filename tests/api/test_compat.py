"""Every reference-compatible endpoint answers in its documented shape."""

import asyncio

from fastapi.testclient import TestClient

from soma_operator.builders.pods import http_probe
from somafractalmemory.http_api.routes.health import PING_WAIT_SECONDS, probe

NOTES = {
    "1,0,0": "kubernetes operators reconcile desired state",
    "2,0,0": "the chocolate cake needs more sugar",
    "3,0,0": "sailing boats race across the bay",
}


def seed(client: TestClient) -> None:
    for coord, text in NOTES.items():
        response = client.post("/store", json={"coord": coord, "payload": {"text": text, "tag": coord[0]}})
        assert response.status_code == 200, response.text
        assert response.json() == {"ok": True}


def test_store_and_recall(client: TestClient) -> None:
    seed(client)
    body = client.post("/recall", json={"query": "kubernetes operators", "top_k": 2}).json()
    assert list(body) == ["matches"]
    first = body["matches"][0]
    assert first["text"] == NOTES["1,0,0"]
    assert first["coordinate"] == [1.0, 0.0, 0.0]
    assert first["memory_type"] == "episodic"
    assert len(body["matches"]) == 2


def test_recall_get_with_filters_as_json_string(client: TestClient) -> None:
    seed(client)
    response = client.get("/recall", params={"query": "kubernetes", "top_k": 3, "filters": '{"tag": "2"}'})
    assert response.status_code == 200
    assert [m["text"] for m in response.json()["matches"]] == [NOTES["2,0,0"]]
    assert client.get("/recall", params={"query": "x", "filters": "{not json"}).status_code == 400


def test_remember_assigns_a_coordinate(client: TestClient) -> None:
    body = client.post("/remember", json={"payload": {"text": "a fresh thought"}, "type": "semantic"}).json()
    assert body["ok"] is True
    coord = body["coord"]
    assert len(coord.split(",")) == 3
    recalled = client.post("/recall", json={"query": "fresh thought", "top_k": 1}).json()["matches"][0]
    assert recalled["memory_type"] == "semantic"
    assert ",".join(repr(x) for x in recalled["coordinate"]) == coord
    given = client.post("/remember", json={"payload": {"text": "placed"}, "coord": "5,5"}).json()
    assert given == {"ok": True, "coord": "5.0,5.0"}


def test_store_bulk_is_all_or_nothing(client: TestClient) -> None:
    items = [{"coord": f"{n},1", "payload": {"text": f"bulk {n}"}} for n in range(5)]
    assert client.post("/store_bulk", json={"items": items}).json() == {"stored": 5}
    bad = client.post(
        "/store_bulk", json={"items": [{"coord": "9,9", "payload": {}}, {"coord": "x", "payload": {}}]}
    )
    assert bad.status_code == 422
    assert bad.json()["error"]["message"].startswith("items.1.coord: coordinate component 0 is not a number")
    assert client.get("/stats").json()["total_memories"] == 5


def test_recall_batch(client: TestClient) -> None:
    seed(client)
    body = client.post("/recall_batch", json={"queries": ["cake sugar", "sailing"], "top_k": 1}).json()
    assert [[m["text"] for m in batch] for batch in body["batches"]] == [[NOTES["2,0,0"]], [NOTES["3,0,0"]]]


def test_recall_with_scores_and_hybrid(client: TestClient) -> None:
    seed(client)
    body = client.post("/recall_with_scores", json={"query": "sailing boats", "top_k": 3}).json()
    assert [set(r) for r in body["results"]] == [{"payload", "score"}] * 3
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)
    assert -1.0 <= scores[-1] <= scores[0] <= 1.0 + 1e-6  # plain cosine similarities

    def cake_score(boost: float) -> tuple[int, float]:
        """The cake memory's rank and score for 'dessert' with the term 'cake' weighed by ``boost``."""
        results = client.post(
            "/hybrid_recall_with_scores",
            json={"query": "dessert", "terms": ["cake"], "boost": boost, "top_k": 3, "exact": False},
        ).json()["results"]
        [rank] = [n for n, r in enumerate(results) if r["payload"]["text"] == NOTES["2,0,0"]]
        return rank, results[rank]["score"]

    unboosted, boosted = cake_score(0.0), cake_score(2.0)
    assert unboosted[0] > 0 and boosted[0] == 0  # the term lifts the cake memory to the top
    assert boosted[1] > unboosted[1]
    flagged = client.post("/recall_with_scores", json={"query": "cake", "top_k": 1, "hybrid": True}).json()
    assert flagged["results"][0]["payload"]["text"] == NOTES["2,0,0"]


def test_keyword_search(client: TestClient) -> None:
    seed(client)
    exact = client.post("/keyword_search", json={"term": "1"}).json()
    assert [r["text"] for r in exact["results"]] == [NOTES["1,0,0"]]
    substring = client.post("/keyword_search", json={"term": "CAKE", "exact": False}).json()
    assert [r["text"] for r in substring["results"]] == [NOTES["2,0,0"]]
    sensitive = client.post(
        "/keyword_search", json={"term": "CAKE", "exact": False, "case_sensitive": True}
    ).json()
    assert sensitive == {"results": []}


def test_recall_with_context(client: TestClient) -> None:
    seed(client)
    body = client.post(
        "/recall_with_context", json={"query": "race", "context": {"topic": "boats bay"}, "top_k": 1}
    ).json()
    assert [r["text"] for r in body["results"]] == [NOTES["3,0,0"]]


def test_range(client: TestClient) -> None:
    seed(client)
    body = client.get("/range", params={"min": "0,0,0", "max": "2,1,1"}).json()
    assert body == {"coords": [[1.0, 0.0, 0.0], [2.0, 0.0, 0.0]]}
    assert client.get("/range", params={"min": "0,0,0", "max": "2,1,1", "type": "semantic"}).json() == {
        "coords": []
    }


def test_link_neighbors_shortest_path(client: TestClient) -> None:
    seed(client)
    assert client.post(
        "/link", json={"from_coord": "1,0,0", "to_coord": "2,0,0", "type": "related", "weight": 1.0}
    ).json() == {"ok": True}
    client.post("/link", json={"from_coord": "2,0,0", "to_coord": "3,0,0"})
    body = client.get("/neighbors", params={"coord": "1,0,0"}).json()
    [[coord, edge]] = body["neighbors"]
    assert coord == [2.0, 0.0, 0.0]
    assert edge["to"] == [2.0, 0.0, 0.0] and edge["type"] == "related" and edge["weight"] == 1.0
    assert isinstance(edge["timestamp"], float)
    path = client.get("/shortest_path", params={"frm": "1,0,0", "to": "3,0,0"}).json()
    assert path == {"path": [[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [3.0, 0.0, 0.0]]}
    assert client.get("/shortest_path", params={"frm": "3,0,0", "to": "1,0,0"}).json() == {"path": []}
    assert client.get("/neighbors", params={"coord": "1,0,0", "link_type": "other"}).json() == {
        "neighbors": []
    }


def test_unknown_graph_nodes_are_404(client: TestClient) -> None:
    seed(client)
    assert client.post("/link", json={"from_coord": "1,0,0", "to_coord": "8,8,8"}).status_code == 404
    assert client.get("/neighbors", params={"coord": "8,8,8"}).status_code == 404
    missing = client.get("/shortest_path", params={"frm": "8,8,8", "to": "1,0,0"})
    assert missing.status_code == 404
    assert "8.0" in missing.json()["detail"]


def test_stats(client: TestClient) -> None:
    seed(client)
    client.post("/store", json={"coord": "9", "payload": {"text": "fact"}, "type": "semantic"})
    assert client.get("/stats").json() == {"total_memories": 4, "episodic": 3, "semantic": 1}


BOOLEANS = {"kv_store": True, "vector_store": True, "graph_store": True, "prediction_provider": True}


def test_health_endpoints_are_open(client: TestClient) -> None:
    client.headers.pop("Authorization")
    assert client.get("/healthz").json() == {"status": "ok", **BOOLEANS}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    backends = body.pop("backends")
    assert body == {"status": "ready", "failed": [], **BOOLEANS}
    assert backends and all(state == {"ok": True} for state in backends.values())
    health = client.get("/health").json()
    assert health == {**BOOLEANS, "backends": dict.fromkeys(backends, True)}
    assert client.get("/metrics").status_code == 200
    assert client.get("/stats").status_code == 401


def test_a_backend_that_does_not_answer_in_time_is_down_for_the_probe(client: TestClient) -> None:
    """A probe waits at most its budget for each backend (all at once), so it answers inside the kubelet's
    probe timeout even while a backend hangs."""
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    names = [backend.name for backend in runtime.backends]

    def states(seconds: float) -> dict[str, dict[str, object]]:
        report = asyncio.run(probe(runtime, seconds))
        return {name: report[name] for name in names}

    assert states(0) == {key: {"ok": False, "error": "no answer within 0 s"} for key in names}
    assert http_probe("/readyz", 1, period=5, failures=2)["timeoutSeconds"] > PING_WAIT_SECONDS
    assert states(PING_WAIT_SECONDS) == {key: {"ok": True} for key in names}
