"""Maintenance over /v1: decay (field-level and forgetting), consolidation, their idempotence and dry
runs, and the replay and reflect lists. The server's clock is set by the test, so ages are exact. Run on
the embedded default here, and on PostgreSQL by the production-stack suite."""

from collections.abc import Iterator
from typing import Any

import pytest
from api_settings import AUTH, SettingsFactory
from fastapi.testclient import TestClient

from somafractalmemory.http_api import create_app

BASE = "/v1/namespaces/team-a"
T0 = 1_000_000.0  # a multiple of the windows below: the start of a window
RULES = [{"after_seconds": 100, "drop": ["scratch"]}, {"after_seconds": 200, "drop": ["raw", "details"]}]


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


class Server:
    """A client on an app whose service reads the time from ``clock``."""

    def __init__(self, client: TestClient, clock: Clock) -> None:
        self.client, self.clock = client, clock

    def put(self, coord: str, payload: dict[str, Any], at: float, memory_type: str = "episodic") -> None:
        self.clock.now = at
        answer = self.client.put(f"{BASE}/memories/{coord}", json={"payload": payload, "type": memory_type})
        assert answer.status_code == 200, answer.text

    def maintain(self, at: float, **body: Any) -> dict[str, Any]:
        self.clock.now = at
        answer = self.client.post(f"{BASE}/maintain", json=body)
        assert answer.status_code == 200, answer.text
        result: dict[str, Any] = answer.json()
        return result

    def payload(self, coord: str) -> dict[str, Any]:
        payload: dict[str, Any] = self.client.get(f"{BASE}/memories/{coord}").json()["payload"]
        return payload

    def actions(self, coord: str) -> list[str]:
        """The memory's audit actions, newest first, but for links (audited on their own)."""
        entries = self.client.get(f"{BASE}/audit", params={"coord": coord}).json()["entries"]
        return [entry["action"] for entry in entries if entry["action"] != "link"]


@pytest.fixture
def serve(make_settings: SettingsFactory) -> Iterator[Any]:
    clients: list[TestClient] = []

    def start(**settings: Any) -> Server:
        client = TestClient(create_app(make_settings(**settings)))
        client.__enter__()
        clients.append(client)
        client.headers.update(AUTH)
        clock = Clock()
        client.app.state.runtime.service.clock = clock  # type: ignore[attr-defined]
        return Server(client, clock)

    yield start
    for client in clients:
        client.__exit__(None, None, None)


def summary(decayed: int = 0, forgotten: int = 0, consolidated: int = 0, created: int = 0) -> dict[str, Any]:
    return {
        "namespaces": 1,
        "decayed": decayed,
        "forgotten": forgotten,
        "consolidated": consolidated,
        "created": created,
        "dry_run": False,
        "retried": 0,
        "skipped": 0,
    }


def test_decay_drops_the_listed_keys_from_the_age_of_each_rule(serve: Any) -> None:
    server = serve(decay_rules=RULES)
    full = {"text": "the build broke", "scratch": "tmp", "raw": "log", "details": "x"}
    server.put("1", full, T0)
    server.put("2", full, T0 + 1)
    assert server.maintain(T0 + 99) == summary()
    assert server.maintain(T0 + 100) == summary(decayed=1)  # 1 is exactly 100 s old; 2 is 99 s old
    assert server.payload("1") == {"text": "the build broke", "raw": "log", "details": "x"}
    assert server.payload("2") == full
    versions = server.client.get(f"{BASE}/memories/1/versions").json()["versions"]
    assert [(v["number"], v["payload"]) for v in versions] == [(1, full)]
    assert server.actions("1") == ["decay", "store"]
    assert server.maintain(T0 + 100) == summary()  # a second pass changes nothing
    assert server.actions("1") == ["decay", "store"]
    assert server.maintain(T0 + 200) == summary(decayed=2)
    assert server.payload("1") == {"text": "the build broke"}
    assert server.payload("2") == {"text": "the build broke", "raw": "log", "details": "x"}
    assert server.maintain(T0 + 1000) == summary(decayed=1)
    assert server.payload("2") == {"text": "the build broke"}
    assert server.maintain(T0 + 1000) == summary()


