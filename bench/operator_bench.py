"""Operator numbers (DESIGN.md section 5) on a real control plane: time from a MemorySystem's creation to all
its children applied, and the operator's resident memory with 20 MemorySystems.

etcd, kube-apiserver and kube-controller-manager run as in the control-plane test tier (binaries from
KUBEBUILDER_ASSETS or the shared/k8s folder beside the repository); the operator runs as its own process,
exactly as deployed (`soma-operator run --namespace bench`), under a ServiceAccount bound to config/rbac.

    .venv/bin/python bench/operator_bench.py [--systems 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.control_plane import ControlPlane, KubeApi, started_control_plane
from support.operator_cluster import (
    OPERATOR_ACCOUNT,
    OPERATOR_NAMESPACE,
    OperatorProcess,
    install_crd,
    labelled_children,
    memory_system,
    rendered_children,
    shipped_rbac,
)

NAMESPACE = "bench"


def time_to_children(api: KubeApi, name: str, timeout: float = 60) -> float:
    wanted = rendered_children(memory_system(name, NAMESPACE, {}))
    started = time.perf_counter()
    api.apply(memory_system(name, NAMESPACE, {}))
    while not wanted <= labelled_children(api, NAMESPACE, name):
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"{name}: children not applied within {timeout} s")
        time.sleep(0.01)
    return time.perf_counter() - started


def run(plane: ControlPlane, systems: int, workdir: Path) -> None:
    install_crd(plane.api)
    plane.ensure_namespace(NAMESPACE)
    plane.ensure_namespace(OPERATOR_NAMESPACE)
    for document in shipped_rbac(NAMESPACE):
        plane.api.apply(document)
    kubeconfig = plane.service_account_kubeconfig(OPERATOR_NAMESPACE, OPERATOR_ACCOUNT)
    # The production recheck interval of systems that are not ready yet, as deployed.
    operator = OperatorProcess(kubeconfig, [NAMESPACE], workdir / "operator.log", recheck_seconds=None)
    operator.start()
    try:
        durations = [time_to_children(plane.api, f"bench-{index}") for index in range(systems)]
        time.sleep(5)  # let the retries of "not ready yet" settle into their rhythm
        rss_mib = psutil.Process(operator.pid).memory_info().rss / 2**20
    finally:
        operator.stop()

    children = len(rendered_children(memory_system("bench-0", NAMESPACE, {})))
    print(f"MemorySystems created one after another: {systems} (minimal sample, {children} children each)")
    print("on a real kube-apiserver v1.32 + etcd + kube-controller-manager, operator under config/rbac")
    first, median, worst = (
        round(d * 1000) for d in (durations[0], statistics.median(durations), max(durations))
    )
    print(f"CR created -> all children applied: first {first} ms, p50 {median} ms, max {worst} ms")
    print("  (target: under 2000 ms)")
    print(f"operator resident memory with {systems} MemorySystems: {rss_mib:.0f} MiB (target: under 150 MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--systems", type=int, default=20)
    systems = parser.parse_args().systems
    with tempfile.TemporaryDirectory() as directory:
        for plane in started_control_plane():
            run(plane, systems, Path(directory))


if __name__ == "__main__":
    main()
