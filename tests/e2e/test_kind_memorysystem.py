"""A MemorySystem's life on a real cluster: created from the minimal sample, used, scaled, upgraded,
grown and deleted.

The tests run in file order against one MemorySystem, each step building on the previous one.
"""

from __future__ import annotations

import base64
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kind_cluster import KindCluster

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "config" / "samples" / "minimal.yaml"
DATA_STORES = ("postgres", "redis", "qdrant", "redpanda")
EXPANDABLE_STORAGE_CLASS = "soma-expandable"  # kind/storageclass.yaml
E2E_STORAGE_SIZE = "1Gi"
API_PORT = 9595
READY = "jsonpath={.status.phase}=Ready"
# The consumers index a stored memory asynchronously (evented mode): recall sees it within this bound.
INDEXING_DEADLINE_SECONDS = 60.0


@dataclass(frozen=True)
class System:
    name: str
    namespace: str


@pytest.fixture(scope="module")
def cluster() -> KindCluster:
    kind = KindCluster(os.environ.get("SOMA_E2E_CONTEXT", "kind-soma"))
    kind.kubectl("wait", "crd/memorysystems.memory.soma.dev", "--for=condition=Established", "--timeout=60s")
    return kind


@pytest.fixture(scope="module")
def system(cluster: KindCluster) -> Iterator[System]:
    """The minimal sample in a fresh namespace, its claims on an expandable StorageClass."""
    manifest: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    namespace = f"soma-e2e-{uuid.uuid4().hex[:6]}"
    manifest["metadata"]["namespace"] = namespace
    for store in DATA_STORES:
        storage = {"size": E2E_STORAGE_SIZE, "storageClassName": EXPANDABLE_STORAGE_CLASS}
        manifest.setdefault("spec", {}).setdefault(store, {})["storage"] = storage
    cluster.kubectl("create", "namespace", namespace)
    cluster.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(manifest))
    try:
        yield System(manifest["metadata"]["name"], namespace)
    finally:
        cluster.kubectl("delete", "namespace", namespace, "--wait=false")


def patch(cluster: KindCluster, system: System, spec: dict[str, Any]) -> None:
    body = yaml.safe_dump({"spec": spec})
    cluster.kubectl("patch", "memorysystem", system.name, "-n", system.namespace, "--type=merge", "-p", body)


def api_token(cluster: KindCluster, system: System) -> str:
    secret = cluster.get("secret", f"{system.name}-api-token", system.namespace)
    return base64.b64decode(secret["data"]["token"]).decode()


def recall_until_found(api: httpx.Client, query: str, payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Recall until the stored payload is indexed, up to a deadline: the index is eventually consistent."""
    deadline = time.monotonic() + INDEXING_DEADLINE_SECONDS
    while True:
        response = api.post("/recall", json={"query": query, "top_k": 5})
        response.raise_for_status()
        matches: list[dict[str, Any]] = response.json()["matches"]
        if payload in matches or time.monotonic() > deadline:
            return matches
        time.sleep(1)


def test_the_minimal_sample_becomes_ready(cluster: KindCluster, system: System) -> None:
    cluster.wait_for("memorysystem", system.name, system.namespace, READY, timeout="900s")
    status = cluster.get("memorysystem", system.name, system.namespace)["status"]
    assert status["endpoint"] == f"http://{system.name}-api.{system.namespace}.svc:{API_PORT}"


def test_a_memory_stored_through_the_api_is_recalled(cluster: KindCluster, system: System) -> None:
    payload = {"text": "the blue whale is the largest animal that ever lived", "source": "e2e"}
    memory = {"coord": "1,2,3", "payload": payload, "type": "semantic"}
    with (
        cluster.port_forward(f"{system.name}-api", API_PORT, system.namespace) as port,
        httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as api,
    ):
        assert api.get("/readyz").status_code == 200
        assert api.post("/store", json=memory).status_code == 401
        api.headers["Authorization"] = f"Bearer {api_token(cluster, system)}"
        assert api.post("/store", json=memory).json() == {"ok": True}
        assert payload in recall_until_found(api, "largest animal blue whale", payload)


def test_scaling_the_api_adds_ready_replicas(cluster: KindCluster, system: System) -> None:
    patch(cluster, system, {"api": {"replicas": 3}})
    cluster.wait_for(
        "deployment", f"{system.name}-api", system.namespace, "jsonpath={.status.readyReplicas}=3"
    )
    cluster.wait_for("memorysystem", system.name, system.namespace, READY)


def test_changing_the_version_rolls_the_runtime(cluster: KindCluster, system: System) -> None:
    version = os.environ.get("SOMA_E2E_UPGRADE_VERSION", "0.1.0-e2e")
    patch(cluster, system, {"version": version})
    api = f"{system.name}-api"
    cluster.wait_for(
        "deployment",
        api,
        system.namespace,
        f"jsonpath={{.metadata.labels.app\\.kubernetes\\.io/version}}={version}",
    )
    cluster.kubectl("rollout", "status", f"deployment/{api}", "-n", system.namespace, "--timeout=600s")
    image = cluster.get("deployment", api, system.namespace)["spec"]["template"]["spec"]["containers"][0][
        "image"
    ]
    assert image.endswith(f":{version}")
    cluster.wait_for("memorysystem", system.name, system.namespace, READY)


def test_growing_storage_grows_the_claims(cluster: KindCluster, system: System) -> None:
    size = cluster.get("memorysystem", system.name, system.namespace)["spec"]["postgres"]["storage"]["size"]
    number, unit = size.rstrip("KMGTPEi"), size[len(size.rstrip("KMGTPEi")) :]
    grown = f"{int(number) * 2}{unit}"
    patch(cluster, system, {"postgres": {"storage": {"size": grown}}})
    claim = f"data-{system.name}-postgres-0"
    cluster.wait_for("pvc", claim, system.namespace, f"jsonpath={{.spec.resources.requests.storage}}={grown}")


def test_shrinking_storage_is_refused_at_admission(cluster: KindCluster, system: System) -> None:
    with pytest.raises(AssertionError, match="storage"):
        patch(cluster, system, {"postgres": {"storage": {"size": "1Mi"}}})


def test_deleting_with_retain_keeps_the_claims(cluster: KindCluster, system: System) -> None:
    policy = cluster.get("memorysystem", system.name, system.namespace)["spec"]["storagePolicy"]["onDelete"]
    assert policy == "Retain"
    cluster.kubectl("delete", "memorysystem", system.name, "-n", system.namespace, "--timeout=300s")
    cluster.wait_for("statefulset", f"{system.name}-postgres", system.namespace, "delete", timeout="300s")
    claims = cluster.kubectl(
        "get", "pvc", "-n", system.namespace, "-l", f"app.kubernetes.io/instance={system.name}", "-o", "name"
    ).split()
    assert {f"persistentvolumeclaim/data-{system.name}-{store}-0" for store in DATA_STORES} <= set(claims)
