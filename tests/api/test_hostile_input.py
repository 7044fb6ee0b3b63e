"""Hostile and unlucky input: every refusal is a 4xx with a message and stores nothing; whatever is
accepted can be read back (issue 9 findings 1, 2 and 13)."""

import json

import pytest
from fastapi.testclient import TestClient

V1 = "/v1/namespaces/x"
DEPTH = 64
SURROGATE = "\ud800"


def nested(levels: int) -> dict[str, object]:
    value: dict[str, object] = {"leaf": "deep"}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


def raw(client: TestClient, method: str, path: str, body: object) -> "object":
    """Send ``body`` as json.dumps writes it: lone surrogates become ``\\ud800`` escapes, as on the wire."""
    if body is None:
        return client.request(method, path)
    return client.request(
        method, path, content=json.dumps(body), headers={"content-type": "application/json"}
    )


def total(client: TestClient, namespace: str = "x") -> int:
    count: int = client.get(f"/v1/namespaces/{namespace}/stats").json()["total_memories"]
    return count


# --- finding 1: nesting depth -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/store", lambda p: {"coord": "1", "payload": p}),
        ("POST", "/remember", lambda p: {"payload": p}),
        ("POST", "/store_bulk", lambda p: {"items": [{"coord": "1", "payload": p}]}),
        ("PUT", "/v1/namespaces/default/memories/1", lambda p: {"payload": p}),
        ("POST", "/v1/namespaces/default/memories", lambda p: {"payload": p}),
        ("POST", "/v1/namespaces/default/memories", lambda p: {"coord": [1], "payload": p}),
    ],
)
def test_payload_depth_limit_on_every_store(client: TestClient, method: str, path: str, body: object) -> None:
    make = body  # type: ignore[assignment]
    refused = client.request(method, path, json=make(nested(DEPTH + 1)))  # type: ignore[operator]
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["message"].endswith("nests objects and arrays deeper than 64 levels")
    assert total(client, "default") == 0
    stored = client.request(method, path, json=make(nested(DEPTH)))  # type: ignore[operator]
    assert stored.status_code in (200, 201), stored.text
    (memory,) = client.post("/v1/namespaces/default/search", json={"term": "deep"}).json()["results"]
    assert memory["payload"] == nested(DEPTH)
    coord = ",".join(repr(x) for x in memory["coord"])
    assert client.get(f"/v1/namespaces/default/memories/{coord}").json()["payload"] == nested(DEPTH)
    assert client.post("/recall", json={"query": "deep"}).status_code == 200
    assert client.get("/v1/namespaces/default/export").status_code == 200


def test_v1_bulk_reports_a_too_deep_item_on_its_own(client: TestClient) -> None:
    items = [{"coord": [1], "payload": nested(DEPTH)}, {"coord": [2], "payload": nested(DEPTH + 1)}]
    body = client.post(f"{V1}/bulk", json={"items": items}).json()
    assert (body["stored"], body["failed"]) == (1, 1)
    assert body["results"][1]["error"].endswith("deeper than 64 levels")


@pytest.mark.parametrize("payload", [nested(DEPTH + 1), {f"key{SURROGATE}": 1}])
def test_create_without_coordinate_refuses_before_writing(client: TestClient, payload: object) -> None:
    """It used to commit, then fail to serialise its answer (500): every retry added a copy."""
    for _ in range(3):
        response = raw(client, "POST", f"{V1}/memories", {"payload": payload})
        assert response.status_code == 400  # type: ignore[attr-defined]
    assert total(client) == 0


# --- finding 2: lone surrogates -----------------------------------------------------------------


def seed_two(client: TestClient) -> None:
    client.post(
        f"{V1}/bulk", json={"items": [{"coord": [1], "payload": {"t": "a"}}, {"coord": [2], "payload": {}}]}
    )


