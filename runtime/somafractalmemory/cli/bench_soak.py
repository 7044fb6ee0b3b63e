"""``soma bench --soak``: many concurrent clients against a real ``soma serve`` for a while.

The server is seeded with SEED_MEMORIES memories at the coordinates (k, 0). Each client thread holds
one keep-alive connection and, in a loop, stores a memory (two times in three) or recalls the top 10
for a query (one time in three), until the time is up. A store replaces one of the seeded memories,
so the data does not grow: growth of the server's resident memory (read from /proc after a warm-up and
at the end) is a leak. Every answer that is not 2xx and every transport error counts as an error.
"""

import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from somafractalmemory.cli.bench_http import LeanClient
from somafractalmemory.cli.bench_workload import Workload

RECALL_SHARE = 3  # one request in this many is a recall
WARMUP_SECONDS = 5.0  # at most; a short soak warms up for a quarter of its time
SEED_MEMORIES = 5_000


@dataclass
class SoakResult:
    requests: int = 0
    errors: int = 0
    latencies_ns: list[int] = field(default_factory=list)
    first_error: str | None = None
    rss_start_kib: int = 0
    rss_end_kib: int = 0
    seconds: float = 0.0

    @property
    def rss_growth(self) -> float:
        return (self.rss_end_kib - self.rss_start_kib) / self.rss_start_kib if self.rss_start_kib else 0.0


def resident_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


class _Client(threading.Thread):
    def __init__(self, url: str, token: str, seed: int, until: float) -> None:
        super().__init__(daemon=True)
        self._url, self._token = url, token
        self._workload = Workload(seed)
        self._random = random.Random(seed)
        self._until = until
        self.latencies: list[int] = []
        self.errors = 0
        self.first_error: str | None = None

    def run(self) -> None:
        client = LeanClient(self._url, self._token, timeout=30)
        turn = 0
        while time.monotonic() < self._until:
            turn += 1
            if turn % RECALL_SHARE == 0:
                method, path = "POST", "/v1/namespaces/bench/recall"
                body = {"query": self._workload.query(), "top_k": 10}
            else:
                memory = self._workload.memory()
                method = "PUT"
                path = f"/v1/namespaces/bench/memories/{self._random.randrange(SEED_MEMORIES)},0"
                body = {"payload": memory.payload, "type": memory.memory_type.value}
            status = 0
            try:
                started = time.perf_counter_ns()
                status, answer = client.call(method, path, body)
                self.latencies.append(time.perf_counter_ns() - started)
            except OSError as error:
                answer = str(error).encode()
                client.close()
                client = LeanClient(self._url, self._token, timeout=30)
            if not 200 <= status < 300:
                self.errors += 1
                self.first_error = self.first_error or f"{method} {path}: {status} {answer[:200]!r}"
        client.close()


def soak(url: str, token: str, pid: int, clients: int, seconds: float) -> SoakResult:
    seeder = LeanClient(url, token)
    workload = Workload(7)
    for start in range(0, SEED_MEMORIES, 500):
        items = [
            {"coord": [float(start + k), 0.0], "payload": m.payload}
            for k, m in enumerate(workload.memories(500))
        ]
        seeder.call("POST", "/v1/namespaces/bench/bulk", {"items": items})
    seeder.close()
    result = SoakResult()
    warm_until = time.monotonic() + min(WARMUP_SECONDS, seconds / 4)
    warm = [_Client(url, token, 1000 + n, warm_until) for n in range(clients)]
    for thread in warm:
        thread.start()
    for thread in warm:
        thread.join()
    result.rss_start_kib = resident_kib(pid)
    started = time.monotonic()
    workers = [_Client(url, token, n, started + seconds) for n in range(clients)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    result.seconds = time.monotonic() - started
    result.rss_end_kib = resident_kib(pid)
    for thread in workers:
        result.latencies_ns += thread.latencies
        result.errors += thread.errors
        result.first_error = result.first_error or thread.first_error
    result.requests = len(result.latencies_ns) + result.errors
    return result
