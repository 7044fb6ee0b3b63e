"""Two API processes (``soma serve``) on one PostgreSQL and one Redis: one graph, rate limit and count."""

import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.processes import SomaProcess, wait_http_ok
from support.servers import PostgresServer, RedisServer, free_port
from support.stack import AUTH, TOKEN, StackAddresses

RATE_LIMIT = 30


@pytest.fixture
def replicas(
    tmp_path: Path, postgres_server: PostgresServer, redis_server: RedisServer
) -> Iterator[list[str]]:
    shared = StackAddresses.of(postgres_server, redis_server, None).settings_values(tmp_path / "shared")
    processes, urls = [], []
    for number in range(2):
        port = free_port()
        values = {
            **shared,
            "data_dir": tmp_path / f"replica{number}",
            "qdrant_path": tmp_path / f"replica{number}" / "qdrant",  # local mode: one process per path
            "port": port,
            "api_token": TOKEN,
            "rate_limit_per_minute": RATE_LIMIT,
        }
        process = SomaProcess(["serve", "--no-access-log"], values, tmp_path / f"replica{number}.log")
        process.start()
        processes.append(process)
        urls.append(f"http://127.0.0.1:{port}")
    for process, url in zip(processes, urls, strict=True):
        wait_http_ok(f"{url}/readyz", 60, process)
    yield urls
    for process in processes:
        # uvicorn shuts down gracefully, then re-raises SIGTERM: both exits are clean.
        assert process.terminate() in (0, -signal.SIGTERM), process.log()


def test_two_replicas_share_the_graph_the_stats_and_the_rate_limit(replicas: list[str]) -> None:
    sent: list[httpx.Request] = []
    one, two = (
        httpx.Client(base_url=url, headers=AUTH, timeout=10, event_hooks={"request": [sent.append]})
        for url in replicas
    )
    for i in range(3):
        assert (
            one.post("/store", json={"coord": f"{i},0", "payload": {"text": f"node {i}"}}).status_code == 200
        )
    assert (
        two.post(
            "/store", json={"coord": "9,0", "payload": {"text": "other"}, "type": "semantic"}
        ).status_code
        == 200
    )
    assert one.post("/link", json={"from_coord": "0,0", "to_coord": "1,0", "weight": 1.0}).status_code == 200
    assert two.post("/link", json={"from_coord": "1,0", "to_coord": "2,0", "weight": 1.0}).status_code == 200

    neighbors = two.get("/neighbors", params={"coord": "0,0"}).json()["neighbors"]
    assert [neighbor[0] for neighbor in neighbors] == [[1.0, 0.0]]
    assert one.get("/shortest_path", params={"frm": "0,0", "to": "2,0"}).json()["path"] == [
        [0.0, 0.0],
        [1.0, 0.0],
        [2.0, 0.0],
    ]
    expected = {"total_memories": 4, "episodic": 3, "semantic": 1}
    assert one.get("/stats").json() == expected
    assert two.get("/stats").json() == expected

    used = len(sent)  # the requests above, all from this address with this token
    statuses = [(one if n % 2 else two).get("/stats").status_code for n in range(2 * RATE_LIMIT)]
    assert statuses.count(200) == RATE_LIMIT - used
    assert set(statuses[RATE_LIMIT - used :]) == {429}
    one.close()
    two.close()
