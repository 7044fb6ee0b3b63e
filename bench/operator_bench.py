"""Operator numbers (DESIGN.md section 5): time from a MemorySystem's creation to all its children
applied, and the operator's resident memory with 20 MemorySystems.

The operator runs as its own process, exactly as deployed (`soma-operator run --all-namespaces`),
logged in through a kubeconfig that points at kmock's Kubernetes emulator served by this script.

    .venv/bin/python bench/operator_bench.py [--systems 20]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import kmock
import psutil
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "operator"))

from kube_emulator import DECLARED, ApiServerEmulator

from soma_operator.builders import BuildContext, Credentials, render
from soma_operator.config import OperatorConfig
from soma_operator.spec import MemorySystem

NAMESPACE = "default"
URL = f"/apis/memory.soma.dev/v1alpha1/namespaces/{NAMESPACE}/memorysystems"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def kubeconfig(server: str, directory: Path) -> Path:
    path = directory / "kubeconfig"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "emulator", "cluster": {"server": server}}],
        "users": [{"name": "bench", "user": {"token": "bench"}}],
        "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "bench"}}],
        "current-context": "emulator",
    }
    path.write_text(yaml.safe_dump(config))
    return path


def expected_children(name: str) -> set[tuple[str, str]]:
    body = {"metadata": {"name": name, "namespace": NAMESPACE, "uid": "-"}, "spec": {}}
    manifests = render(BuildContext(MemorySystem.from_body(body), OperatorConfig(), Credentials()))
    return {(m["kind"], m["metadata"]["name"]) for m in manifests}


def all_exist(emulator: ApiServerEmulator, children: set[tuple[str, str]]) -> bool:
    return all(emulator.live(DECLARED[kind][0], NAMESPACE, name) is not None for kind, name in children)


async def time_to_children(emulator: ApiServerEmulator, name: str, timeout: float = 60) -> float:
    wanted = expected_children(name)
    body: dict[str, Any] = {
        "apiVersion": "memory.soma.dev/v1alpha1",
        "kind": "MemorySystem",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {},
    }
    started = time.perf_counter()
    async with emulator.post(URL, json=body) as response:
        response.raise_for_status()
    while not all_exist(emulator, wanted):
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"{name}: children not applied within {timeout} s")
        await asyncio.sleep(0.01)
    return time.perf_counter() - started


async def wait_for_liveness(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the operator exited with {process.returncode}")
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        writer.close()
        return
    raise TimeoutError("the operator's liveness endpoint did not come up")


async def bench(systems: int) -> None:
    operator_cli = shutil.which("soma-operator", path=str(Path(sys.executable).parent))
    if operator_cli is None:
        raise SystemExit("soma-operator is not installed next to this Python")
    async with ApiServerEmulator() as emulator, kmock.Server(emulator) as server:
        with tempfile.TemporaryDirectory() as directory:
            liveness_port = free_port()
            env = {**os.environ, "KUBECONFIG": str(kubeconfig(str(server.url), Path(directory)))}
            process = subprocess.Popen(  # noqa: S603  the operator's own console script
                [
                    operator_cli,
                    "run",
                    "--all-namespaces",
                    "--log-format=plain",
                    f"--liveness=http://127.0.0.1:{liveness_port}/healthz",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            try:
                await wait_for_liveness(liveness_port, process)
                durations = [await time_to_children(emulator, f"bench-{index}") for index in range(systems)]
                await asyncio.sleep(5)  # let the retries of "not ready yet" settle into their rhythm
                rss_mib = psutil.Process(process.pid).memory_info().rss / 2**20
            finally:
                process.terminate()
                process.wait(timeout=30)

    children = len(expected_children("bench-0"))
    print(f"MemorySystems created one after another: {systems} (minimal sample, {children} children each)")
    first, median, worst = (
        round(d * 1000) for d in (durations[0], statistics.median(durations), max(durations))
    )
    print(f"CR created -> all children applied: first {first} ms, median {median} ms, max {worst} ms")
    print("  (target: under 2000 ms)")
    print(f"operator resident memory with {systems} MemorySystems: {rss_mib:.0f} MiB (target: under 150 MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--systems", type=int, default=20)
    asyncio.run(bench(parser.parse_args().systems))


if __name__ == "__main__":
    main()
