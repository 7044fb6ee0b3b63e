"""Pure status logic: the children's observed state in, phase and conditions out."""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from soma_operator.spec import DATA_STORES, Component, MemorySystemSpec


class Phase(enum.StrEnum):
    PENDING = "Pending"
    PROVISIONING = "Provisioning"
    READY = "Ready"
    DEGRADED = "Degraded"
    FAILED = "Failed"


class Reason(enum.StrEnum):
    READY = "Ready"
    NOT_CREATED = "NotCreated"
    ROLLING_OUT = "RollingOut"
    NOT_READY = "NotReady"
    EXTERNAL = "External"
    NOT_REQUIRED = "NotRequired"
    COMPONENTS_NOT_READY = "ComponentsNotReady"
    STORAGE_RESIZING = "StorageResizing"
    STORAGE_SHRINK_REFUSED = "StorageShrinkRefused"
    SETTLED = "Settled"
    PAUSED = "Paused"
    INVALID_SPEC = "InvalidSpec"
    PROVIDER_NOT_INSTALLED = "ProviderNotInstalled"
    BACKUP_COMPLETED = "BackupCompleted"
    BACKUP_FAILED = "BackupFailed"
    MAINTENANCE_COMPLETED = "MaintenanceCompleted"
    MAINTENANCE_FAILED = "MaintenanceFailed"
    WAITING_FOR_DATA_STORES = "WaitingForDataStores"
    RESTORING = "Restoring"
    RESTORE_COMPLETED = "RestoreCompleted"
    RESTORE_FAILED = "RestoreFailed"
    FETCHING_MODEL = "FetchingModel"
    MODEL_FETCHED = "ModelFetched"
    MODEL_FETCH_FAILED = "ModelFetchFailed"
    MODEL_FROM_SOURCE = "ModelFromSource"
    WAITING_FOR_MODEL = "WaitingForModel"
    REINDEXING = "Reindexing"
    REINDEX_COMPLETED = "ReindexCompleted"
    REINDEX_FAILED = "ReindexFailed"
    SECRETS_FOUND = "SecretsFound"
    SECRET_MISSING = "SecretMissing"  # noqa: S105 - a reason


READY = "Ready"
PROGRESSING = "Progressing"
DEGRADED = "Degraded"
COMPONENT_CONDITIONS: Mapping[Component, str] = {
    Component.POSTGRES: "PostgresReady",
    Component.REDIS: "RedisReady",
    Component.QDRANT: "QdrantReady",
    Component.REDPANDA: "RedpandaReady",
    Component.API: "ApiReady",
    Component.CONSUMERS: "ConsumersReady",
}


# Reasons that stop progress until a person acts.
_BLOCKING = (
    Reason.PROVIDER_NOT_INSTALLED,
    Reason.RESTORE_FAILED,
    Reason.MODEL_FETCH_FAILED,
    Reason.REINDEX_FAILED,
    Reason.SECRET_MISSING,
)
# Reasons of a change under way: Progressing, also on a system that was Ready.
_UNDER_WAY = (Reason.ROLLING_OUT, Reason.NOT_CREATED, Reason.FETCHING_MODEL, Reason.REINDEXING)
# Reasons that mean a workload of this system exists in the cluster.
_OBSERVED_WORKLOAD = (Reason.READY, Reason.ROLLING_OUT, Reason.NOT_READY)


@dataclass(frozen=True)
class Condition:
    type: str
    ready: bool
    reason: Reason
    message: str


@dataclass(frozen=True)
class StorageProgress:
    """Claims of one data store that were asked to grow and have not reached the size yet."""

    component: Component
    size: str
    claims: int
    resized: int


def _counted(
    component: Component, desired: int, created: tuple[int, str], ready: int, unit: str
) -> Condition:
    """Rolling out until ``desired`` pods are created (or updated), then not ready until as many are ready."""
    kind = COMPONENT_CONDITIONS[component]
    count, verb = created
    if count < desired:
        return Condition(kind, False, Reason.ROLLING_OUT, f"{component}: {count}/{desired} {unit} {verb}")
    if ready < desired:
        return Condition(kind, False, Reason.NOT_READY, f"{component}: {ready}/{desired} {unit} ready")
    return Condition(kind, True, Reason.READY, f"{component}: {ready}/{desired} {unit} ready")


