"""spec.embedding on a real control plane: the model fetch Job and the reindex Job run by the real Job
controller under the RBAC config/rbac ships, and the system Ready only once each completed.

No kubelet runs here: the test makes the workloads' pods ready and ends each Job's pod as the kubelet
would (the same helpers as the restore's test)."""

from __future__ import annotations

from typing import Any

import pytest
from test_backup_on_control_plane import end_pod, job_finished, wait_for, wait_for_value

from soma_operator.builders.labels import COMPONENT_LABEL, instance_labels
from support.control_plane import ControlPlane, KubeApi, mark_pods_ready
from support.operator_cluster import MS_API, OperatorProcess, memory_system

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
COMPONENTS = ("postgres", "redis", "qdrant", "api")


def live_status(api: KubeApi, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = (api.get(MS_API, "MemorySystem", name, namespace) or {}).get("status") or {}
    return found


def condition(api: KubeApi, namespace: str, name: str, kind: str) -> dict[str, Any]:
    conditions = live_status(api, namespace, name).get("conditions") or []
    return next((c for c in conditions if c["type"] == kind), {})


def pods_ready(api: KubeApi, namespace: str, name: str) -> None:
    for component in COMPONENTS:
        mark_pods_ready(api, namespace, {**instance_labels(name), COMPONENT_LABEL: component})


def job_pod(api: KubeApi, namespace: str, name: str, component: str) -> dict[str, Any] | None:
    pods = api.list("v1", "Pod", namespace, {**instance_labels(name), COMPONENT_LABEL: component})
    return pods[0] if pods else None


def needs_job_controller(control_plane: ControlPlane) -> None:
    if not control_plane.has_controller_manager:
        pytest.skip("no kube-controller-manager in the assets: no Job controller runs")


def test_an_onnx_system_is_ready_once_the_fetch_job_completed(
    control_plane: ControlPlane, namespace: str, operator: OperatorProcess
) -> None:
    needs_job_controller(control_plane)
    api = control_plane.api
    embedding = {"provider": "onnx", "modelCache": {"size": "1Gi"}}
    api.apply(
        memory_system("neural", namespace, {"mode": "direct", "api": {"replicas": 1}, "embedding": embedding})
    )

    def fetching() -> dict[str, Any] | None:
        pods_ready(api, namespace, "neural")
        if condition(api, namespace, "neural", "ModelReady").get("reason") != "FetchingModel":
            return None
        return job_pod(api, namespace, "neural", "models")

    pod = wait_for_value(fetching, "the fetch Job's pod, the stores being ready", operator)
    assert live_status(api, namespace, "neural")["phase"] == "Provisioning"
    [container] = pod["spec"]["containers"]
    assert container["command"][:6] == ["soma", "models", "fetch", "--model", MODEL, "--to"]
    claim = api.get("v1", "PersistentVolumeClaim", "neural-models", namespace) or {}
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"

    end_pod(api, namespace, pod, 0, "")
    wait_for(
        lambda: job_finished(api, namespace, "neural-models", "Complete"), "the fetch Job Complete", operator
    )
    wait_for(
        lambda: live_status(api, namespace, "neural").get("phase") == "Ready", "the system Ready", operator
    )
    assert condition(api, namespace, "neural", "ModelReady")["message"] == (
        f"Job neural-models fetched {MODEL} into claim neural-models"
    )


def test_a_change_of_dimensions_is_reindexed_by_a_job(
    control_plane: ControlPlane, namespace: str, operator: OperatorProcess
) -> None:
    needs_job_controller(control_plane)
    api = control_plane.api

    def system(dimensions: int) -> dict[str, Any]:
        spec = {"mode": "direct", "api": {"replicas": 1}, "embedding": {"dimensions": dimensions}}
        return memory_system("moving", namespace, spec)

    api.apply(system(384))

    def ready() -> bool:
        pods_ready(api, namespace, "moving")
        return live_status(api, namespace, "moving").get("phase") == "Ready"

    wait_for(ready, "the system Ready", operator)
    assert live_status(api, namespace, "moving")["indexedEmbedding"] == "hashing/384"

    api.apply(system(256))

    def reindexing() -> dict[str, Any] | None:
        pods_ready(api, namespace, "moving")  # the API's new pods, on the new settings
        return job_pod(api, namespace, "moving", "reindex")

    pod = wait_for_value(reindexing, "the reindex Job's pod, the API rolled out", operator)
    [container] = pod["spec"]["containers"]
    assert container["command"] == ["soma", "reindex", "--quiet"]
    job = pod["metadata"]["labels"]["batch.kubernetes.io/job-name"]
    assert job.startswith("moving-reindex-")
    assert live_status(api, namespace, "moving")["indexedEmbedding"] == "hashing/384"

    end_pod(api, namespace, pod, 0, "")
    wait_for(lambda: job_finished(api, namespace, job, "Complete"), "the reindex Job Complete", operator)
    wait_for(
        lambda: live_status(api, namespace, "moving").get("indexedEmbedding") == "hashing/256",
        "the status on the new embedding",
        operator,
    )
    wait_for(lambda: live_status(api, namespace, "moving").get("phase") == "Ready", "Ready again", operator)
    assert condition(api, namespace, "moving", "Reindexed")["message"] == (
        f"Job {job} re-embedded every memory from hashing/384 to hashing/256"
    )
