"""Bad input never gives a 500: each gets a 4xx with a message that says what to fix."""

import pytest
from fastapi.testclient import TestClient

CASES = [
    ("post", "/store", {"coord": "1,x,3", "payload": {}}, 422, "component 1 is not a number: 'x'"),
    ("post", "/store", {"coord": "nan,1", "payload": {}}, 422, "component 0 is not a number: 'nan'"),
    ("post", "/store", {"coord": "", "payload": {}}, 422, "a coordinate is comma-separated numbers"),
    ("post", "/store", {"coord": "1,2", "payload": []}, 422, "payload"),
    ("post", "/store", {"payload": {}}, 422, "coord"),
    ("post", "/recall", {"query": ""}, 400, "query must be a non-empty string"),
    ("post", "/recall", {"query": "x", "top_k": 100000}, 422, "top_k"),
    ("post", "/recall", {"query": "x", "top_k": "many"}, 422, "top_k"),
    ("post", "/recall", {"query": "x", "filters": {"a": {"$nope": 1}}}, 400, "$nope"),
    ("post", "/recall_batch", {"queries": []}, 422, "queries"),
    ("post", "/keyword_search", {"term": "  "}, 400, "term must be a non-empty string"),
    ("post", "/hybrid_recall_with_scores", {"query": "x", "boost": "big"}, 422, "boost"),
    ("post", "/link", {"from_coord": "1", "to_coord": "2", "weight": -3}, 400, "negative"),
    ("get", "/range?min=1,2&max=1", None, 400, "same"),
    ("get", "/range?min=5&max=1", None, 400, "at most"),
    ("get", "/neighbors?coord=1,,2", None, 422, "empty component"),
    ("get", "/neighbors?coord=1&limit=0", None, 422, "limit"),
    ("get", "/shortest_path?frm=1", None, 422, "to"),
    ("get", "/recall?query=x&top_k=1_0", None, 422, "top_k"),
    ("put", "/v1/namespaces/a/memories/1,zz", {"payload": {}}, 422, "component 1 is not a number: 'zz'"),
    ("post", "/v1/namespaces/a/recall", {"query": "x", "type": 3}, 422, "type"),
    ("post", "/recall", {"query": "x", "type": 3}, 422, "type"),
    # /v1 stays strict where the compatibility surface reads leniently (see test_reference_suite.py)
    ("put", "/v1/namespaces/a/memories/1", {"payload": {}, "type": "dream"}, 400, "'episodic' or 'semantic'"),
    ("put", "/v1/namespaces/a/memories/1", {"payload": {}, "type": None}, 422, "type"),
    ("post", "/v1/namespaces/a/recall", {"query": "x", "top_k": 0}, 422, "top_k"),
    ("post", "/v1/namespaces/a/recall", {"query": "x", "type": "dream"}, 400, "'episodic' or 'semantic'"),
    ("post", "/v1/namespaces/a/search", {"term": "x", "top_k": -1}, 422, "top_k"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "hint"), CASES)
def test_bad_input_is_a_clear_4xx(
    client: TestClient, method: str, path: str, body: object, status: int, hint: str
) -> None:
    response = client.request(method.upper(), path, json=body)
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert error["code"] and hint.lower() in error["message"].lower()


def test_invalid_json_body(client: TestClient) -> None:
    response = client.post("/store", content=b"{not json", headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert "not valid JSON" in response.json()["error"]["message"]


def test_non_finite_numbers_in_payload(client: TestClient) -> None:
    response = client.post(
        "/store",
        content=b'{"coord": "1", "payload": {"x": NaN}}',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert client.get("/stats").json()["total_memories"] == 0


def test_negative_weight_between_existing_nodes(client: TestClient) -> None:
    client.post("/store", json={"coord": "1", "payload": {}})
    client.post("/store", json={"coord": "2", "payload": {}})
    response = client.post("/link", json={"from_coord": "1", "to_coord": "2", "weight": -3})
    assert response.status_code == 400 and "negative" in response.json()["detail"]


def test_unknown_route_and_method(client: TestClient) -> None:
    assert client.get("/nope").status_code == 404
    assert client.get("/store").status_code == 405