def workload_condition(
    component: Component, live: Mapping[str, Any] | None, desired_replicas: int
) -> Condition:
    """Readiness of a StatefulSet or Deployment, the way `kubectl rollout status` judges it."""
    kind = COMPONENT_CONDITIONS[component]
    if live is None:
        return Condition(kind, False, Reason.NOT_CREATED, f"{component} is not created yet")
    status = live.get("status") or {}
    generation = live.get("metadata", {}).get("generation", 0)
    if status.get("observedGeneration", 0) < generation:
        return Condition(kind, False, Reason.ROLLING_OUT, f"{component}: the latest spec is not observed yet")
    updated = (status.get("updatedReplicas", 0), "updated")
    return _counted(component, desired_replicas, updated, status.get("readyReplicas", 0), "replicas")


def cluster_condition(live: Mapping[str, Any] | None, desired_instances: int) -> Condition:
    """Readiness of a CloudNativePG Cluster from its status (api/v1/cluster_types.go ClusterStatus):
    ``instances`` counts the instances that exist, ``readyInstances`` those whose pod is ready."""
    component = Component.POSTGRES
    if live is None:
        kind = COMPONENT_CONDITIONS[component]
        return Condition(kind, False, Reason.NOT_CREATED, f"{component} is not created yet")
    status = live.get("status") or {}
    created = (status.get("instances", 0), "created")
    return _counted(component, desired_instances, created, status.get("readyInstances", 0), "instances")


def _desired(
    component: Component, live: Mapping[str, Any] | None, spec_replicas: int, autoscaled: bool
) -> int:
    """An autoscaled Deployment is ready at the count its autoscaler chose, whatever it is."""
    if autoscaled and live is not None:
        chosen: int = (live.get("spec") or {}).get("replicas", spec_replicas)
        return chosen
    return spec_replicas


def component_conditions(
    spec: MemorySystemSpec,
    workloads: Mapping[Component, Mapping[str, Any] | None],
    unavailable: Mapping[Component, str] | None = None,
    autoscaled: frozenset[Component] = frozenset(),
) -> list[Condition]:
    """``unavailable``: components whose provider the cluster lacks, with why."""
    desired = spec.workload_replicas()
    missing = unavailable or {}
    conditions = []
    for component, kind in COMPONENT_CONDITIONS.items():
        live = workloads.get(component)
        if component in missing:
            conditions.append(Condition(kind, False, Reason.PROVIDER_NOT_INSTALLED, missing[component]))
        elif component in desired and spec.workload_kind(component) == "Cluster":
            conditions.append(cluster_condition(live, desired[component]))
        elif component in desired:
            replicas = _desired(component, live, desired[component], component in autoscaled)
            conditions.append(workload_condition(component, live, replicas))
        elif component in DATA_STORES and component in spec.used_data_stores():
            external = spec.data_store(component).external
            secret = external.secret_ref.name if external is not None else ""
            conditions.append(Condition(kind, True, Reason.EXTERNAL, f"connects through Secret {secret}"))
        else:
            conditions.append(Condition(kind, True, Reason.NOT_REQUIRED, f"direct mode runs no {component}"))
    return conditions


def data_stores_ready(conditions: Sequence[Condition]) -> bool:
    """Every data store the system uses answers (provisioned and ready, or external)."""
    stores = {COMPONENT_CONDITIONS[store] for store in DATA_STORES}
    return all(c.ready for c in conditions if c.type in stores)


def summarize(
    components: Sequence[Condition],
    storage: Sequence[StorageProgress],
    refusal: str | None,
    previous_phase: str | None,
) -> tuple[Phase, list[Condition]]:
    """Phase plus the Ready, Progressing and Degraded conditions from the component conditions."""
    waiting = [c for c in components if not c.ready]
    blocked = [c for c in waiting if c.reason in _BLOCKING]
    rolling = [c for c in waiting if c.reason in _UNDER_WAY]
    broken = [c for c in waiting if c.reason is Reason.NOT_READY]
    resizing = [s for s in storage if s.resized < s.claims]
    # A pod that stops being ready after the system was ready is a degradation, not provisioning.
    was_ready = previous_phase in (Phase.READY, Phase.DEGRADED)
    degraded = bool(broken) and was_ready

    if waiting:
        ready = Condition(READY, False, Reason.COMPONENTS_NOT_READY, "; ".join(c.message for c in waiting))
    else:
        ready = Condition(READY, True, Reason.READY, "all components are ready")

    if refusal is not None:
        progressing = Condition(PROGRESSING, False, Reason.STORAGE_SHRINK_REFUSED, refusal)
    elif blocked:
        message = "; ".join(c.message for c in blocked)
        progressing = Condition(PROGRESSING, False, blocked[0].reason, message)
    elif resizing:
        message = "; ".join(f"{s.component}: {s.resized}/{s.claims} claims at {s.size}" for s in resizing)
        progressing = Condition(PROGRESSING, True, Reason.STORAGE_RESIZING, message)
    elif rolling or (waiting and not was_ready):
        progressing = Condition(PROGRESSING, True, Reason.ROLLING_OUT, "; ".join(c.message for c in waiting))
    else:
        progressing = Condition(PROGRESSING, False, Reason.SETTLED, "the spec is rolled out")

    if degraded:
        degraded_condition = Condition(DEGRADED, True, Reason.NOT_READY, "; ".join(c.message for c in broken))
    else:
        degraded_condition = Condition(DEGRADED, False, Reason.READY, "no component lost readiness")

    if not waiting:
        phase = Phase.READY
    elif degraded:
        phase = Phase.DEGRADED
    elif not any(c.reason in _OBSERVED_WORKLOAD for c in components):
        phase = Phase.PENDING
    else:
        phase = Phase.PROVISIONING
    return phase, [ready, progressing, degraded_condition]


