"""The reference service's HTTP tests, and the answers its HTTP API gave, sent to this app.

The first three tests send the requests of the reference's own HTTP-facing tests (its bearer-token check,
its bulk store of ten, its stored-marker smoke test) and check the answers they expected. The rest send the
requests where its answers differed from ours (issue 11) and check the reference's answer, value by value:
per-backend booleans on the probes, the root greeting, ``timestamp`` and ``importance_norm`` on every
recalled payload, the lenient ``type`` and ``top_k``, and the reference's error ``detail`` strings. /v1 stays
strict, and its payloads as stored.
"""

import time
from pathlib import Path
from typing import Any

import pytest
from api_settings import AUTH, SettingsFactory
from fastapi.testclient import TestClient

from somafractalmemory.http_api import create_app

HEALTHY = {"kv_store": True, "vector_store": True, "graph_store": True, "prediction_provider": True}


def memory(client: TestClient, coord: str) -> dict[str, Any]:
    """The memory as /v1 holds it (its created_at is the compatibility surface's timestamp)."""
    response = client.get(f"/v1/namespaces/default/memories/{coord}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def recalled(client: TestClient, **extra: Any) -> dict[str, list[dict[str, Any]]]:
    """One request to each recall-family route, for the query 'harbour': the payloads each answered."""
    body = {"query": "harbour", "top_k": 5, **extra}
    return {
        "POST /recall": client.post("/recall", json=body).json()["matches"],
        "GET /recall": client.get("/recall", params=body).json()["matches"],
        "/recall_batch": client.post("/recall_batch", json={"queries": ["harbour"], **extra}).json()[
            "batches"
        ][0],
        "/recall_with_scores": [
            r["payload"] for r in client.post("/recall_with_scores", json=body).json()["results"]
        ],
        "/hybrid_recall_with_scores": [
            r["payload"] for r in client.post("/hybrid_recall_with_scores", json=body).json()["results"]
        ],
        "/keyword_search": client.post(
            "/keyword_search", json={"term": "harbour", "exact": False, **extra}
        ).json()["results"],
        "/recall_with_context": client.post(
            "/recall_with_context", json={**body, "context": {"place": "harbour"}}
        ).json()["results"],
    }


# --- the reference's own HTTP tests ----------------------------------------------------------------


def test_a_store_needs_the_right_bearer_token(client: TestClient) -> None:
    """The reference's bearer-token test: 401 without the header, 403 with a wrong token, then stored."""
    body = {"coord": "0,0,0", "payload": {"task": "auth-check"}, "type": "episodic"}
    missing = client.post("/store", json=body, headers={"Authorization": ""})
    assert (missing.status_code, missing.json()["detail"]) == (401, "Missing bearer token")
    wrong = client.post("/store", json=body, headers={"Authorization": "Bearer nope"})
    assert (wrong.status_code, wrong.json()["detail"]) == (403, "Invalid token")
    stored = client.post("/store", json=body)
    assert (stored.status_code, stored.json()) == (200, {"ok": True})
    assert client.get("/stats").json() == {"total_memories": 1, "episodic": 1, "semantic": 0}


def test_a_bulk_store_of_ten_is_counted(client: TestClient) -> None:
    """The reference's bulk test: ten items in one request, all stored and counted."""
    items = [{"coord": f"{i},{i},{i}", "payload": {"val": i}, "type": "episodic"} for i in range(10)]
    response = client.post("/store_bulk", json={"items": items})
    assert (response.status_code, response.json()) == (200, {"stored": 10})
    assert client.get("/stats").json() == {"total_memories": 10, "episodic": 10, "semantic": 0}
    assert memory(client, "7,7,7")["payload"] == {"val": 7}


def test_a_stored_marker_is_found_with_every_backend_healthy(client: TestClient) -> None:
    """The reference's smoke test: the backends report healthy, a marker is stored and can be found."""
    assert client.get("/healthz").json() == {"status": "ok", **HEALTHY}
    marker = "consumer-e2e-4f1c"
    stored = client.post(
        "/store", json={"coord": "11,22,33", "payload": {"task": marker, "importance": 9}, "type": "episodic"}
    )
    assert (stored.status_code, stored.json()) == (200, {"ok": True})
    found = client.post("/keyword_search", json={"term": marker}).json()["results"]
    assert found == [
        {
            "task": marker,
            "importance": 9,
            "coordinate": [11.0, 22.0, 33.0],
            "memory_type": "episodic",
            "timestamp": memory(client, "11,22,33")["created_at"],
            "importance_norm": 1.0,
        }
    ]


# --- the root and the probes ----------------------------------------------------------------------


def test_the_root_greets_and_points_at_the_metrics(client: TestClient) -> None:
    response = client.get("/")
    assert (response.status_code, response.json()) == (
        200,
        {"message": "SomaFractalMemory API is running", "metrics": "/metrics"},
    )


def test_the_root_needs_no_token(client: TestClient) -> None:
    response = client.get("/", headers={"Authorization": ""})
    assert (response.status_code, response.json()) == (
        200,
        {"message": "SomaFractalMemory API is running", "metrics": "/metrics"},
    )


def test_liveness_and_readiness_carry_the_reference_booleans(client: TestClient) -> None:
    client.headers.pop("Authorization")
    assert client.get("/healthz").json() == {"status": "ok", **HEALTHY}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert {k: v for k, v in ready.json().items() if k in HEALTHY} == HEALTHY


def test_with_the_document_store_down_its_booleans_are_false(client: TestClient) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime.service.store.close()
    down = {**HEALTHY, "kv_store": False, "graph_store": False}
    ready = client.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert {k: v for k, v in body.items() if k in HEALTHY} == down
    assert (body["status"], body["failed"]) == ("unavailable", [runtime.service.store.name])
    live = client.get("/healthz")
    assert (live.status_code, live.json()) == (200, {"status": "ok", **down})


def test_with_the_vector_index_down_vector_store_is_false(client: TestClient) -> None:
    runtime = client.app.state.runtime  # type: ignore[attr-defined]
    runtime.service.index.close()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    body = ready.json()
    assert {k: v for k, v in body.items() if k in HEALTHY} == {**HEALTHY, "vector_store": False}
    assert body["failed"] == [runtime.service.index.name]
    assert client.get("/healthz").json() == {"status": "ok", **HEALTHY, "vector_store": False}


def test_a_client_librarys_own_failure_is_a_failed_backend_not_a_500(
    make_settings: SettingsFactory, tmp_path: Path
) -> None:
    """A closed local Qdrant raises its library's RuntimeError, not the adapters' BackendUnavailable."""
    with TestClient(create_app(make_settings(qdrant_path=tmp_path / "qdrant"))) as app_client:
        app_client.app.state.runtime.service.index.close()  # type: ignore[attr-defined]
        ready = app_client.get("/readyz")
        assert ready.status_code == 503
        body = ready.json()
        assert (body["failed"], body["vector_store"]) == (["qdrant"], False)
        assert body["backends"]["qdrant"] == {
            "ok": False,
            "error": "RuntimeError: QdrantLocal instance is closed. Please create a new instance.",
        }


# --- recalled payloads ------------------------------------------------------------------------------


def test_every_recalled_payload_carries_timestamp_and_importance_norm(client: TestClient) -> None:
    before = time.time()
    client.post(
        "/store", json={"coord": "1,2,3", "payload": {"text": "the harbour at dawn", "importance": 0.25}}
    )
    created_at = memory(client, "1,2,3")["created_at"]
    assert before <= created_at <= time.time()
    expected = {
        "text": "the harbour at dawn",
        "importance": 0.25,
        "coordinate": [1.0, 2.0, 3.0],
        "memory_type": "episodic",
        "timestamp": created_at,
        "importance_norm": 0.25,
    }
    answers = recalled(client)
    assert answers == {route: [expected] for route in answers}
    assert len(answers) == 7


def test_a_payload_keeps_its_own_timestamp_as_the_reference_did(client: TestClient) -> None:
    client.post("/store", json={"coord": "4", "payload": {"text": "harbour log", "timestamp": 1700000000.5}})
    [found] = client.post("/recall", json={"query": "harbour", "top_k": 1}).json()["matches"]
    assert found["timestamp"] == 1700000000.5


@pytest.mark.parametrize(
    ("importance", "norm"), [(0.8, 0.8), (7, 1.0), (-2, 0.0), ("high", 0.5), (None, 0.5), (True, 0.5)]
)
def test_importance_norm_is_the_importance_in_0_to_1(
    client: TestClient, importance: object, norm: float
) -> None:
    payload = {"text": "harbour"} if importance is None else {"text": "harbour", "importance": importance}
    client.post("/store", json={"coord": "5", "payload": payload})
    [found] = client.post("/recall", json={"query": "harbour", "top_k": 1}).json()["matches"]
    assert found["importance_norm"] == norm


def test_v1_answers_the_payload_as_stored(client: TestClient) -> None:
    client.post("/store", json={"coord": "6", "payload": {"text": "harbour"}})
    [result] = client.post("/v1/namespaces/default/recall", json={"query": "harbour", "top_k": 1}).json()[
        "results"
    ]
    assert result["memory"]["payload"] == {"text": "harbour"}


# --- type and top_k ---------------------------------------------------------------------------------


def test_an_unknown_or_null_type_is_stored_as_episodic(client: TestClient) -> None:
    assert client.post("/store", json={"coord": "1", "payload": {"text": "a"}, "type": "dream"}).json() == {
        "ok": True
    }
    assert client.post("/store", json={"coord": "2", "payload": {"text": "b"}, "type": None}).json() == {
        "ok": True
    }
    remembered = client.post("/remember", json={"payload": {"text": "c"}, "coord": "3", "type": "note"})
    assert remembered.json() == {"ok": True, "coord": "3.0"}
    assert client.get("/stats").json() == {"total_memories": 3, "episodic": 3, "semantic": 0}
    assert [memory(client, c)["type"] for c in ("1", "2", "3")] == ["episodic"] * 3


def test_store_bulk_takes_unknown_and_null_types_as_episodic(client: TestClient) -> None:
    items = [
        {"coord": "1", "payload": {"text": "a"}, "type": "dream"},
        {"coord": "2", "payload": {"text": "b"}, "type": None},
        {"coord": "3", "payload": {"text": "c"}, "type": "semantic"},
    ]
    assert client.post("/store_bulk", json={"items": items}).json() == {"stored": 3}
    assert client.get("/stats").json() == {"total_memories": 3, "episodic": 2, "semantic": 1}


def test_type_filters_read_as_the_reference_read_them(client: TestClient) -> None:
    """/recall and /recall_batch filter an unknown name as episodic and an empty one not at all; the other
    reads filter only on the two names."""
    client.post("/store", json={"coord": "1", "payload": {"text": "harbour event"}, "type": "episodic"})
    client.post("/store", json={"coord": "2", "payload": {"text": "harbour fact"}, "type": "semantic"})

    def texts(payloads: list[dict[str, Any]]) -> list[str]:
        return sorted(p["text"] for p in payloads)

    both = ["harbour event", "harbour fact"]
    unknown = {route: texts(found) for route, found in recalled(client, type="dream").items()}
    assert unknown == {
        "POST /recall": ["harbour event"],
        "GET /recall": ["harbour event"],
        "/recall_batch": ["harbour event"],
        "/recall_with_scores": both,
        "/hybrid_recall_with_scores": both,
        "/keyword_search": both,
        "/recall_with_context": both,
    }
    empty = {route: texts(found) for route, found in recalled(client, type="").items()}
    assert empty == {route: both for route in empty}
    semantic = {route: texts(found) for route, found in recalled(client, type="semantic").items()}
    assert semantic == {route: ["harbour fact"] for route in semantic}
    coords = client.get("/range", params={"min": "0", "max": "9", "type": "dream"}).json()
    assert coords == {"coords": [[1.0], [2.0]]}


@pytest.mark.parametrize("top_k", [0, -3])
def test_top_k_of_zero_or_less_answers_no_matches(client: TestClient, top_k: int) -> None:
    client.post("/store", json={"coord": "1", "payload": {"text": "harbour"}})
    answers = recalled(client, top_k=top_k)
    assert answers == {route: [] for route in answers}
    batch = client.post("/recall_batch", json={"queries": ["harbour", "boats"], "top_k": top_k})
    assert (batch.status_code, batch.json()) == (200, {"batches": [[], []]})
    assert client.get("/recall", params={"query": "harbour", "top_k": top_k}).status_code == 200
    # asking for nothing is still a request checked in full
    blank = client.post("/recall", json={"query": "  ", "top_k": top_k})
    assert (blank.status_code, blank.json()["error"]["message"]) == (400, "query must be a non-empty string")
    operator = client.post("/recall", json={"query": "x", "top_k": top_k, "filters": {"a": {"$nope": 1}}})
    assert operator.status_code == 400 and "$nope" in operator.json()["error"]["message"]


def test_v1_stays_strict_on_type_and_top_k(client: TestClient) -> None:
    unknown = client.put("/v1/namespaces/default/memories/1", json={"payload": {}, "type": "dream"})
    assert unknown.status_code == 400
    assert unknown.json()["detail"] == "type must be 'episodic' or 'semantic', got 'dream'"
    assert (
        client.put("/v1/namespaces/default/memories/1", json={"payload": {}, "type": None}).status_code == 422
    )
    assert client.post("/v1/namespaces/default/recall", json={"query": "x", "top_k": 0}).status_code == 422
    bulk = client.post(
        "/v1/namespaces/default/bulk", json={"items": [{"coord": [1], "payload": {}, "type": "x"}]}
    )
    assert (bulk.json()["stored"], bulk.json()["failed"]) == (0, 1)
    assert client.get("/stats").json()["total_memories"] == 0


# --- error details ----------------------------------------------------------------------------------


def test_a_body_too_large_is_413_request_entity_too_large(make_settings: SettingsFactory) -> None:
    with TestClient(create_app(make_settings(max_body_bytes=1024))) as app_client:
        response = app_client.post(
            "/store", json={"coord": "1", "payload": {"text": "x" * 2048}}, headers=AUTH
        )
        assert response.status_code == 413
        assert response.json() == {
            "detail": "Request entity too large",
            "error": {"code": "payload_too_large", "message": "request body is larger than 1024 bytes"},
        }


def test_a_spent_rate_limit_is_429_rate_limit_exceeded(make_settings: SettingsFactory) -> None:
    with TestClient(create_app(make_settings(rate_limit_per_minute=1))) as app_client:
        assert app_client.get("/stats", headers=AUTH).status_code == 200
        limited = app_client.get("/stats", headers=AUTH)
        assert (limited.status_code, limited.json()["detail"]) == (429, "Rate limit exceeded")
