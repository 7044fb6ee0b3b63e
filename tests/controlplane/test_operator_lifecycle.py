"""`soma-operator run` on a real control plane, under the RBAC that config/rbac ships: what a user sees after
`kubectl apply` of a MemorySystem, through its whole life. Pods become Ready only when the test plays the kubelet;
the Deployment, StatefulSet and garbage-collector controllers are the real ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cluster_harness import MS_API, OperatorProcess, memory_system

from soma_operator import builders
from soma_operator.builders.context import BuildContext, Credentials
from soma_operator.builders.labels import instance_labels
from soma_operator.config import OperatorConfig
from soma_operator.spec import MemorySystem
from support.control_plane import ControlPlane, KubeApi, mark_pods_ready
from support.servers import wait_until

API_VERSIONS = {
    "Secret": "v1",
    "ConfigMap": "v1",
    "ServiceAccount": "v1",
    "Service": "v1",
    "StatefulSet": "apps/v1",
    "Deployment": "apps/v1",
    "PodDisruptionBudget": "policy/v1",
    "NetworkPolicy": "networking.k8s.io/v1",
}
SETTLE_SECONDS = 60


def rendered_children(live: dict[str, Any]) -> set[tuple[str, str]]:
    """What the operator's own builders say it should create for this object."""
    context = BuildContext(MemorySystem.from_body(live), OperatorConfig(), Credentials())
    return {(m["kind"], m["metadata"]["name"]) for m in builders.render(context)}


def existing(api: KubeApi, namespace: str, children: set[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    found = {}
    for kind, name in children:
        live = api.get(API_VERSIONS[kind], kind, name, namespace)
        if live is not None:
            found[kind, name] = live
    return found


def wait_for(check: Callable[[], bool], what: str, operator: OperatorProcess, timeout: float = SETTLE_SECONDS) -> None:
    try:
        wait_until(check, timeout=timeout, what=what, interval=0.2)
    except TimeoutError as error:
        raise AssertionError(f"{error}\n--- operator log (tail) ---\n{operator.log()[-6000:]}") from None


def get_system(api: KubeApi, namespace: str, name: str) -> dict[str, Any]:
    live = api.get(MS_API, "MemorySystem", name, namespace)
    assert live is not None
    return live


def conditions(live: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in (live.get("status") or {}).get("conditions") or []}


def phase(api: KubeApi, namespace: str, name: str) -> str | None:
    phase_now: str | None = (get_system(api, namespace, name).get("status") or {}).get("phase")
    return phase_now


def become_ready(api: KubeApi, namespace: str, name: str, operator: OperatorProcess) -> dict[str, Any]:
    """Mark pods ready as the controllers create them, until the MemorySystem says Ready."""

    def ready() -> bool:
        mark_pods_ready(api, namespace, instance_labels(name))
        return phase(api, namespace, name) == "Ready"

    wait_for(ready, f"MemorySystem {name} Ready", operator)
    return get_system(api, namespace, name)


def test_a_memory_system_gets_every_child_owned_and_a_truthful_status(
    control_plane: ControlPlane, namespace: str, operator: OperatorProcess
) -> None:
    api = control_plane.api
    created = api.apply(memory_system("alpha", namespace, {}))
    uid = created["metadata"]["uid"]
    children = rendered_children(created)
    assert {kind for kind, _ in children} == set(API_VERSIONS)

    wait_for(lambda: len(existing(api, namespace, children)) == len(children), "every child", operator)
    for (kind, name), live in existing(api, namespace, children).items():
        assert live["metadata"]["ownerReferences"] == [
            {
                "apiVersion": MS_API,
                "kind": "MemorySystem",
                "name": "alpha",
                "uid": uid,
                "controller": True,
                "blockOwnerDeletion": True,
            }
        ], f"{kind} {name}"

    # The controllers made the pods, but no pod is ready: the system says so, and names what it waits for.
    def observed_not_ready() -> bool:
        found = conditions(get_system(api, namespace, "alpha"))
        return found.get("PostgresReady") == ("False", "NotReady") and found["ApiReady"] == ("False", "NotReady")

    wait_for(observed_not_ready, "workloads observed with no ready pod", operator)
    before = get_system(api, namespace, "alpha")
    assert before["status"]["phase"] == "Provisioning"
    assert conditions(before)["Ready"] == ("False", "ComponentsNotReady")
    messages = {c["type"]: c["message"] for c in before["status"]["conditions"]}
    assert messages["PostgresReady"] == "postgres: 0/1 replicas ready"
    assert messages["ApiReady"] == "api: 0/2 replicas ready"

    ready = become_ready(api, namespace, "alpha", operator)
    after = conditions(ready)
    for condition in ("Ready", "PostgresReady", "RedisReady", "QdrantReady", "RedpandaReady", "ApiReady"):
        assert after[condition] == ("True", "Ready"), condition
    assert after["ConsumersReady"] == ("True", "Ready")
    assert after["Progressing"][0] == "False"
    assert after["Degraded"][0] == "False"
    assert ready["status"]["observedGeneration"] == ready["metadata"]["generation"]
    assert ready["status"]["endpoint"] == f"http://alpha-api.{namespace}.svc:9595"
    reasons = {e["reason"] for e in api.list("v1", "Event", namespace) if e["involvedObject"]["uid"] == uid}
    assert {"Created", "PhaseChanged"} <= reasons
