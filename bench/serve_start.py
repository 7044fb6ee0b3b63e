"""`soma serve` on an existing data directory: launch to a ready /readyz, resident memory once ready,
dense recall over HTTP, resident memory after it.

    python bench/ann_scale.py --size 1000000 --data DIR    # once: a data directory holding the index
    python bench/serve_start.py DIR [--cold] [--queries 1000]

``--cold`` first drops every file of the directory from the page cache (``posix_fadvise`` DONTNEED),
so the start reads from disk what it needs. The recalls are ``/v1/namespaces/ns/recall`` with
``ranking: dense`` on a few random words; with ann_scale.py's directory the store is empty, so each one
measures the vector index's search and the service around it, not the hydration of memories.
"""

import argparse
import os
import secrets
import time
from pathlib import Path

import httpx
import numpy as np
from ann_scale import NAMESPACE, drop_page_cache

from somafractalmemory.cli.bench_scale import resident_mib
from somafractalmemory.cli.server_process import ServerProcess

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "memory", "agent", "plan", "note", "task"]
READY_TIMEOUT = 120.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--cold", action="store_true")
    parser.add_argument("--queries", type=int, default=1000)
    args = parser.parse_args()
    if args.cold:
        drop_page_cache(args.data_dir)
    token = secrets.token_urlsafe(32)
    rng = np.random.default_rng(3)
    with (args.data_dir.parent / "serve_start.log").open("wb") as log:
        started = time.perf_counter()
        server = ServerProcess(
            args.data_dir,
            token=token,
            environment={"SOMA_RATE_LIMIT_PER_MINUTE": "0"},
            log=log,
            start_timeout=READY_TIMEOUT,
        )
        headers = {"Authorization": f"Bearer {token}"}
        with server, httpx.Client(base_url=server.url, timeout=30, headers=headers) as client:
            while client.get("/readyz").status_code != 200:
                time.sleep(0.02)
            ready = time.perf_counter() - started
            ready_mib = resident_mib(server.pid)
            samples = []
            for _ in range(args.queries):
                body = {"query": " ".join(rng.choice(WORDS, 4)), "top_k": 10, "ranking": "dense"}
                sent = time.perf_counter()
                client.post(f"/v1/namespaces/{NAMESPACE}/recall", json=body).raise_for_status()
                samples.append(time.perf_counter() - sent)
            p50, p95 = np.percentile(np.array(samples) * 1e3, [50, 95])
            cache = "cold" if args.cold else "warm"
            print(
                f"| {cache} | {ready:.2f} | {ready_mib:,.0f} | {p50:.2f} / {p95:.2f} | "
                f"{resident_mib(server.pid):,.0f} | {os.getloadavg()[0]:.1f} |"
            )


if __name__ == "__main__":
    main()
