"""Bodies large enough to be decoded on a worker thread keep every answer of a small one."""

from typing import Any

from fastapi.testclient import TestClient

from somafractalmemory.http_api.json_body import THREAD_DECODE_BYTES

ITEMS = 2000


def bulk_items() -> list[dict[str, Any]]:
    return [
        {"coord": f"{i},1,2", "payload": {"text": f"memory {i} about topic {i % 97}"}} for i in range(ITEMS)
    ]


def test_a_large_bulk_is_stored_whole(client: TestClient) -> None:
    items = bulk_items()
    response = client.post("/store_bulk", json={"items": items})
    assert len(response.request.content) > THREAD_DECODE_BYTES
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": ITEMS}
    found = client.get("/v1/namespaces/default/memories/1999.0,1.0,2.0")
    assert found.json()["payload"] == {"text": "memory 1999 about topic 59"}


def test_a_large_body_with_a_duplicate_key_is_refused_whole(client: TestClient) -> None:
    items = bulk_items()
    text = '{"items": [' + ", ".join(
        f'{{"coord": "{i},1,2", "payload": {{"text": "t{i}"}}}}' for i in range(ITEMS)
    )
    body = (text + '], "items": []}').encode()
    assert len(body) > THREAD_DECODE_BYTES > len(items)
    response = client.post("/store_bulk", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["message"] == "request body: duplicate key 'items' in a JSON object"
    assert client.get("/v1/namespaces/default/memories/0.0,1.0,2.0").status_code == 404