def render_conditions(
    conditions: Sequence[Condition],
    old: Sequence[Mapping[str, Any]],
    generation: int,
    now: datetime,
    retired: Collection[str] = (),
) -> list[dict[str, Any]]:
    """Conditions as the API shows them; a condition's time moves only when its status flips. An old
    condition of a ``retired`` type is dropped."""
    old_by_type = {c.get("type"): c for c in old}
    rendered = []
    for condition in conditions:
        status = "True" if condition.ready else "False"
        previous = old_by_type.get(condition.type) or {}
        unchanged = previous.get("status") == status and "lastTransitionTime" in previous
        rendered.append(
            {
                "type": condition.type,
                "status": status,
                "reason": str(condition.reason),
                "message": condition.message,
                "observedGeneration": generation,
                "lastTransitionTime": previous["lastTransitionTime"] if unchanged else _timestamp(now),
            }
        )
    # Conditions this computation does not speak about are kept as they were.
    spoken = {c.type for c in conditions} | set(retired)
    return [*rendered, *(dict(c) for c in old if c.get("type") not in spoken)]


@dataclass(frozen=True)
class Providers:
    """Who runs what, as the status reports it: ``postgres`` is statefulset, cloudnative-pg or external;
    ``consumerScaling`` (evented mode) is keda or fixed."""

    postgres: str
    consumer_scaling: str | None = None
    unavailable: Mapping[Component, str] = field(default_factory=dict)
    autoscaled: frozenset[Component] = frozenset()

    def reported(self) -> dict[str, str]:
        shown = {"postgres": self.postgres}
        if self.consumer_scaling is not None:
            shown["consumerScaling"] = self.consumer_scaling
        return shown


def observed_status(
    *,
    spec: MemorySystemSpec,
    workloads: Mapping[Component, Mapping[str, Any] | None],
    storage: Sequence[StorageProgress],
    refusal: str | None,
    old_status: Mapping[str, Any],
    generation: int,
    endpoint: str,
    now: datetime,
    providers: Providers | None = None,
    gates: Sequence[Condition] = (),
    extra_conditions: Sequence[Condition] = (),
    retired: Collection[str] = (),
) -> dict[str, Any]:
    """``gates``: conditions the system must meet to be Ready besides its components (Restored);
    ``extra_conditions``: conditions reported beside them that do not hold Ready (BackupSucceeded);
    ``retired``: types of conditions that no longer apply, dropped from the status."""
    unavailable = providers.unavailable if providers else {}
    autoscaled = providers.autoscaled if providers else frozenset()
    components = component_conditions(spec, workloads, unavailable, autoscaled)
    phase, summary = summarize([*components, *gates], storage, refusal, old_status.get("phase"))
    shown = {"providers": providers.reported()} if providers else {}
    return {
        "phase": str(phase),
        "observedGeneration": generation,
        **shown,
        "endpoint": endpoint,
        "conditions": render_conditions(
            [*summary, *components, *gates, *extra_conditions],
            old_status.get("conditions") or [],
            generation,
            now,
            retired,
        ),
    }


def failed_status(
    reason: str, old_status: Mapping[str, Any], generation: int, now: datetime
) -> dict[str, Any]:
    conditions = [
        Condition(READY, False, Reason.INVALID_SPEC, reason),
        Condition(PROGRESSING, False, Reason.INVALID_SPEC, reason),
    ]
    return {
        "phase": str(Phase.FAILED),
        "observedGeneration": generation,
        "conditions": render_conditions(conditions, old_status.get("conditions") or [], generation, now),
    }


def paused_status(old_status: Mapping[str, Any], generation: int, now: datetime) -> dict[str, Any]:
    paused = Condition(PROGRESSING, False, Reason.PAUSED, "spec.paused is true: no change is applied")
    return {
        "observedGeneration": generation,
        "conditions": render_conditions([paused], old_status.get("conditions") or [], generation, now),
    }


def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
