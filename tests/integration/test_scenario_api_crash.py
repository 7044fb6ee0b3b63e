"""The API on the production path (PostgreSQL + outbox + broker + consumer), SIGKILLed right after a
/store_bulk and in the middle of a /v1 import committed in PostgreSQL: after a restart nothing
acknowledged is lost and every memory PostgreSQL holds is indexed, because the memory and its outbox
event commit in one transaction (issue 9, finding 3, production side)."""

import json
import signal
import threading
from collections import Counter
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
import psycopg

from somafractalmemory.adapters.qdrant_index import QdrantIndex
from support.processes import SomaProcess, wait_http_ok
from support.servers import KafkaBroker, PostgresServer, RedisServer, free_port, wait_until
from support.stack import AUTH, TOKEN, StackAddresses

DIMS = 64  # qdrant-client's local mode is slow to write; small vectors keep the test short
GROUP = 1000


def memory(index: int) -> dict[str, Any]:
    return {"coord": f"{index},9", "payload": {"text": f"note number {index}", "group": index // GROUP}}


def ndjson(indices: range) -> bytes:
    lines = [json.dumps({"coord": [float(i), 9.0], "payload": memory(i)["payload"]}) for i in indices]
    return ("\n".join(lines) + "\n").encode()


class Api:
    def __init__(self, tmp_path: Path, values: dict[str, Any]) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.database = str(values["postgres_url"])
        self.process = SomaProcess(
            ["serve", "--host", "127.0.0.1", "--port", str(port)], values, tmp_path / "serve.log"
        )

    def start(self) -> None:
        self.process.start()
        wait_http_ok(f"{self.url}/readyz", 120, self.process)

    def stored(self, namespace: str) -> int:
        with psycopg.connect(self.database) as conn:
            row = conn.execute(
                "SELECT count(*) FROM soma_memories WHERE namespace = %s", (namespace,)
            ).fetchone()
        return int(row[0]) if row else 0

    def kill_once_stored(self, namespace: str, at_least: int) -> None:
        wait_until(
            lambda: self.stored(namespace) >= at_least, 120, "the write to commit in PostgreSQL", 0.005
        )
        self.process.kill()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=AUTH, timeout=120)


def indexed_by_group(client: httpx.Client, namespace: str, groups: int) -> dict[int, int]:
    """How many memories of each group the vector index answers: dense ranking only, since fused recall
    also reads the store's word index."""
    found = {}
    for group in range(groups):
        body = {"query": "note number", "top_k": GROUP, "filters": {"group": group}, "ranking": "dense"}
        answer = client.post(f"/v1/namespaces/{namespace}/recall", json=body)
        assert answer.status_code == 200, answer.text
        found[group] = len(answer.json()["results"])
    return found


def post_until_killed(client: httpx.Client, path: str, **body: Any) -> None:
    """An answer before the kill is a valid run too: the write committed, then the kill came."""
    with suppress(httpx.TransportError):
        client.post(path, **body)


def test_api_killed_during_bulk_and_import_loses_nothing_and_indexes_everything(
    tmp_path: Path, postgres_server: PostgresServer, redis_server: RedisServer, kafka_broker: KafkaBroker
) -> None:
    values = StackAddresses.of(postgres_server, redis_server, kafka_broker).settings_values(
        tmp_path / "api", evented=True, consume=True
    )
    values.update({"api_token": TOKEN, "rate_limit_per_minute": 0, "embedding_dimensions": DIMS})
    api = Api(tmp_path, values)
    api.start()
    with api.client() as client:
        first = [memory(i) for i in range(500)]
        assert client.post("/store_bulk", json={"items": first}).json() == {"stored": 500}
        second = [memory(i) for i in range(500, 2000)]
        with_kill = _in_background(lambda: post_until_killed(client, "/store_bulk", json={"items": second}))
        api.kill_once_stored("default", 2000)
        with_kill.join(30)

    api.start()
    with api.client() as client:
        assert client.get("/stats").json() == {"total_memories": 2000, "episodic": 2000, "semantic": 0}
        wait_until(
            lambda: indexed_by_group(client, "default", 2) == {0: GROUP, 1: GROUP},
            180,
            "every stored memory to be indexed after the restart",
        )
        path = "/v1/namespaces/imported"
        answer = client.post(f"{path}/import", content=ndjson(range(200)))
        assert answer.json() == {"memories": 200, "links": 0, "versions": 0, "errors": []}
        with_kill = _in_background(
            lambda: post_until_killed(client, f"{path}/import", content=ndjson(range(200, 1800)))
        )
        api.kill_once_stored("imported", 700)
        with_kill.join(30)

    api.start()
    with api.client() as client:
        exported = [json.loads(line) for line in client.get(f"{path}/export").text.splitlines()]
        per_group = Counter(record["payload"]["group"] for record in exported)
        stored = sum(per_group.values())
        assert stored == api.stored("imported") and 700 <= stored <= 1800
        assert set(range(200)) <= {int(record["coord"][0]) for record in exported}, (
            "an acknowledged import lost"
        )
        expected = {group: per_group[group] for group in range(2)}
        wait_until(
            lambda: indexed_by_group(client, "imported", 2) == expected,
            180,
            "every imported memory to be indexed after the restart",
        )
    assert api.process.terminate() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    index = QdrantIndex.connect(path=str(values["qdrant_path"]), dimensions=DIMS)
    try:
        assert index.count("default") == 2000
        assert index.count("imported") == stored
    finally:
        index.close()


def _in_background(call: Callable[[], None]) -> threading.Thread:
    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    return thread
