"""High availability on a real control plane (issue 12), with `soma-operator run` under the shipped RBAC.

CloudNativePG's and KEDA's own CRDs (tests/fixtures/crds, versions in the README there) are installed into
the real kube-apiserver, so the Cluster and the ScaledObject the operator applies are judged by their
owners' schemas; the HorizontalPodAutoscaler by autoscaling/v2 validation, and then acted on by the real
HPA controller of kube-controller-manager. The tests that need CloudNativePG absent come first: the CRDs
are installed by a module fixture and removed when the module ends.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from test_operator_lifecycle import conditions, get_system, wait_for

from support.control_plane import ApiError, ControlPlane, KubeApi, mark_pods_ready
from support.operator_cluster import REPO, OperatorProcess, install_crd, memory_system
from support.servers import wait_until

FIXTURES = REPO / "tests" / "fixtures" / "crds"
CNPG_CRD = FIXTURES / "postgresql.cnpg.io_clusters.yaml"
KEDA_CRD = FIXTURES / "keda.sh_scaledobjects.yaml"
CNPG_API, KEDA_API = "postgresql.cnpg.io/v1", "keda.sh/v1alpha1"
CRD_API = "apiextensions.k8s.io/v1"
CNPG = {"provider": "cloudnative-pg", "instances": 3, "storage": {"size": "5Gi"}}


def status(api: KubeApi, namespace: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = get_system(api, namespace, name).get("status") or {}
    return found


def test_without_cloudnative_pg_the_condition_says_why_and_the_server_refuses_replicas(
    control_plane: ControlPlane, namespace: str, operator: OperatorProcess
) -> None:
    api = control_plane.api
    assert api.get(CRD_API, "CustomResourceDefinition", "clusters.postgresql.cnpg.io") is None
    api.apply(memory_system("nopg", namespace, {"mode": "direct", "postgres": CNPG}))

    def reported() -> bool:
        return conditions(get_system(api, namespace, "nopg")).get("PostgresReady") == (
            "False",
            "ProviderNotInstalled",
        )

    wait_for(reported, "PostgresReady: ProviderNotInstalled", operator)
    found = status(api, namespace, "nopg")
    assert found["providers"] == {"postgres": "cloudnative-pg"}
    messages = {c["type"]: c["message"] for c in found["conditions"]}
    assert messages["PostgresReady"] == (
        "provider cloudnative-pg: CloudNativePG is not installed (the API server serves no "
        "postgresql.cnpg.io/v1 clusters); install it, or use provider statefulset with one instance"
    )
    assert conditions(get_system(api, namespace, "nopg"))["Progressing"] == ("False", "ProviderNotInstalled")
    # Everything else is there; nothing of PostgreSQL is.
    assert api.get("apps/v1", "StatefulSet", "nopg-redis", namespace) is not None
    assert api.get("apps/v1", "StatefulSet", "nopg-postgres", namespace) is None

    # The server itself refuses more than one instance without CloudNativePG, and a change of provider.
    with pytest.raises(ApiError) as refused:
        api.apply(memory_system("many", namespace, {"postgres": {"instances": 3}}))
    assert refused.value.status == 422
    assert "more than one instance needs provider cloudnative-pg" in refused.value.message
    api.apply(memory_system("single", namespace, {"mode": "direct"}))
    with pytest.raises(ApiError) as switched:
        api.apply(memory_system("single", namespace, {"mode": "direct", "postgres": CNPG}))
    assert "provider is immutable" in switched.value.message


@pytest.fixture(scope="module")
def optional_operators(control_plane: ControlPlane, crd: dict[str, Any]) -> Iterator[None]:
    """CloudNativePG's and KEDA's CRDs, as their releases ship them; removed again at the end."""
    names = [install_crd(control_plane.api, path)["metadata"]["name"] for path in (CNPG_CRD, KEDA_CRD)]
    yield
    for name in names:
        control_plane.api.delete(CRD_API, "CustomResourceDefinition", name)
    wait_until(
        lambda: all(control_plane.api.get(CRD_API, "CustomResourceDefinition", n) is None for n in names),
        timeout=60,
        what="the optional CRDs removed",
    )
    control_plane.api.forget_discovery()


def play_cloudnative_pg(api: KubeApi, namespace: str, name: str, ready: int, instances: int = 3) -> None:
    """CloudNativePG's operator does not run here: its status is written as it would write it."""
    api.merge_patch(
        CNPG_API,
        "Cluster",
        name,
        {"status": {"instances": instances, "readyInstances": ready}},
        namespace=namespace,
        subresource="status",
    )