def test_a_decayed_key_is_no_longer_found_in_the_word_index_or_the_vector_index(serve: Any) -> None:
    server = serve(decay_rules=[{"after_seconds": 10, "drop": ["scratch"]}])
    server.put("1", {"text": "deploy notes", "scratch": "zanzibar"}, T0)
    search = {"term": "zanzibar", "exact": False}
    dense = {"query": "deploy notes", "ranking": "dense", "filters": {"scratch": "zanzibar"}}
    assert len(server.client.post(f"{BASE}/search", json=search).json()["results"]) == 1
    assert len(server.client.post(f"{BASE}/recall", json=dense).json()["results"]) == 1
    server.maintain(T0 + 10)
    assert server.client.post(f"{BASE}/search", json=search).json()["results"] == []
    assert server.client.post(f"{BASE}/recall", json=dense).json()["results"] == []


def test_forgetting_deletes_only_old_memories_below_the_floor(serve: Any) -> None:
    server = serve(forget_below_importance=0.3, forget_after_seconds=100)
    server.put("1", {"text": "a", "importance": 0.2}, T0)
    server.put("2", {"text": "b", "importance": 0.3}, T0)  # at the floor: kept
    server.put("3", {"text": "c", "importance": 0.1}, T0 + 1)  # 99 s old at T0 + 100: kept
    assert server.maintain(T0 + 100) == summary(forgotten=1)
    assert server.client.get(f"{BASE}/memories/1").status_code == 404
    assert [server.payload(c)["text"] for c in ("2", "3")] == ["b", "c"]
    assert server.actions("1") == ["forget", "store"]
    assert server.maintain(T0 + 100) == summary()
    assert server.maintain(T0 + 101) == summary(forgotten=1)
    assert server.client.get(f"{BASE}/stats").json()["total_memories"] == 1


def test_consolidation_summarises_each_ended_window_and_links_its_sources(serve: Any) -> None:
    server = serve(consolidation_window_seconds=100)
    server.put("2", {"text": "opened the ticket"}, T0)
    server.put("1", {"text": "fixed the bug", "n": 2, "importance": 0.8}, T0 + 99.5)
    server.put("3", {"text": "next window"}, T0 + 100)  # a window's end starts the next one
    server.put("6", {"text": "next window too"}, T0 + 150)
    server.put("4", {"fact": "not episodic"}, T0 + 10, "semantic")
    server.put("5", {"text": "window still open"}, T0 + 250)
    server.put("7", {"text": "window still open too"}, T0 + 260)
    assert server.maintain(T0 + 299) == summary(consolidated=4, created=2)
    into = server.payload("1")["consolidated_into"]
    assert server.payload("2")["consolidated_into"] == into
    coord = ",".join(str(x) for x in into)
    semantic = server.client.get(f"{BASE}/memories/{coord}").json()
    assert (semantic["type"], semantic["importance"], into[:2]) == ("semantic", 0.8, [T0, T0 + 100])
    assert semantic["payload"] == {
        "fact": "2 episodic memories from 1970-01-12T13:46:40Z to 1970-01-12T13:48:20Z",
        "consolidated_from": [[2.0], [1.0]],
        "texts": ["opened the ticket", "fixed the bug"],
        "window": [T0, T0 + 100],
    }
    links = server.client.get(f"{BASE}/memories/{coord}/links").json()["links"]
    assert sorted((link["to"], link["type"]) for link in links) == [
        ([1.0], "consolidated"),
        ([2.0], "consolidated"),
    ]
    assert server.payload("1") == {
        "text": "fixed the bug",
        "n": 2,
        "importance": 0.8,
        "consolidated_into": into,
    }
    second = server.payload("3")["consolidated_into"]
    assert second[:2] == [T0 + 100, T0 + 200] and server.payload("6")["consolidated_into"] == second
    assert ["consolidated_into" in server.payload(c) for c in ("4", "5", "7")] == [False, False, False]
    assert server.actions("1") == ["consolidate", "store"]
    assert server.actions(coord) == ["consolidate"]
    assert server.maintain(T0 + 299) == summary()  # consolidated sources are not consolidated again
    assert server.client.get(f"{BASE}/stats").json()["semantic"] == 3
    assert server.maintain(T0 + 300) == summary(consolidated=2, created=1)  # the window of 5 and 7 ended


