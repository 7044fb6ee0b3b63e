"""Status from the children's observed state: phase, conditions, and stable transition times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from soma_operator.reconcile import storage_progress
from soma_operator.spec import Component, MemorySystem, MemorySystemSpec
from soma_operator.status import StorageProgress, failed_status, observed_status

EARLIER = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 1, 1, 12, 5, tzinfo=UTC)


def workload(replicas: int, ready: int, *, generation: int = 1, observed: int = 1) -> dict[str, Any]:
    return {
        "metadata": {"generation": generation},
        "spec": {"replicas": replicas},
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": ready,
        },
    }


def all_ready(spec: MemorySystemSpec) -> dict[Component, dict[str, Any] | None]:
    return {c: workload(n, n) for c, n in spec.workload_replicas().items()}


def status(
    spec: MemorySystemSpec,
    workloads: dict[Component, dict[str, Any] | None],
    old: dict[str, Any] | None = None,
    now: datetime = EARLIER,
    storage: list[StorageProgress] | None = None,
    refusal: str | None = None,
) -> dict[str, Any]:
    return observed_status(
        spec=spec,
        workloads=workloads,
        storage=storage or [],
        refusal=refusal,
        old_status=old or {},
        generation=3,
        endpoint="http://m-api.ns.svc:9595",
        now=now,
    )


def conditions(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in result["conditions"]}


def test_nothing_created_yet_is_pending() -> None:
    spec = MemorySystemSpec()
    result = status(spec, dict.fromkeys(spec.workload_replicas()))
    assert result["phase"] == "Pending"
    assert conditions(result)["PostgresReady"]["reason"] == "NotCreated"


def test_children_not_ready_yet_is_provisioning() -> None:
    spec = MemorySystemSpec()
    workloads = all_ready(spec) | {Component.API: workload(2, 0)}
    result = status(spec, workloads)
    assert result["phase"] == "Provisioning"
    assert conditions(result)["Ready"]["status"] == "False"
    api = conditions(result)["ApiReady"]
    assert (api["status"], api["reason"], api["message"]) == ("False", "NotReady", "api: 0/2 replicas ready")
    assert conditions(result)["Progressing"]["status"] == "True"


def test_all_children_ready_is_ready_with_the_endpoint() -> None:
    spec = MemorySystemSpec()
    result = status(spec, all_ready(spec))
    assert result["phase"] == "Ready"
    assert result["endpoint"] == "http://m-api.ns.svc:9595"
    assert result["observedGeneration"] == 3
    expected = {
        "Ready",
        "Progressing",
        "Degraded",
        "PostgresReady",
        "RedisReady",
        "QdrantReady",
        "RedpandaReady",
        "ApiReady",
        "ConsumersReady",
    }
    assert set(conditions(result)) == expected
    assert all(c["status"] == "True" for t, c in conditions(result).items() if t.endswith("Ready"))


def test_losing_readiness_after_ready_is_degraded() -> None:
    spec = MemorySystemSpec()
    ready = status(spec, all_ready(spec))
    degraded = status(spec, all_ready(spec) | {Component.REDIS: workload(1, 0)}, old=ready, now=LATER)
    assert degraded["phase"] == "Degraded"
    assert conditions(degraded)["Degraded"]["status"] == "True"
    assert "redis: 0/1 replicas ready" in conditions(degraded)["Degraded"]["message"]


def test_a_rollout_after_ready_is_progress_not_degradation() -> None:
    spec = MemorySystemSpec()
    ready = status(spec, all_ready(spec))
    rolling = status(
        spec, all_ready(spec) | {Component.API: workload(2, 2, generation=2, observed=1)}, old=ready
    )
    assert rolling["phase"] == "Provisioning"
    assert conditions(rolling)["Progressing"]["reason"] == "RollingOut"
    assert conditions(rolling)["Degraded"]["status"] == "False"


def test_transition_time_moves_only_when_the_status_flips() -> None:
    spec = MemorySystemSpec()
    first = status(spec, all_ready(spec) | {Component.API: workload(2, 1)}, now=EARLIER)
    same = status(spec, all_ready(spec) | {Component.API: workload(2, 1)}, old=first, now=LATER)
    flipped = status(spec, all_ready(spec), old=same, now=LATER)
    assert conditions(same)["ApiReady"]["lastTransitionTime"] == "2026-01-01T12:00:00Z"
    assert conditions(flipped)["ApiReady"]["lastTransitionTime"] == "2026-01-01T12:05:00Z"
    assert conditions(flipped)["PostgresReady"]["lastTransitionTime"] == "2026-01-01T12:00:00Z"


def test_direct_mode_and_external_components_are_reported_as_such() -> None:
    spec = MemorySystemSpec.model_validate(
        {"mode": "direct", "postgres": {"external": {"secretRef": {"name": "pg"}}}}
    )
    result = conditions(status(spec, all_ready(spec)))
    assert result["PostgresReady"]["reason"] == "External"
    assert result["PostgresReady"]["message"] == "connects through Secret pg"
    assert result["RedpandaReady"]["reason"] == "NotRequired"
    assert result["ConsumersReady"]["reason"] == "NotRequired"


def test_storage_resizing_is_reported_as_progress() -> None:
    spec = MemorySystemSpec()
    storage = [StorageProgress(Component.POSTGRES, "20Gi", claims=1, resized=0)]
    result = conditions(status(spec, all_ready(spec), storage=storage))
    progressing = result["Progressing"]
    assert (progressing["status"], progressing["reason"]) == ("True", "StorageResizing")
    assert progressing["message"] == "postgres: 0/1 claims at 20Gi"


def test_a_refused_shrink_says_why() -> None:
    spec = MemorySystemSpec()
    result = conditions(status(spec, all_ready(spec), refusal="postgres: storage cannot shrink"))
    assert result["Progressing"]["status"] == "False"
    assert result["Progressing"]["reason"] == "StorageShrinkRefused"
    assert result["Progressing"]["message"] == "postgres: storage cannot shrink"


def test_failed_carries_the_reason() -> None:
    result = failed_status("spec.api.replicas: too small", {}, 2, EARLIER)
    assert result["phase"] == "Failed"
    assert conditions(result)["Ready"]["reason"] == "InvalidSpec"
    assert conditions(result)["Ready"]["message"] == "spec.api.replicas: too small"


def claim(phase: str, requested: str, capacity: str | None) -> dict[str, Any]:
    status: dict[str, Any] = {"phase": phase}
    if capacity is not None:
        status["capacity"] = {"storage": capacity}
    return {"spec": {"resources": {"requests": {"storage": requested}}}, "status": status}


def test_storage_progress_counts_only_bound_claims_below_the_size_as_resizing() -> None:
    system = MemorySystem.from_body(
        {"metadata": {"name": "s", "namespace": "n"}, "spec": {"postgres": {"storage": {"size": "20Gi"}}}}
    )
    claims = {
        Component.POSTGRES: [
            claim("Pending", "20Gi", None),  # being provisioned at 20Gi: not an expansion
            claim("Bound", "20Gi", "10Gi"),  # asked to grow, the driver has not expanded it yet
            claim("Bound", "20Gi", "20Gi"),
            claim("Bound", "20Gi", "21Gi"),
        ]
    }
    [progress] = storage_progress(system, claims)
    assert progress == StorageProgress(Component.POSTGRES, "20Gi", claims=4, resized=3)