SURROGATE_CASES = [
    (
        "POST",
        "/store",
        {"coord": "1", "payload": {"t": SURROGATE}},
        400,
        "payload.t holds a lone UTF-16 surrogate",
    ),
    ("POST", "/store", {"coord": "1", "payload": {SURROGATE: 1}}, 400, "a key of payload holds a lone"),
    (
        "POST",
        "/store_bulk",
        {"items": [{"coord": "1", "payload": {"t": [SURROGATE]}}]},
        400,
        "payload.t[0] holds",
    ),
    ("PUT", f"{V1}/memories/1", {"payload": {"t": {"u": SURROGATE}}}, 400, "payload.t.u holds a lone"),
    ("POST", "/recall", {"query": SURROGATE}, 400, "query holds a lone UTF-16 surrogate"),
    (
        "GET",
        f"/recall?query=a&filters={json.dumps({'t': SURROGATE})}",
        None,
        400,
        "the filter on 't' holds a lone",
    ),
    (
        "POST",
        f"{V1}/recall",
        {"query": "a", "filters": {"t": SURROGATE}},
        400,
        "the filter on 't' holds a lone",
    ),
    (
        "POST",
        f"{V1}/recall",
        {"query": "a", "filters": {SURROGATE: 1}},
        400,
        "a filter field name holds a lone",
    ),
    ("POST", "/recall_batch", {"queries": ["a", SURROGATE]}, 400, "query holds a lone"),
    ("POST", "/keyword_search", {"term": SURROGATE}, 400, "term holds a lone UTF-16 surrogate"),
    ("POST", f"{V1}/search", {"term": f"a{SURROGATE}"}, 400, "term holds a lone"),
    ("POST", "/hybrid_recall_with_scores", {"query": "a", "terms": [SURROGATE]}, 400, "a term holds a lone"),
    (
        "POST",
        f"{V1}/recall",
        {"query": "a", "hybrid": True, "terms": [SURROGATE]},
        400,
        "a term holds a lone",
    ),
    (
        "POST",
        "/recall_with_context",
        {"query": "a", "context": {"t": SURROGATE}},
        400,
        "context.t holds a lone",
    ),
    ("POST", "/link", {"from_coord": "1", "to_coord": "2", "type": SURROGATE}, 400, "link type holds a lone"),
    ("PUT", f"{V1}/links", {"from": [1], "to": [2], "type": SURROGATE}, 400, "link type holds a lone"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "message"), SURROGATE_CASES)
def test_lone_surrogates_are_refused_on_every_surface(
    client: TestClient, method: str, path: str, body: object, status: int, message: str
) -> None:
    seed_two(client)
    response = raw(client, method, path, body)
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    assert message in response.json()["error"]["message"]  # type: ignore[attr-defined]
    assert total(client) == 2
    assert total(client, "default") == 0


def test_v1_bulk_reports_surrogates_per_item(client: TestClient) -> None:
    items = [
        {"coord": [1], "payload": {"t": "fine"}},
        {"coord": [2], "payload": {"t": SURROGATE}},
        {"coord": SURROGATE, "payload": {}},
        {"coord": [4], "payload": {}, "type": SURROGATE},
    ]
    body = raw(client, "POST", f"{V1}/bulk", {"items": items}).json()  # type: ignore[attr-defined]
    assert (body["stored"], body["failed"]) == (1, 3)
    assert [r["ok"] for r in body["results"]] == [True, False, False, False]
    assert (
        body["results"][1]["error"]
        == "payload.t holds a lone UTF-16 surrogate (e.g. \\ud800), which is not text"
    )
    assert body["results"][2]["error"].startswith("coord")
    assert body["results"][3]["error"].startswith("type")
    assert client.get(f"{V1}/memories/1").json()["payload"] == {"t": "fine"}


@pytest.mark.parametrize(
    "path",
    ["/v1/namespaces/%ED%A0%80/stats", "/recall?query=%ED%A0%80", "/neighbors?coord=1&link_type=%ED%A0%80"],
)
def test_undecodable_bytes_in_urls_never_give_a_server_error(client: TestClient, path: str) -> None:
    client.post("/store", json={"coord": "1", "payload": {}})
    assert client.get(path).status_code < 500


