"""Each memory answers which embedder made its vector, and /v1 stats counts the memories per embedder."""

from pathlib import Path

from fastapi.testclient import TestClient

from somafractalmemory.core.models import Memory, MemoryType
from somafractalmemory.http_api.queries import namespace_stats
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import build_runtime

BASE = "/v1/namespaces/team-e"
HASHING = "hashing:rules-1b13d4b8:384"


def test_a_memory_answers_its_embedder(client: TestClient) -> None:
    put = client.put(f"{BASE}/memories/1", json={"payload": {"text": "the lighthouse keeper"}})
    assert put.json()["embedder"] == HASHING
    assert client.get(f"{BASE}/memories/1").json()["embedder"] == HASHING
    recalled = client.post(f"{BASE}/recall", json={"query": "lighthouse"}).json()
    assert recalled["results"][0]["memory"]["embedder"] == HASHING


def test_stats_count_memories_per_embedder(client: TestClient) -> None:
    assert client.get(f"{BASE}/stats").json() == {
        "total_memories": 0,
        "episodic": 0,
        "semantic": 0,
        "embedders": {},
    }
    for x in (1, 2, 3):
        client.put(f"{BASE}/memories/{x}", json={"payload": {"text": f"memory {x}"}})
    assert client.get(f"{BASE}/stats").json() == {
        "total_memories": 3,
        "episodic": 3,
        "semantic": 0,
        "embedders": {HASHING: 3},
    }
    assert "embedders" not in client.get("/stats").json()  # the reference's stats keep their shape


def test_memories_written_before_ids_count_as_unknown(tmp_path: Path) -> None:
    runtime = build_runtime(Settings(data_dir=tmp_path))
    try:
        older = Memory("e", (1.0,), {"text": "written before ids"}, MemoryType.SEMANTIC, 0.5, 1.0, 1.0)
        runtime.service.store.put_many([older])
        runtime.service.remember("e", {"text": "written now"}, MemoryType.EPISODIC)
        stats = namespace_stats(runtime.service, "e")
    finally:
        runtime.close()
    assert stats.model_dump() == {
        "total_memories": 2,
        "episodic": 1,
        "semantic": 1,
        "embedders": {"unknown": 1, HASHING: 1},
    }
