"""The benchmark's lean HTTP client and the measurements that need one: a bare ``/healthz`` round trip
next to a store on the same keep-alive connection, and ``/healthz`` while the heaviest allowed requests
run on other connections.

``http.client`` adds little of its own to a round trip (httpx adds about 0.3 ms), so what is timed is
the server.
"""

import http.client
import json
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from somafractalmemory.cli.bench_workload import Workload

PROBE_INTERVAL_SECONDS = 0.01


class LeanClient:
    """One keep-alive connection; every call answers (status, body)."""

    def __init__(self, url: str, token: str, timeout: float = 120.0) -> None:
        parts = urlsplit(url)
        self._connection = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
        self._headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = None if body is None else json.dumps(body).encode()
        self._connection.request(method, path, body=data, headers=self._headers)
        answer = self._connection.getresponse()
        return answer.status, answer.read()

    def close(self) -> None:
        self._connection.close()


def timed_call(client: LeanClient, method: str, path: str, body: Any = None) -> int:
    """Nanoseconds of one round trip."""
    started = time.perf_counter_ns()
    client.call(method, path, body)
    return time.perf_counter_ns() - started


def store_body(workload: Workload) -> tuple[str, dict[str, Any]]:
    item = workload.memory()
    coord = ",".join(str(c) for c in item.coordinate)
    return f"/v1/namespaces/bench/memories/{coord}", {"payload": item.payload, "type": item.memory_type.value}


def healthz_and_store(client: LeanClient, workload: Workload, count: int) -> tuple[list[int], list[int]]:
    """Alternating bare /healthz and single stores on one connection: nanoseconds of each."""
    health: list[int] = []
    stores: list[int] = []
    for _ in range(count):
        health.append(timed_call(client, "GET", "/healthz"))
        path, body = store_body(workload)
        stores.append(timed_call(client, "PUT", path, body))
    return health, stores


def heaviest_requests(workload: Workload, bulk_items: int, batch_queries: int) -> list[tuple[str, Any]]:
    """The largest bulk store the budget allows, then a batch of hybrid recalls as large as allowed."""
    items = []
    for memory in workload.memories(bulk_items):
        coord = ",".join(str(c) for c in memory.coordinate)
        items.append({"coord": coord, "payload": memory.payload, "type": memory.memory_type.value})
    queries = [workload.query() for _ in range(batch_queries)]
    top_k = max(1, 10_000 // batch_queries)
    return [
        ("/store_bulk", {"items": items}),
        ("/recall_batch", {"queries": queries, "top_k": top_k, "hybrid": True}),
    ]


def probe_while_heavy(url: str, token: str, requests: list[tuple[str, Any]]) -> list[int]:
    """/healthz every 10 ms on its own connection while each heavy request runs on another: the
    probe latencies (ns)."""
    probes: list[int] = []
    for path, body in requests:
        probes += _probe_during(url, token, path, body)
    return probes


def _probe_during(url: str, token: str, path: str, body: Any) -> list[int]:
    heavy = LeanClient(url, token)
    prober = LeanClient(url, token)
    done = threading.Event()
    outcome: list[int] = []

    def run_heavy() -> None:
        try:
            outcome.append(heavy.call("POST", path, body)[0])
        finally:
            done.set()

    probes: list[int] = []
    thread = threading.Thread(target=run_heavy)
    thread.start()
    try:
        while not done.is_set():
            probes.append(timed_call(prober, "GET", "/healthz"))
            done.wait(PROBE_INTERVAL_SECONDS)
        thread.join()
    finally:
        heavy.close()
        prober.close()
    if outcome != [200]:
        raise RuntimeError(f"the heavy request {path} answered {outcome}")
    return probes