# A lost instance is noticed by the status refresh; a short one keeps the test short.
@pytest.mark.parametrize("operator", [{"status_refresh_seconds": 2}], indirect=True)
@pytest.mark.usefixtures("optional_operators")
def test_the_cloudnative_pg_cluster_is_accepted_and_the_runtime_points_at_its_services(
    control_plane: ControlPlane, namespace: str, operator: OperatorProcess
) -> None:
    api = control_plane.api
    api.apply(memory_system("ha", namespace, {"mode": "direct", "postgres": CNPG}))
    wait_for(
        lambda: api.get(CNPG_API, "Cluster", "ha-postgres", namespace) is not None, "the Cluster", operator
    )
    cluster = api.get(CNPG_API, "Cluster", "ha-postgres", namespace)
    assert cluster is not None
    spec = cluster["spec"]
    assert spec["instances"] == 3
    # CloudNativePG's schema defaulted resizeInUseVolumes: it grows the claims when storage.size does.
    assert spec["storage"] == {"size": "5Gi", "resizeInUseVolumes": True}
    assert spec["bootstrap"] == {"initdb": {"database": "soma", "owner": "soma"}}
    assert spec["postgresql"]["synchronous"] == {"method": "any", "number": 1, "dataDurability": "required"}
    assert spec["enablePDB"] is True
    assert cluster["metadata"]["ownerReferences"][0]["name"] == "ha"
    deployment = api.get("apps/v1", "Deployment", "ha-api", namespace)
    assert deployment is not None
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e for e in container["env"]}
    assert env["POSTGRES_URL"]["valueFrom"] == {"secretKeyRef": {"name": "ha-postgres-app", "key": "uri"}}
    assert api.get("apps/v1", "StatefulSet", "ha-postgres", namespace) is None

    # Ready only when CloudNativePG says every instance is; then a lost instance degrades the system.
    def ready_with(count: int) -> bool:
        play_cloudnative_pg(api, namespace, "ha-postgres", count)
        mark_pods_ready(api, namespace)
        return status(api, namespace, "ha").get("phase") == "Ready"

    assert not ready_with(2)
    wait_for(lambda: ready_with(3), "Ready with 3/3 instances", operator)
    assert status(api, namespace, "ha")["providers"] == {"postgres": "cloudnative-pg"}

    def degraded() -> bool:
        play_cloudnative_pg(api, namespace, "ha-postgres", 2)
        return status(api, namespace, "ha").get("phase") == "Degraded"

    wait_for(degraded, "Degraded with 2/3 instances", operator)
    messages = {c["type"]: c["message"] for c in status(api, namespace, "ha")["conditions"]}
    assert messages["PostgresReady"] == "postgres: 2/3 instances ready"

    # storagePolicy Retain: the Cluster (and with it CloudNativePG's claims) outlives the MemorySystem.
    api.delete("memory.soma.dev/v1alpha1", "MemorySystem", "ha", namespace)
    wait_for(
        lambda: api.get("memory.soma.dev/v1alpha1", "MemorySystem", "ha", namespace) is None,
        "deleted",
        operator,
    )
    wait_for(
        lambda: api.get("apps/v1", "Deployment", "ha-api", namespace) is None,
        "the children collected",
        operator,
    )
    kept = api.get(CNPG_API, "Cluster", "ha-postgres", namespace)
    assert kept is not None
    assert not kept["metadata"].get("ownerReferences")


def replicas(api: KubeApi, namespace: str, name: str) -> int | None:
    deployment = api.get("apps/v1", "Deployment", name, namespace) or {}
    count: int | None = deployment.get("spec", {}).get("replicas")
    return count


def replicas_owner(api: KubeApi, namespace: str, name: str) -> set[str]:
    deployment = api.get("apps/v1", "Deployment", name, namespace) or {}
    return {
        entry["manager"]
        for entry in deployment["metadata"].get("managedFields") or []
        if "f:replicas" in (entry.get("fieldsV1") or {}).get("f:spec", {})
    }


