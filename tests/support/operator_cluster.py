"""Pieces of the control-plane tier: the CRD installed, the shipped RBAC, and `soma-operator run` as its own
process under a ServiceAccount bound to exactly that RBAC."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from soma_operator import builders
from soma_operator.builders.context import BuildContext, Credentials
from soma_operator.builders.labels import instance_labels
from soma_operator.config import OperatorConfig
from soma_operator.spec import MemorySystem
from support.control_plane import REPO, KubeApi, load_documents
from support.servers import HOST, free_port, wait_until

CRD_FILE = REPO / "crds" / "memory.soma.dev_memorysystems.yaml"
RBAC_DIR = REPO / "config" / "rbac"
SAMPLES_DIR = REPO / "config" / "samples"
MS_API = "memory.soma.dev/v1alpha1"
OPERATOR_NAMESPACE = "soma-system"
OPERATOR_ACCOUNT = "soma-operator"


def install_crd(api: KubeApi, path: Path = CRD_FILE) -> dict[str, Any]:
    [crd] = load_documents(path)
    api.apply(crd)
    name = crd["metadata"]["name"]

    def established() -> bool:
        live = api.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name) or {}
        conditions = {c["type"]: c["status"] for c in (live.get("status") or {}).get("conditions") or []}
        return conditions.get("Established") == "True"

    wait_until(established, timeout=30, what=f"CRD {name} Established", interval=0.1)
    api.forget_discovery()
    live = api.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", name)
    assert live is not None
    return live


def shipped_rbac(watched_namespace: str) -> list[dict[str, Any]]:
    """config/rbac as its comments say to apply it for one watched namespace: the account and a Role there."""
    service_account = load_documents(RBAC_DIR / "service_account.yaml")
    role_documents = load_documents(RBAC_DIR / "role.yaml")
    for document in role_documents:
        document["metadata"]["namespace"] = watched_namespace
    return [*service_account, *role_documents]


class OperatorProcess:
    """`soma-operator run --namespace NS` as a child process, logged into its own file."""

    def __init__(
        self,
        kubeconfig: Path,
        namespaces: list[str],
        log_path: Path,
        recheck_seconds: float | None = 1.0,
        status_refresh_seconds: float | None = None,
    ) -> None:
        self.recheck_seconds = recheck_seconds
        self.status_refresh_seconds = status_refresh_seconds
        self.kubeconfig = kubeconfig
        self.namespaces = namespaces
        self.log_path = log_path
        self.liveness_port = free_port()
        self._process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        scope = [arg for ns in self.namespaces for arg in ("--namespace", ns)]
        return [
            str(Path(sys.executable).with_name("soma-operator")),
            "run",
            *scope,
            "--log-format=plain",
            f"--liveness=http://{HOST}:{self.liveness_port}/healthz",
        ]

    def start(self) -> None:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("SOMA_", "KUBE"))},
            "KUBECONFIG": str(self.kubeconfig),
        }
        if self.recheck_seconds is not None:  # tests see a system turn Ready soon after its pods
            env["SOMA_READINESS_RECHECK_SECONDS"] = str(self.recheck_seconds)
        if self.status_refresh_seconds is not None:  # drills see a lost pod without waiting a minute
            env["SOMA_STATUS_REFRESH_SECONDS"] = str(self.status_refresh_seconds)
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, env=env)
        wait_until(self._live, timeout=30, what="the operator's liveness endpoint", interval=0.2)

    def _live(self) -> bool:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(f"soma-operator exited with {self._process.returncode}:\n{self.log()[-3000:]}")
        try:
            return httpx.get(f"http://{HOST}:{self.liveness_port}/healthz", timeout=2).status_code == 200
        except httpx.TransportError:
            return False

    @property
    def pid(self) -> int:
        assert self._process is not None, "the operator is not running"
        return self._process.pid

    def stop(self) -> None:
        if self._process is None:
            return
        self._process.send_signal(signal.SIGTERM)
        try:
            self._process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def sample(name: str) -> dict[str, Any]:
    [document] = load_documents(SAMPLES_DIR / name)
    return document


def memory_system(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": MS_API,
        "kind": "MemorySystem",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


# The API versions of every kind the operator creates for a MemorySystem.
CHILD_API_VERSIONS = {
    "Secret": "v1",
    "ConfigMap": "v1",
    "ServiceAccount": "v1",
    "Service": "v1",
    "StatefulSet": "apps/v1",
    "Deployment": "apps/v1",
    "PodDisruptionBudget": "policy/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
}


def rendered_children(body: dict[str, Any]) -> set[tuple[str, str]]:
    """(kind, name) of what the operator's own builders say it creates for this MemorySystem."""
    context = BuildContext(MemorySystem.from_body(body), OperatorConfig(), Credentials())
    return {(m["kind"], m["metadata"]["name"]) for m in builders.render(context)}


def labelled_children(api: KubeApi, namespace: str, name: str) -> set[tuple[str, str]]:
    """(kind, name) of what exists in the namespace with the MemorySystem's instance labels."""
    return {
        (kind, item["metadata"]["name"])
        for kind, api_version in CHILD_API_VERSIONS.items()
        for item in api.list(api_version, kind, namespace, instance_labels(name))
    }
