"""Version records through /v1 import (what `soma restore --url` sends): written after the memories with
their numbers, a number the memory has already left as stored, and one for a memory not there reported by
its line and not written."""

import json
from typing import Any

from fastapi.testclient import TestClient

BASE = "/v1/namespaces/team-a"


def version(coord: list[float], number: int, text: str, **changes: Any) -> dict[str, Any]:
    record = {
        "kind": "version",
        "coord": coord,
        "number": number,
        "payload": {"text": text},
        "type": "semantic",
        "importance": 0.25,
        "updated_at": 100.0 + number,
        "replaced_at": 200.0 + number,
    }
    return {**record, **changes}


def imported(client: TestClient, *records: dict[str, Any]) -> dict[str, Any]:
    body = b"".join(json.dumps(record).encode() + b"\n" for record in records)
    response = client.post(f"{BASE}/import", content=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_versions_are_written_with_their_numbers_after_the_memories(client: TestClient) -> None:
    answer = imported(
        client,
        version([1.0], 1, "first"),
        {"kind": "memory", "coord": [1.0], "payload": {"text": "now"}},
        version([1.0], 2, "second", type="episodic"),
        version([9.0], 1, "orphan"),
    )
    assert answer == {
        "memories": 1,
        "links": 0,
        "versions": 2,
        "errors": ["line 4: version 1 belongs to [9.0], which is not a memory in namespace 'team-a'"],
    }
    kept = client.get(f"{BASE}/memories/1/versions").json()["versions"]
    assert [(v["number"], v["payload"], v["type"], v["importance"], v["updated_at"]) for v in kept] == [
        (2, {"text": "second"}, "episodic", 0.25, 102.0),
        (1, {"text": "first"}, "semantic", 0.25, 101.0),
    ]
    # A number the memory already has stays as stored, and is not counted.
    assert imported(client, version([1.0], 2, "other"), version([1.0], 3, "third"))["versions"] == 1
    kept = client.get(f"{BASE}/memories/1/versions").json()["versions"]
    assert [(v["number"], v["payload"]["text"]) for v in kept] == [(3, "third"), (2, "second"), (1, "first")]


def test_a_bad_version_record_is_reported_by_its_line(client: TestClient) -> None:
    client.put(f"{BASE}/memories/1", json={"payload": {"text": "now"}})
    answer = imported(
        client,
        version([1.0], 0, "zero"),
        version([1.0], 1, "no type", type=None),
        {k: v for k, v in version([1.0], 1, "no time").items() if k != "replaced_at"},
    )
    assert answer["errors"] == [
        "line 1: 'number' must be an integer from 1 to 2147483647",
        "line 2: 'type' must be 'episodic' or 'semantic'",
        "line 3: 'replaced_at' is missing",
    ]
    assert client.get(f"{BASE}/memories/1/versions").json()["versions"] == []
