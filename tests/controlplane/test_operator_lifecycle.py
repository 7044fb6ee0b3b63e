"""`soma-operator run` on a real control plane, under the RBAC that config/rbac ships: what a user sees
after `kubectl apply` of a MemorySystem, through its whole life. Pods become Ready only when the test plays
the kubelet; the Deployment, StatefulSet, volume-binding and garbage-collection controllers are real."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from soma_operator.builders.labels import instance_labels
from soma_operator.config import OperatorConfig
from support.control_plane import ControlPlane, KubeApi, mark_pods_ready
from support.operator_cluster import (
    CHILD_API_VERSIONS,
    MS_API,
    OperatorProcess,
    memory_system,
    rendered_children,
)
from support.servers import wait_until

# A bound on waiting, not a timing: garbage collection and claim protection take long on a busy machine.
SETTLE_SECONDS = 180


def existing(api: KubeApi, namespace: str, children: set[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    found = {}
    for kind, name in children:
        live = api.get(CHILD_API_VERSIONS[kind], kind, name, namespace)
        if live is not None:
            found[kind, name] = live
    return found


def wait_for(check: Callable[[], bool], what: str, operator: OperatorProcess) -> None:
    try:
        wait_until(check, timeout=SETTLE_SECONDS, what=what, interval=0.2)
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
    assert {kind for kind, _ in children} == set(CHILD_API_VERSIONS)

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
        not_ready = ("False", "NotReady")
        return found.get("PostgresReady") == not_ready and found["ApiReady"] == not_ready

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


def deployment(api: KubeApi, namespace: str, name: str) -> dict[str, Any]:
    live = api.get("apps/v1", "Deployment", name, namespace)
    assert live is not None
    return live


def replicas_of(api: KubeApi, namespace: str, name: str) -> int:
    count: int = deployment(api, namespace, name)["spec"]["replicas"]
    return count


def test_replicas_version_and_pause_reach_the_workloads(
    control_plane: ControlPlane, namespace: str, operator: OperatorProcess
) -> None:
    api = control_plane.api
    api.apply(memory_system("beta", namespace, {"mode": "direct", "api": {"replicas": 1}}))
    become_ready(api, namespace, "beta", operator)

    api.apply(memory_system("beta", namespace, {"mode": "direct", "api": {"replicas": 3}}))
    wait_for(lambda: replicas_of(api, namespace, "beta-api") == 3, "3 API replicas", operator)

    new_version = {"mode": "direct", "version": "0.2.0", "api": {"replicas": 3}}
    api.apply(memory_system("beta", namespace, new_version))

    def image() -> str:
        [container] = deployment(api, namespace, "beta-api")["spec"]["template"]["spec"]["containers"]
        found: str = container["image"]
        return found

    wait_for(
        lambda: image() == f"{OperatorConfig().runtime_image}:0.2.0", "the API on version 0.2.0", operator
    )
    become_ready(api, namespace, "beta", operator)

    # Paused: a spec change is not applied, and the status says why.
    api.apply(memory_system("beta", namespace, {**new_version, "paused": True, "api": {"replicas": 1}}))

    def paused() -> bool:
        return conditions(get_system(api, namespace, "beta")).get("Progressing") == ("False", "Paused")

    wait_for(paused, "the Paused condition", operator)
    assert replicas_of(api, namespace, "beta-api") == 3
    # Resumed: the change held back while paused is applied.
    api.apply(memory_system("beta", namespace, {**new_version, "paused": False, "api": {"replicas": 1}}))
    wait_for(lambda: replicas_of(api, namespace, "beta-api") == 1, "1 API replica after resuming", operator)


def claim(api: KubeApi, namespace: str, name: str) -> dict[str, Any] | None:
    return api.get("v1", "PersistentVolumeClaim", name, namespace)


def bind_to_a_volume(api: KubeApi, namespace: str, claim_name: str, storage_class: str, size: str) -> None:
    """A pre-bound PersistentVolume, as an administrator (or a provisioner) would give the claim."""
    api.create(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolume",
            "metadata": {"name": f"{namespace}-{claim_name}"},
            "spec": {
                "capacity": {"storage": size},
                "accessModes": ["ReadWriteOnce"],
                "storageClassName": storage_class,
                "hostPath": {"path": f"/srv/{namespace}/{claim_name}"},
                "claimRef": {"namespace": namespace, "name": claim_name},
            },
        }
    )


def test_storage_growth_patches_the_claims_the_statefulset_controller_made(
    control_plane: ControlPlane, namespace: str, operator: OperatorProcess
) -> None:
    api = control_plane.api
    storage_class = f"expandable-{namespace}"
    api.apply(
        {
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {"name": storage_class},
            "provisioner": "kubernetes.io/no-provisioner",
            "allowVolumeExpansion": True,
            "volumeBindingMode": "Immediate",
        }
    )
    spec = {"mode": "direct", "postgres": {"storage": {"size": "1Gi", "storageClassName": storage_class}}}
    api.apply(memory_system("gamma", namespace, spec))
    claim_name = "data-gamma-postgres-0"
    wait_for(lambda: claim(api, namespace, claim_name) is not None, "the StatefulSet's claim", operator)
    bind_to_a_volume(api, namespace, claim_name, storage_class, "1Gi")
    wait_for(
        lambda: (claim(api, namespace, claim_name) or {})["status"].get("phase") == "Bound", "Bound", operator
    )
    become_ready(api, namespace, "gamma", operator)

    grown = {"mode": "direct", "postgres": {"storage": {"size": "2Gi", "storageClassName": storage_class}}}
    api.apply(memory_system("gamma", namespace, grown))

    def requested() -> str:
        size: str = (claim(api, namespace, claim_name) or {})["spec"]["resources"]["requests"]["storage"]
        return size

    wait_for(lambda: requested() == "2Gi", "the claim asked to grow to 2Gi", operator)

    def resizing() -> bool:
        found = get_system(api, namespace, "gamma")
        return conditions(found).get("Progressing") == ("True", "StorageResizing")

    wait_for(resizing, "Progressing: StorageResizing", operator)
    messages = {c["type"]: c["message"] for c in get_system(api, namespace, "gamma")["status"]["conditions"]}
    assert messages["Progressing"] == "postgres: 0/1 claims at 2Gi"
    # The claim template is immutable: the StatefulSet keeps asking new claims for the size it was made with.
    statefulset = api.get("apps/v1", "StatefulSet", "gamma-postgres", namespace)
    assert statefulset is not None
    assert statefulset["spec"]["volumeClaimTemplates"][0]["spec"]["resources"]["requests"]["storage"] == "1Gi"

    # Play the storage driver: the volume reached the new size.
    api.merge_patch(
        "v1",
        "PersistentVolumeClaim",
        claim_name,
        {"status": {"capacity": {"storage": "2Gi"}}},
        namespace=namespace,
        subresource="status",
    )

    def settled() -> bool:
        mark_pods_ready(api, namespace, instance_labels("gamma"))
        return conditions(get_system(api, namespace, "gamma")).get("Progressing") == ("False", "Settled")

    wait_for(settled, "Progressing: Settled at the new size", operator)


def claims_of(api: KubeApi, namespace: str, name: str) -> list[str]:
    return sorted(
        c["metadata"]["name"]
        for c in api.list("v1", "PersistentVolumeClaim", namespace, instance_labels(name))
    )


def delete_and_wait(api: KubeApi, namespace: str, name: str, operator: OperatorProcess) -> None:
    api.delete(MS_API, "MemorySystem", name, namespace)
    wait_for(lambda: api.get(MS_API, "MemorySystem", name, namespace) is None, f"{name} deleted", operator)
    # The garbage collector takes the children through their ownerReferences.
    wait_for(
        lambda: (
            not api.list("apps/v1", "StatefulSet", namespace, instance_labels(name))
            and not api.list("apps/v1", "Deployment", namespace, instance_labels(name))
            and not api.list("v1", "Secret", namespace, instance_labels(name))
        ),
        f"the children of {name} collected",
        operator,
    )


def test_delete_keeps_the_claims_with_retain_and_removes_them_with_delete(
    control_plane: ControlPlane, namespace: str, operator: OperatorProcess
) -> None:
    api = control_plane.api
    expected = ["data-keep-postgres-0", "data-keep-qdrant-0", "data-keep-redis-0"]
    api.apply(memory_system("keep", namespace, {"mode": "direct", "storagePolicy": {"onDelete": "Retain"}}))
    wait_for(lambda: claims_of(api, namespace, "keep") == expected, "the claims of keep", operator)
    api.apply(memory_system("drop", namespace, {"mode": "direct", "storagePolicy": {"onDelete": "Delete"}}))
    wait_for(lambda: len(claims_of(api, namespace, "drop")) == 3, "the claims of drop", operator)

    delete_and_wait(api, namespace, "keep", operator)
    delete_and_wait(api, namespace, "drop", operator)
    wait_for(lambda: claims_of(api, namespace, "drop") == [], "the claims of drop deleted", operator)
    assert claims_of(api, namespace, "keep") == expected


def test_a_restarted_operator_resumes_and_repairs_drift(
    control_plane: ControlPlane, namespace: str, operator: OperatorProcess
) -> None:
    api = control_plane.api
    api.apply(memory_system("zeta", namespace, {"mode": "direct", "api": {"replicas": 2}}))
    become_ready(api, namespace, "zeta", operator)
    operator.stop()
    # While no operator runs, someone scales the API by hand and deletes the settings.
    api.merge_patch("apps/v1", "Deployment", "zeta-api", {"spec": {"replicas": 5}}, namespace=namespace)
    assert api.delete("v1", "ConfigMap", "zeta-config", namespace)
    operator.start()
    wait_for(lambda: replicas_of(api, namespace, "zeta-api") == 2, "the API back at 2 replicas", operator)
    wait_for(
        lambda: api.get("v1", "ConfigMap", "zeta-config", namespace) is not None,
        "the settings back",
        operator,
    )