def test_consolidation_needs_min_memories_in_a_window(serve: Any) -> None:
    server = serve(consolidation_window_seconds=100, consolidation_min_memories=3)
    server.put("1", {"text": "a"}, T0)
    server.put("2", {"text": "b"}, T0 + 1)
    assert server.maintain(T0 + 100) == summary()
    server.put("3", {"text": "c"}, T0 + 2)
    assert server.maintain(T0 + 100) == summary(consolidated=3, created=1)


def test_a_dry_run_counts_and_changes_nothing(serve: Any) -> None:
    server = serve(decay_rules=RULES, forget_below_importance=0.3, consolidation_window_seconds=100)
    server.put("1", {"text": "a", "scratch": 1, "importance": 0.9}, T0)
    server.put("2", {"text": "b", "importance": 0.9}, T0 + 1)
    server.put("3", {"text": "c", "importance": 0.1}, T0 + 2)
    expected = summary(decayed=1, forgotten=1, consolidated=2, created=1)
    assert server.maintain(T0 + 100_000, dry_run=True) == {**expected, "dry_run": True}
    assert server.client.get(f"{BASE}/stats").json()["total_memories"] == 3
    assert server.payload("1") == {"text": "a", "scratch": 1, "importance": 0.9}
    assert server.maintain(T0 + 100_000) == expected


def test_without_a_policy_a_pass_changes_nothing(serve: Any) -> None:
    server = serve()
    server.put("1", {"text": "a", "scratch": 1, "importance": 0.0}, T0)
    assert server.maintain(T0 + 10**9) == summary()
    no_body = server.client.post(f"{BASE}/maintain")
    assert no_body.status_code == 200, no_body.text
    assert no_body.json() == summary()


def test_maintain_every_namespace(serve: Any) -> None:
    server = serve(decay_rules=[{"after_seconds": 0, "drop": ["scratch"]}])
    for namespace in ("a", "b"):
        server.client.put(f"/v1/namespaces/{namespace}/memories/1", json={"payload": {"scratch": 1, "t": 2}})
    answer = server.client.post("/v1/maintain", json={})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {**summary(decayed=2), "namespaces": 2}
    assert server.client.get("/v1/namespaces/b/memories/1").json()["payload"] == {"t": 2}


def test_bad_maintenance_requests_are_refused(client: TestClient) -> None:
    answer = client.post(f"{BASE}/maintain", json={"dry_run": "yes"})
    assert (answer.status_code, answer.json()["error"]["message"]) == (
        422,
        "dry_run: Input should be a valid boolean",
    )
    for path in ("replay", "reflect"):
        refused = client.get(f"{BASE}/{path}", params={"limit": 0})
        assert refused.status_code == 422, refused.text
        assert client.get(f"{BASE}/{path}", params={"limit": 1001}).status_code == 422


def coords(answer: Any) -> list[list[float]]:
    assert answer.status_code == 200, answer.text
    return [memory["coord"] for memory in answer.json()["results"]]


def test_replay_lists_the_most_important_episodic_memories(client: TestClient) -> None:
    for coord, importance, memory_type in [("1", 0.2, "episodic"), ("2", 0.9, "episodic"),
                                           ("3", 1.0, "semantic"), ("4", 0.2, "episodic")]:  # fmt: skip
        client.put(
            f"{BASE}/memories/{coord}", json={"payload": {"importance": importance}, "type": memory_type}
        )
    assert coords(client.get(f"{BASE}/replay")) == [[2.0], [4.0], [1.0]]
    assert coords(client.get(f"{BASE}/replay", params={"limit": 1})) == [[2.0]]


def test_reflect_lists_the_latest_semantic_memories(client: TestClient) -> None:
    for coord, memory_type in [("1", "semantic"), ("2", "episodic"), ("3", "semantic")]:
        client.put(f"{BASE}/memories/{coord}", json={"payload": {"fact": coord}, "type": memory_type})
    assert coords(client.get(f"{BASE}/reflect")) == [[3.0], [1.0]]
    assert coords(client.get(f"{BASE}/reflect", params={"limit": 1})) == [[3.0]]
