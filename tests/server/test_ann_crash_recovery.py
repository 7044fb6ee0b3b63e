"""The embedded default's IVF index (issue 15) under SIGKILL: a real `soma serve` whose namespace is past
SOMA_ANN_THRESHOLD, so dense recall goes through the IVF lists. After a clean stop the index file holds
every point; then deletes and a bulk write land, and the server is killed while the bulk's index write
is in flight. The restart reconciles the saved index with the vector file by label and the journal
replay brings the file in line with the store: every stored memory is recallable, no deleted one is.
"""

import re
import signal
from pathlib import Path

import httpx
from test_crash_recovery import (
    ACKNOWLEDGED,
    GROUP,
    IN_FLIGHT,
    TOKEN,
    Server,
    kill_once_stored,
    memory,
    posting_in_background,
    recallable_by_group,
)

from support.processes import SomaProcess

THRESHOLD = 500  # the first bulk already trains the IVF lists
DELETED = 100  # memories of group 0 deleted between the clean stop and the kill


def ann_server(tmp_path: Path) -> Server:
    """The crash test's server, with a threshold its namespace passes."""
    server = Server(tmp_path)
    arguments = [
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(server.port),
        "--data-dir",
        str(server.data_dir),
    ]
    values = {"api_token": TOKEN, "rate_limit_per_minute": 0, "ann_threshold": THRESHOLD}
    server.process = SomaProcess(arguments, values, tmp_path / "serve.log")
    return server


def index_files(server: Server) -> list[Path]:
    return sorted(server.data_dir.glob("vectors.sqlite.ivf/*/*.faiss"))


def dense(client: httpx.Client, text: str, top_k: int) -> list[int]:
    body = {"query": text, "top_k": top_k, "ranking": "dense"}
    answer = client.post("/v1/namespaces/default/recall", json=body)
    assert answer.status_code == 200, answer.text
    return [int(hit["memory"]["coord"][0]) for hit in answer.json()["results"]]


def test_kill_after_deletes_and_during_a_bulk_keeps_the_ivf_index_in_line(tmp_path: Path) -> None:
    server = ann_server(tmp_path)
    server.start()
    with server.client() as client:
        first = [memory(i) for i in range(ACKNOWLEDGED)]
        assert client.post("/store_bulk", json={"items": first}).json() == {"stored": ACKNOWLEDGED}
    assert server.process.terminate() in (0, -signal.SIGTERM)
    assert len(index_files(server)) == 1  # saved on the clean stop
    assert len(list(server.data_dir.glob("vectors.sqlite.ivf/*/*.snapshot"))) == 1  # with its rows

    server.start()
    server.wait_ready()
    with server.client() as client:
        for i in range(DELETED):
            assert client.delete(f"/v1/namespaces/default/memories/{i},7").status_code == 204
        second = [memory(i) for i in range(ACKNOWLEDGED, ACKNOWLEDGED + IN_FLIGHT)]
        with posting_in_background(client, "/store_bulk", json={"items": second}):
            kill_once_stored(server, "default", ACKNOWLEDGED - DELETED + IN_FLIGHT)

    server.start()
    server.wait_ready()
    total = ACKNOWLEDGED - DELETED + IN_FLIGHT
    with server.client() as client:
        assert client.get("/stats").json() == {"total_memories": total, "episodic": total, "semantic": 0}
        groups = (ACKNOWLEDGED + IN_FLIGHT) // GROUP
        expected = {0: GROUP - DELETED, **{g: GROUP for g in range(1, groups)}}
        assert recallable_by_group(client, "default", groups) == expected
        for i in (0, DELETED // 2, DELETED - 1):
            found = dense(client, f"note number {i}", 50)
            assert len(found) == 50 and min(found) >= DELETED
        assert client.get("/readyz").json()["backends"]["index-recovery"] == {"ok": True}
    log = server.process.log_path.read_text()  # the whole log: the line is from the start
    # The deletes were never in a saved index file again: the start removed exactly those 100 labels
    # (how many of the bulk it added depends on where the kill landed; the journal replays the rest).
    assert re.search(r"namespace 'default' brought in line with its file: \d+ added, 100 removed", log)
    assert "not usable" not in log  # the restarts read the saved rows, and from SQLite only newer ones
    assert server.process.terminate() in (0, -signal.SIGTERM)
