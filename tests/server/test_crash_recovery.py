"""A real `soma serve` on the embedded default, SIGKILLed between the document store's commit and the
vector index's: after a restart every memory the store holds is recallable, and nothing acknowledged
was lost (issue 9, finding 3).

The test watches the store's own SQLite file from outside and kills the server the moment the big
write has committed there, which is when the index write is still in flight.
"""

import json
import signal
import sqlite3
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Any

import httpx

from support.processes import SomaProcess, wait_http_ok
from support.servers import free_port, wait_until

TOKEN = "server-crash-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
GROUP = 1000  # memories per group: one filtered recall (top_k 1000) reaches every one of a group
ACKNOWLEDGED = 1000
IN_FLIGHT = 4000


class Server:
    def __init__(self, tmp_path: Path) -> None:
        self.data_dir = tmp_path / "data"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        arguments = [
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
        ]
        values = {"api_token": TOKEN, "rate_limit_per_minute": 0}
        self.process = SomaProcess(arguments, values, tmp_path / "serve.log")

    def start(self) -> None:
        self.process.start()
        wait_http_ok(f"{self.url}/healthz", 60, self.process)

    def wait_ready(self) -> None:
        wait_http_ok(f"{self.url}/readyz", 120, self.process)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers=AUTH, timeout=120)

    def stored(self, namespace: str) -> int:
        """Rows in the store's file, read from outside the server (its WAL lets a reader in)."""
        path = self.data_dir / "memories.sqlite"
        if not path.exists():
            return 0
        with closing(sqlite3.connect(path, timeout=5)) as db:
            try:
                row = db.execute("SELECT count(*) FROM memories WHERE namespace = ?", (namespace,)).fetchone()
            except sqlite3.OperationalError:
                return 0  # not created yet
            return int(row[0])


@contextmanager
def posting_in_background(client: httpx.Client, path: str, **body: Any) -> Iterator[None]:
    """A request that the block's kill interrupts: its transport error is the expected end."""

    def post() -> None:
        with suppress(httpx.TransportError):
            client.post(path, **body)

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    yield
    thread.join(30)


def memory(index: int) -> dict[str, Any]:
    return {"coord": f"{index},7", "payload": {"text": f"note number {index}", "group": index // GROUP}}


def kill_once_stored(server: Server, namespace: str, at_least: int) -> None:
    wait_until(lambda: server.stored(namespace) >= at_least, 120, "the write to commit in the store", 0.002)
    server.process.kill()


def recallable_by_group(client: httpx.Client, namespace: str, groups: int) -> dict[int, int]:
    """How many memories of each group the vector index answers: dense ranking only, since fused recall
    also reads the store's word index; filters run inside the index."""
    found = {}
    for group in range(groups):
        body = {"query": "note number", "top_k": GROUP, "filters": {"group": group}, "ranking": "dense"}
        answer = client.post(f"/v1/namespaces/{namespace}/recall", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["ranking"] == "dense"
        found[group] = len(answer.json()["results"])
    return found


def test_kill_during_store_bulk_leaves_every_stored_memory_recallable(tmp_path: Path) -> None:
    server = Server(tmp_path)
    server.start()
    with server.client() as client:
        first = [memory(i) for i in range(ACKNOWLEDGED)]
        assert client.post("/store_bulk", json={"items": first}).json() == {"stored": ACKNOWLEDGED}
        # A recall waits for the index to hold what was stored before it: the acknowledged bulk is
        # applied before the next one begins.
        assert recallable_by_group(client, "default", ACKNOWLEDGED // GROUP) == {0: GROUP}
        second = [memory(i) for i in range(ACKNOWLEDGED, ACKNOWLEDGED + IN_FLIGHT)]
        with posting_in_background(client, "/store_bulk", json={"items": second}):
            kill_once_stored(server, "default", ACKNOWLEDGED + IN_FLIGHT)

    server.start()
    server.wait_ready()
    with server.client() as client:
        total = ACKNOWLEDGED + IN_FLIGHT
        assert client.get("/stats").json() == {"total_memories": total, "episodic": total, "semantic": 0}
        groups = total // GROUP
        assert recallable_by_group(client, "default", groups) == dict.fromkeys(range(groups), GROUP)
        ready = client.get("/readyz").json()
        assert ready["backends"]["index-recovery"] == {"ok": True}
    log = server.process.log()
    # The acknowledged bulk's journal entry was applied, and deleted in the in-flight bulk's transaction
    # (1,000 memories were recorded since the last deletion): only the in-flight bulk is replayed.
    assert f"index recovery done: {IN_FLIGHT} memories replayed" in log
    assert server.process.terminate() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled


def test_kill_during_v1_import_leaves_every_imported_memory_recallable(tmp_path: Path) -> None:
    server = Server(tmp_path)
    server.start()
    namespace = "imported"
    path = f"/v1/namespaces/{namespace}"

    def ndjson(indices: range) -> bytes:
        lines = []
        for i in indices:
            item = memory(i)
            lines.append(json.dumps({"coord": [float(i), 7.0], "payload": item["payload"]}))
        return ("\n".join(lines) + "\n").encode()

    with server.client() as client:
        answer = client.post(f"{path}/import", content=ndjson(range(200)))
        assert answer.json() == {"memories": 200, "links": 0, "versions": 0, "errors": []}
        with posting_in_background(client, f"{path}/import", content=ndjson(range(200, 3000))):
            kill_once_stored(server, namespace, 700)  # the first batch of 500 is in the store

    server.start()
    server.wait_ready()
    with server.client() as client:
        exported = [json.loads(line) for line in client.get(f"{path}/export").text.splitlines()]
        per_group = Counter(record["payload"]["group"] for record in exported)
        stored = sum(per_group.values())
        assert stored == client.get(f"{path}/stats").json()["total_memories"]
        assert 700 <= stored < 3000, "the kill landed in the middle of the import"
        assert set(range(200)) <= {int(record["coord"][0]) for record in exported}, (
            "an acknowledged import lost"
        )
        assert recallable_by_group(client, namespace, 3) == {g: per_group[g] for g in range(3)}
    assert server.process.terminate() in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