def test_the_api_autoscaler_is_accepted_owns_the_replicas_and_goes_when_not_asked_for(
    control_plane: ControlPlane, namespace: str, operator: OperatorProcess
) -> None:
    api = control_plane.api
    api.apply(memory_system("auto", namespace, {"mode": "direct", "api": {"replicas": 4}}))
    wait_for(lambda: replicas(api, namespace, "auto-api") == 4, "4 API replicas", operator)

    autoscaled = {
        "mode": "direct",
        "api": {"replicas": 4, "autoscaling": {"minReplicas": 2, "maxReplicas": 6}},
    }
    api.apply(memory_system("auto", namespace, autoscaled))
    wait_for(
        lambda: api.get("autoscaling/v2", "HorizontalPodAutoscaler", "auto-api", namespace) is not None,
        "the HorizontalPodAutoscaler",
        operator,
    )
    hpa = api.get("autoscaling/v2", "HorizontalPodAutoscaler", "auto-api", namespace)
    assert hpa is not None
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 6)
    assert hpa["spec"]["metrics"][0]["resource"]["target"] == {
        "type": "Utilization",
        "averageUtilization": 70,
    }
    # Handed over, not dropped: the Deployment kept its 4 replicas, and the operator no longer applies them.
    wait_for(
        lambda: "soma-operator" not in replicas_owner(api, namespace, "auto-api"), "the handover", operator
    )
    assert replicas(api, namespace, "auto-api") == 4

    # The real HPA controller enforces its bounds (there are no metrics here, so bounds are all it acts on):
    # scaled by hand below the minimum, the Deployment goes back up, and the operator does not undo it.
    api.merge_patch("apps/v1", "Deployment", "auto-api", {"spec": {"replicas": 1}}, namespace=namespace)
    wait_for(lambda: replicas(api, namespace, "auto-api") == 2, "the HPA raising the API to 2", operator)
    api.apply(memory_system("auto", namespace, {**autoscaled, "version": "0.1.1"}))  # one more reconcile
    wait_for(
        lambda: (
            status(api, namespace, "auto").get("observedGeneration")
            == get_system(api, namespace, "auto")["metadata"]["generation"]
        ),
        "the new generation reconciled",
        operator,
    )
    time.sleep(2)
    assert replicas(api, namespace, "auto-api") == 2

    # Autoscaling off: the autoscaler goes, the operator's replicas come back.
    api.apply(
        memory_system("auto", namespace, {"mode": "direct", "version": "0.1.1", "api": {"replicas": 3}})
    )
    wait_for(lambda: replicas(api, namespace, "auto-api") == 3, "3 API replicas again", operator)
    wait_for(
        lambda: api.get("autoscaling/v2", "HorizontalPodAutoscaler", "auto-api", namespace) is None,
        "the HPA deleted",
        operator,
    )


@pytest.mark.usefixtures("optional_operators")
def test_keda_scales_the_consumers_where_it_is_installed(
    control_plane: ControlPlane, namespace: str, operator: OperatorProcess
) -> None:
    api = control_plane.api
    spec = {"consumers": {"replicas": 2, "autoscaling": {"minReplicas": 1, "maxReplicas": 4}}}
    api.apply(memory_system("lag", namespace, spec))
    wait_for(
        lambda: api.get(KEDA_API, "ScaledObject", "lag-consumers", namespace) is not None,
        "the ScaledObject",
        operator,
    )
    scaled = api.get(KEDA_API, "ScaledObject", "lag-consumers", namespace)
    assert scaled is not None
    assert (scaled["spec"]["minReplicaCount"], scaled["spec"]["maxReplicaCount"]) == (1, 4)
    [trigger] = scaled["spec"]["triggers"]
    assert trigger["type"] == "kafka"
    assert trigger["metadata"] == {
        "bootstrapServers": f"lag-redpanda.{namespace}.svc:9092",
        "consumerGroup": "soma-indexer",
        "topic": "soma.memories",
        "lagThreshold": "1000",
        "offsetResetPolicy": "earliest",
    }
    wait_for(
        lambda: status(api, namespace, "lag").get("providers", {}).get("consumerScaling") == "keda",
        "status: consumers scaled by KEDA",
        operator,
    )
    assert "soma-operator" not in replicas_owner(api, namespace, "lag-consumers")
    # Every pod template the server stored spreads over zones and nodes.
    for kind, name in (("StatefulSet", "lag-qdrant"), ("Deployment", "lag-consumers")):
        live = api.get("apps/v1", kind, name, namespace)
        assert live is not None
        keys = [c["topologyKey"] for c in live["spec"]["template"]["spec"]["topologySpreadConstraints"]]
        assert keys == ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]

    # Autoscaling off: the ScaledObject goes, and the operator's fixed replicas apply again.
    api.apply(memory_system("lag", namespace, {"consumers": {"replicas": 2}}))
    wait_for(
        lambda: api.get(KEDA_API, "ScaledObject", "lag-consumers", namespace) is None,
        "the ScaledObject deleted",
        operator,
    )
    wait_for(lambda: replicas(api, namespace, "lag-consumers") == 2, "2 fixed consumers", operator)
    wait_for(
        lambda: status(api, namespace, "lag").get("providers", {}).get("consumerScaling") == "fixed",
        "status: fixed consumers",
        operator,
    )
