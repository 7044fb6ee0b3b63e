"""The issue's reproductions against a real ``soma serve`` over real sockets: a deep payload, a create
without coordinate that failed after committing, lone surrogates, wide and duplicated JSON, an import of
non-finite numbers and the export after it."""

import json
from collections.abc import Iterator

import httpx
import pytest

from somafractalmemory.cli.server_process import ServerProcess

TOKEN = "served-input-token-0123456789"
JSON = {"content-type": "application/json"}


def nested(levels: int) -> dict[str, object]:
    value: dict[str, object] = {"leaf": 1}
    for _ in range(levels - 1):
        value = {"a": value}
    return value


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    data_dir = tmp_path_factory.mktemp("served-input")
    with (
        (data_dir.parent / "served-input.log").open("wb") as log,
        ServerProcess(
            data_dir, token=TOKEN, environment={"SOMA_RATE_LIMIT_PER_MINUTE": "0"}, log=log
        ) as server,
        httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client,
    ):
        yield client


def count(api: httpx.Client, namespace: str) -> int:
    total: int = api.get(f"/v1/namespaces/{namespace}/stats").json()["total_memories"]
    return total


def test_a_payload_255_levels_deep_is_refused_and_64_are_served(api: httpx.Client) -> None:
    refused = api.post("/store", json={"coord": "1", "payload": nested(255)})
    assert refused.status_code == 400
    assert refused.json()["error"]["message"].endswith("nests objects and arrays deeper than 64 levels")
    assert api.post("/store", json={"coord": "2", "payload": nested(64)}).status_code == 200
    for _ in range(2):
        assert api.get("/v1/namespaces/default/memories/2").json()["payload"] == nested(64)


def test_create_without_coordinate_never_commits_what_it_cannot_answer(api: httpx.Client) -> None:
    for body in (b'{"payload": {"\\ud800": 1}}', json.dumps({"payload": nested(300)}).encode()):
        for _ in range(3):
            assert api.post("/v1/namespaces/retry/memories", content=body, headers=JSON).status_code == 400
    assert count(api, "retry") == 0


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        ("/store", b'{"coord": "1", "payload": {"t": "\\ud800"}}', "payload.t holds a lone UTF-16 surrogate"),
        ("/keyword_search", b'{"term": "\\ud800"}', "term holds a lone UTF-16 surrogate"),
        ("/link", b'{"from_coord": "1", "to_coord": "2", "type": "\\udfff"}', "link type holds a lone"),
        ("/recall", '{"query": "a"}'.encode("utf-16"), "request body: JSON must be UTF-8"),
        ("/recall", b'{"query": "a", "query": "b"}', "request body: duplicate key 'query' in a JSON object"),
        ("/recall", b'{"query": "a", "top_k": true}', "top_k: Input should be a valid integer"),
        (
            "/store",
            b'{"coord": "1_0,2", "payload": {}}',
            "coord: coordinate component 0 is not a number: '1_0'",
        ),
    ],
)
def test_hostile_bodies_get_a_clear_4xx(api: httpx.Client, path: str, body: bytes, message: str) -> None:
    response = api.post(path, content=body, headers=JSON)
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["error"]["message"].startswith(message)


def test_import_of_non_finite_numbers_then_export(api: httpx.Client) -> None:
    stream = b"\n".join(
        [
            b'{"coord": [1], "payload": {"x": NaN}}',
            b'{"coord": [2], "payload": {"x": Infinity}}',
            b'{"coord": [3], "payload": {}, "created_at": NaN}',
            b'{"coord": [4], "payload": {}, "access_count": 18446744073709551616}',
            b'{"coord": [5], "payload": {"x": 1.5}}',
        ]
    )
    response = api.post(
        "/v1/namespaces/imp/import", content=stream, headers={"content-type": "application/x-ndjson"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "memories": 1,
        "links": 0,
        "versions": 0,
        "errors": [
            "line 1: NaN is not a JSON number",
            "line 2: Infinity is not a JSON number",
            "line 3: NaN is not a JSON number",
            "line 4: 'access_count' must be an integer from 0 to 9007199254740991",
        ],
    }
    exported = api.get("/v1/namespaces/imp/export").text.splitlines()
    assert [json.loads(line, parse_constant=pytest.fail)["payload"] for line in exported] == [{"x": 1.5}]
