"""A real `soma serve`: the event loop keeps answering /healthz while the heaviest requests run, and
the work budgets answer 400 beyond their bounds (issue 9, finding 5).

A heavy request is written on a raw socket; once the server is working on it, /healthz is asked on
another connection. When /healthz answers, the heavy request's answer must not have arrived yet: a
server that ran the heavy work on its event loop could only answer /healthz after it.
"""

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from support.processes import SomaProcess, wait_http_ok
from support.servers import free_port

TOKEN = "server-stall-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HEAVY_ITEMS = 10_000  # the default bulk budget: the heaviest bulk request allowed
SEEDED = 20_000
SETTLE_SECONDS = 0.3  # lets the server read and start on the heavy request before the probe


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    where = tmp_path_factory.mktemp("stalls")
    port = free_port()
    arguments = ["serve", "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(where / "data")]
    process = SomaProcess(arguments, {"api_token": TOKEN, "rate_limit_per_minute": 0}, where / "serve.log")
    process.start()
    url = f"http://127.0.0.1:{port}"
    wait_http_ok(f"{url}/readyz", 60, process)
    with httpx.Client(base_url=url, headers=AUTH, timeout=120) as client:
        for start in range(0, SEEDED, 5000):
            items = [item(i) for i in range(start, start + 5000)]
            assert client.post("/store_bulk", json={"items": items}).json() == {"stored": 5000}
    yield url
    process.terminate()


def item(index: int) -> dict[str, Any]:
    return {"coord": f"{index},3", "payload": {"text": f"meeting note {index} about the budget", "n": index}}


def raw_post(url: str, path: str, body: dict[str, Any]) -> socket.socket:
    host, port = url.removeprefix("http://").split(":")
    data = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {TOKEN}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n\r\n"
    ).encode()
    connection = socket.create_connection((host, int(port)))
    connection.sendall(head + data)
    return connection


def answered(connection: socket.socket) -> bool:
    connection.setblocking(False)
    try:
        return connection.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return False
    finally:
        connection.setblocking(True)


def assert_probe_answers_while_running(url: str, path: str, body: dict[str, Any]) -> None:
    heavy = raw_post(url, path, body)
    try:
        time.sleep(SETTLE_SECONDS)
        assert httpx.get(f"{url}/healthz", timeout=60).json()["status"] == "ok"
        assert not answered(heavy), f"{path} had already answered: /healthz waited for it"
        heavy.settimeout(120)
        status_line = heavy.makefile("rb").readline()
        assert status_line.startswith(b"HTTP/1.1 200"), status_line
    finally:
        heavy.close()


def test_health_answers_while_the_largest_bulk_store_runs(server: str) -> None:
    items = [item(i) for i in range(SEEDED, SEEDED + HEAVY_ITEMS)]
    assert_probe_answers_while_running(server, "/store_bulk", {"items": items})


def test_health_answers_while_a_batch_of_hybrid_recalls_runs(server: str) -> None:
    body = {"queries": [f"budget meeting note {i}" for i in range(100)], "top_k": 100, "hybrid": True}
    assert_probe_answers_while_running(server, "/recall_batch", body)


def test_a_filtered_recall_that_matches_nothing_answers_empty(server: str) -> None:
    with httpx.Client(base_url=server, headers=AUTH, timeout=60) as client:
        body = {"query": "meeting note", "top_k": 10, "filters": {"n": {"$gt": 10**9}}}
        assert client.post("/recall", json=body).json() == {"matches": []}
        body = {"query": "meeting note", "top_k": 3, "filters": {"n": {"$in": [5, 7]}}}
        assert sorted(m["n"] for m in client.post("/recall", json=body).json()["matches"]) == [5, 7]


def test_work_budgets_answer_400_with_the_bound(server: str) -> None:
    with httpx.Client(base_url=server, headers=AUTH, timeout=60) as client:
        held = client.get("/stats").json()["total_memories"]
        too_many = [item(i) for i in range(10**6, 10**6 + HEAVY_ITEMS + 1)]
        answer = client.post("/store_bulk", json={"items": too_many})
        assert answer.status_code == 400
        assert answer.json()["detail"] == (
            f"{HEAVY_ITEMS + 1} items in one request is more than the budget of {HEAVY_ITEMS} "
            "(SOMA_MAX_BULK_ITEMS): split them into several requests"
        )
        answer = client.post("/v1/namespaces/default/bulk", json={"items": too_many})
        assert answer.status_code == 400
        assert client.get("/stats").json()["total_memories"] == held, "nothing half-written"
        batch = {"queries": [f"q{i}" for i in range(100)], "top_k": 1000}
        answer = client.post("/recall_batch", json=batch)
        assert answer.status_code == 400
        assert answer.json()["detail"] == (
            "100 queries of top_k 1000 ask for 100000 results, more than the budget of 10000 "
            "(SOMA_MAX_BATCH_RESULTS): ask for fewer queries or a smaller top_k"
        )
        answer = client.get("/range", params={"min": "0,0", "max": "100000,10"})
        assert answer.status_code == 400
        assert answer.json()["detail"].startswith("more than 10000 memories lie in the box")