# --- finding 13: lax parsing --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/recall", {"query": "a", "top_k": True}, "top_k: Input should be a valid integer"),
        ("/recall", {"query": "a", "top_k": 2.5}, "top_k: Input should be a valid integer"),
        ("/recall", {"query": "a", "top_k": "3"}, "top_k: Input should be a valid integer"),
        ("/recall", {"query": "a", "hybrid": 1}, "hybrid: Input should be a valid boolean"),
        ("/keyword_search", {"term": "a", "exact": "yes"}, "exact: Input should be a valid boolean"),
        (
            "/hybrid_recall_with_scores",
            {"query": "a", "boost": "inf"},
            "boost: Input should be a valid number",
        ),
        (
            "/link",
            {"from_coord": "1", "to_coord": "2", "weight": "1"},
            "weight: Input should be a valid number",
        ),
        ("/store", {"coord": 1, "payload": {}}, "coord: Input should be a valid string"),
        ("/store", {"coord": "1_0,2", "payload": {}}, "coord: coordinate component 0 is not a number: '1_0'"),
        ("/store", {"coord": "1,inf", "payload": {}}, "coord: coordinate component 1 is not a number: 'inf'"),
        ("/store", {"coord": "nan", "payload": {}}, "is not a number: 'nan'"),
        ("/store", {"coord": "1e999", "payload": {}}, "is not a number: '1e999'"),
        (
            f"{V1}/memories",
            {"coord": [False], "payload": {}},
            "coord.array.0: Input should be a valid number",
        ),
        (f"{V1}/memories", {"coord": ["1"], "payload": {}}, "coord.array.0: Input should be a valid number"),
        (
            f"{V1}/memories",
            {"coord": {"x": 1}, "payload": {}},
            "a coordinate is a string like '1,2,3' or an array",
        ),
    ],
)
def test_strict_types(client: TestClient, path: str, body: object, message: str) -> None:
    response = client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert message in response.json()["error"]["message"]
    assert total(client) == total(client, "default") == 0


def test_integral_numbers_are_integers_and_spaces_around_coordinates_are_fine(client: TestClient) -> None:
    assert client.post("/store", json={"coord": " 1, 2 ", "payload": {"t": "spaced"}}).status_code == 200
    assert client.get("/v1/namespaces/default/memories/1,2").json()["payload"] == {"t": "spaced"}
    assert len(client.post("/recall", json={"query": "spaced", "top_k": 1.0}).json()["matches"]) == 1


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/recall?query=a&top_k=1_0", "'1_0' is not an integer written in decimal digits"),
        ("/recall?query=a&top_k=%205", "' 5' is not an integer written in decimal digits"),
        ("/neighbors?coord=1&limit=1_0", "'1_0' is not an integer"),
        ("/range?min=1_0&max=20", "query.min: coordinate component 0 is not a number: '1_0'"),
        (f"{V1}/memories/1_0", "path.coord: coordinate component 0 is not a number: '1_0'"),
        (f"{V1}/range?min=0&max=1&type=", "type"),
    ],
)
def test_strict_query_and_path_parameters(client: TestClient, path: str, message: str) -> None:
    response = client.get(path)
    assert response.status_code in (400, 422), response.text
    assert message in response.json()["error"]["message"]


def json_routes(client: TestClient) -> list[tuple[str, str]]:
    document = client.get("/openapi.json").json()
    return [
        (method.upper(), path.replace("{namespace}", "x").replace("{coord}", "1"))
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]


def test_every_json_route_refuses_duplicate_keys_and_non_utf8(client: TestClient) -> None:
    routes = json_routes(client)
    assert len(routes) == 22
    for method, path in routes:
        duplicated = client.request(
            method,
            path,
            content=b'{"query": "a", "query": "b"}',
            headers={"content-type": "application/json"},
        )
        assert duplicated.status_code == 400, (path, duplicated.text)
        assert duplicated.json()["error"]["message"] == "request body: duplicate key 'query' in a JSON object"
        for encoding in ("utf-16", "utf-32"):
            wide = client.request(
                method,
                path,
                content='{"query": "a"}'.encode(encoding),
                headers={"content-type": "application/json"},
            )
            assert wide.status_code == 400, (path, wide.text)
            assert (
                wide.json()["error"]["message"]
                == "request body: JSON must be UTF-8: byte 0 is not valid UTF-8"
            )
    assert total(client) == total(client, "default") == 0


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"coord": "1", "payload": {"x": NaN}}', "request body: NaN is not a JSON number"),
        (b'{"coord": "1", "payload": {"x": -Infinity}}', "request body: -Infinity is not a JSON number"),
        (b'{"coord": "1", "payload": {"x": 1e400}}', "request body: the number 1e400 is too large"),
        (
            b'{"coord": "1", "payload": {"x": [' * 5000 + b"]}" * 5000 + b"}",
            "request body: JSON is nested too deeply",
        ),
    ],
)
def test_numbers_json_has_not(client: TestClient, body: bytes, message: str) -> None:
    response = client.post("/store", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["message"].startswith(message)
    assert total(client, "default") == 0


def test_method_not_allowed_names_every_method_of_the_path(client: TestClient) -> None:
    response = client.request("OPTIONS", "/recall")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"
    response = client.patch(f"{V1}/memories/1")
    assert response.headers["allow"] == "DELETE, GET, PUT"
