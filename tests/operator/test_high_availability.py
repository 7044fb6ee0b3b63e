"""High availability as rendered (issue 12): CloudNativePG, autoscalers, placement, disruption budgets.

Every value is pinned. Objects of other operators (CloudNativePG's Cluster, KEDA's ScaledObject) are checked
against their own CRD schemas, kept in tests/fixtures/crds; the control-plane tier installs the same CRDs
into a real API server (tests/controlplane/test_high_availability_on_control_plane.py).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from conftest import KUBERNETES_VERSION, REPO, build_context, load_sample
from soma_operator.builders import Capabilities, render
from soma_operator.builders.pdb import budgeted
from soma_operator.cli import main
from soma_operator.spec import DATA_STORES, Component, MemorySystemSpec, SpecError
from soma_operator.status import Providers, cluster_condition, observed_status

FIXTURES = REPO / "tests" / "fixtures" / "crds"
BOTH = Capabilities(cloudnative_pg=True, keda=True)
NEITHER = Capabilities()
ZONE, HOST = "topology.kubernetes.io/zone", "kubernetes.io/hostname"


def system(spec: dict[str, Any], name: str = "mem") -> dict[str, Any]:
    return {
        "apiVersion": "memory.soma.dev/v1alpha1",
        "kind": "MemorySystem",
        "metadata": {"name": name},
        "spec": spec,
    }


def rendered(
    spec: dict[str, Any], capabilities: Capabilities = BOTH
) -> dict[tuple[str, str], dict[str, Any]]:
    manifests = render(build_context(system(spec), capabilities=capabilities))
    return {(m["kind"], m["metadata"]["name"]): m for m in manifests}


def crd_schema(file: str) -> dict[str, Any]:
    [crd] = [doc for doc in yaml.safe_load_all((FIXTURES / file).read_text()) if doc]
    [version] = [v for v in crd["spec"]["versions"] if v["storage"]]
    schema: dict[str, Any] = version["schema"]["openAPIV3Schema"]
    return schema


def without_extensions(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: without_extensions(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if isinstance(schema, list):
        return [without_extensions(item) for item in schema]
    return schema


def env_of(manifest: dict[str, Any]) -> dict[str, Any]:
    [container] = manifest["spec"]["template"]["spec"]["containers"]
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container["env"]}


CNPG = {"postgres": {"provider": "cloudnative-pg", "instances": 3, "storage": {"size": "20Gi"}}}


# ---------------------------------------------------------------- PostgreSQL through CloudNativePG


def test_cloudnative_pg_gets_a_cluster_with_every_value_pinned() -> None:
    spec = {"postgres": {**CNPG["postgres"], "storage": {"size": "20Gi", "storageClassName": "fast"}}}
    cluster = rendered(spec)["Cluster", "mem-postgres"]
    assert cluster["apiVersion"] == "postgresql.cnpg.io/v1"
    assert cluster["spec"] == {
        "instances": 3,
        "imageName": "ghcr.io/cloudnative-pg/postgresql:17.2",
        "primaryUpdateStrategy": "unsupervised",
        "bootstrap": {"initdb": {"database": "soma", "owner": "soma"}},
        "storage": {"size": "20Gi", "storageClass": "fast"},
        "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"memory": "2Gi"}},
        "enablePDB": True,
        "affinity": {"enablePodAntiAffinity": True, "topologyKey": HOST, "podAntiAffinityType": "preferred"},
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": key,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"cnpg.io/cluster": "mem-postgres"}},
            }
            for key in (ZONE, HOST)
        ],
        "inheritedMetadata": {
            "labels": {"app.kubernetes.io/instance": "mem", "app.kubernetes.io/managed-by": "soma-operator"}
        },
        "postgresql": {"synchronous": {"method": "any", "number": 1, "dataDurability": "required"}},
    }


@pytest.mark.parametrize(
    ("instances", "synchronous", "number"), [(1, 1, None), (2, 1, 1), (3, 2, 2), (3, 5, 2), (3, 0, None)]
)
def test_synchronous_standbys_never_exceed_the_standbys_there_are(
    instances: int, synchronous: int, number: int | None
) -> None:
    postgres = {"provider": "cloudnative-pg", "instances": instances, "synchronousReplicas": synchronous}
    cluster = rendered({"postgres": postgres})["Cluster", "mem-postgres"]["spec"]
    found = cluster.get("postgresql", {}).get("synchronous", {}).get("number")
    assert found == number


def test_the_cluster_is_accepted_by_cloudnative_pgs_own_schema() -> None:
    schema = without_extensions(crd_schema("postgresql.cnpg.io_clusters.yaml"))
    for spec in (
        CNPG,
        {"postgres": {"provider": "cloudnative-pg"}},
        {"postgres": {**CNPG["postgres"], "synchronousReplicas": 0}},
    ):
        jsonschema.validate(rendered(spec)["Cluster", "mem-postgres"], schema)


def test_with_cloudnative_pg_the_runtime_reads_its_read_write_secret_and_no_statefulset_is_made() -> None:
    children = rendered(CNPG)
    for kind in ("StatefulSet", "Service", "NetworkPolicy", "PodDisruptionBudget"):
        assert (kind, "mem-postgres") not in children
    for workload in (("Deployment", "mem-api"), ("Deployment", "mem-consumers")):
        env = env_of(children[workload])
        assert env["POSTGRES_URL"] == {"secretKeyRef": {"name": "mem-postgres-app", "key": "uri"}}
        assert "POSTGRES_PASSWORD" not in env
    secret = children["Secret", "mem-db-credentials"]
    assert set(secret["data"]) == {"redis-password", "redis.conf"}


def test_without_cloudnative_pg_installed_nothing_is_rendered_for_postgres() -> None:
    children = rendered(CNPG, NEITHER)
    assert not [key for key in children if key[1].startswith("mem-postgres")]


def test_more_than_one_instance_without_cloudnative_pg_is_refused_with_the_reason() -> None:
    with pytest.raises(SpecError, match="instances 3 needs provider cloudnative-pg"):
        build_context(system({"postgres": {"instances": 3}}))


def test_the_statefulset_provider_stays_the_default() -> None:
    spec = MemorySystemSpec()
    assert (spec.postgres.provider.value, spec.postgres.instances) == ("statefulset", 1)
    assert ("StatefulSet", "mem-postgres") in rendered({})


# ---------------------------------------------------------------- autoscaling


def test_api_autoscaling_makes_an_hpa_and_leaves_the_replicas_to_it() -> None:
    spec = {"api": {"autoscaling": {"minReplicas": 3, "maxReplicas": 9, "targetCPUUtilization": 65}}}
    children = rendered(spec)
    hpa = children["HorizontalPodAutoscaler", "mem-api"]
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "mem-api"},
        "minReplicas": 3,
        "maxReplicas": 9,
        "metrics": [
            {
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 65}},
            }
        ],
    }
    kubernetes_validate.validate(hpa, KUBERNETES_VERSION, strict=True)
    assert "replicas" not in children["Deployment", "mem-api"]["spec"]
    assert children["PodDisruptionBudget", "mem-api"]["spec"]["maxUnavailable"] == 1
    assert rendered({})["Deployment", "mem-api"]["spec"]["replicas"] == 2
    assert ("HorizontalPodAutoscaler", "mem-api") not in rendered({})


def test_autoscaling_defaults() -> None:
    hpa = rendered({"api": {"autoscaling": {}}})["HorizontalPodAutoscaler", "mem-api"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (2, 10)
    assert hpa["metrics"][0]["resource"]["target"]["averageUtilization"] == 70


def test_autoscaling_without_a_cpu_request_is_refused() -> None:
    api = {"autoscaling": {}, "resources": {"requests": {"memory": "1Gi"}}}
    with pytest.raises(SpecError, match=r"autoscaling needs resources\.requests\.cpu"):
        build_context(system({"api": api}))
    with pytest.raises(SpecError, match="minReplicas 5 exceeds maxReplicas 4"):
        build_context(system({"api": {"autoscaling": {"minReplicas": 5, "maxReplicas": 4}}}))


CONSUMERS = {
    "consumers": {"replicas": 2, "autoscaling": {"minReplicas": 1, "maxReplicas": 20, "lagThreshold": 500}}
}


def test_consumers_scale_on_lag_with_a_keda_scaled_object() -> None:
    children = rendered({**CONSUMERS, "redpanda": {"partitions": 8}})
    scaled = children["ScaledObject", "mem-consumers"]
    assert scaled["apiVersion"] == "keda.sh/v1alpha1"
    assert scaled["spec"] == {
        "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "mem-consumers"},
        "minReplicaCount": 1,
        # 20 asked, but a consumer beyond the 8 partitions would idle.
        "maxReplicaCount": 8,
        "triggers": [
            {
                "type": "kafka",
                "metadata": {
                    "bootstrapServers": "mem-redpanda.default.svc:9092",
                    "consumerGroup": "soma-indexer",
                    "topic": "soma.memories",
                    "lagThreshold": "500",
                    "offsetResetPolicy": "earliest",
                },
            }
        ],
    }
    assert "replicas" not in children["Deployment", "mem-consumers"]["spec"]
    jsonschema.validate(scaled, without_extensions(crd_schema("keda.sh_scaledobjects.yaml")))
    # The trigger watches what the runtime consumes: the ConfigMap names the same topic and group.
    data = children["ConfigMap", "mem-config"]["data"]
    assert (data["SOMA_KAFKA_TOPIC"], data["SOMA_KAFKA_CONSUMER_GROUP"]) == ("soma.memories", "soma-indexer")


def test_without_keda_the_consumers_keep_fixed_replicas() -> None:
    children = rendered(CONSUMERS, NEITHER)
    assert ("ScaledObject", "mem-consumers") not in children
    assert children["Deployment", "mem-consumers"]["spec"]["replicas"] == 2


def test_an_external_broker_is_read_by_keda_from_the_consumers_env() -> None:
    spec = {**CONSUMERS, "redpanda": {"external": {"secretRef": {"name": "kafka"}}}}
    [trigger] = rendered(spec)["ScaledObject", "mem-consumers"]["spec"]["triggers"]
    assert trigger["metadata"]["bootstrapServersFromEnv"] == "KAFKA_BOOTSTRAP_SERVERS"
    assert "bootstrapServers" not in trigger["metadata"]
    assert rendered(spec)["ScaledObject", "mem-consumers"]["spec"]["maxReplicaCount"] == 20


def test_direct_mode_has_no_consumer_scaler() -> None:
    assert not [k for k in rendered({**CONSUMERS, "mode": "direct"}) if k[0] == "ScaledObject"]


# ---------------------------------------------------------------- placement


def test_every_pod_spreads_over_zones_and_nodes_and_data_store_copies_avoid_each_other() -> None:
    children = rendered({"qdrant": {"replicas": 3}, "redpanda": {"replicas": 3}})
    workloads = [m for m in children.values() if m["kind"] in ("StatefulSet", "Deployment")]
    assert len(workloads) == 6
    for workload in workloads:
        component = workload["metadata"]["labels"]["app.kubernetes.io/component"]
        selector = {
            "app.kubernetes.io/name": "soma",
            "app.kubernetes.io/instance": "mem",
            "app.kubernetes.io/component": component,
        }
        pod = workload["spec"]["template"]["spec"]
        match = {"matchLabels": selector}
        assert pod["topologySpreadConstraints"] == [
            {
                "maxSkew": 1,
                "topologyKey": ZONE,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": match,
            },
            {
                "maxSkew": 1,
                "topologyKey": HOST,
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": match,
            },
        ]
        if component in set(DATA_STORES):
            assert pod["affinity"] == {
                "podAntiAffinity": {
                    "preferredDuringSchedulingIgnoredDuringExecution": [
                        {"weight": 100, "podAffinityTerm": {"labelSelector": match, "topologyKey": HOST}}
                    ]
                }
            }  # fmt: skip
        else:
            assert "affinity" not in pod
        kubernetes_validate.validate(workload, KUBERNETES_VERSION, strict=True)


# ---------------------------------------------------------------- replication and disruption budgets


def shard_placements(replicas: int, factor: int) -> list[tuple[int, ...]]:
    """Every set of pods that can hold one shard's copies (each copy on its own pod, in both stores)."""
    return list(itertools.combinations(range(replicas), factor))


@pytest.mark.parametrize("replicas", [1, 2, 3, 4, 5])
def test_a_drain_the_qdrant_budget_allows_never_takes_a_shard_below_its_write_consistency(
    replicas: int,
) -> None:
    spec = MemorySystemSpec.model_validate({"qdrant": {"replicas": replicas}})
    factor, consistency = spec.qdrant.replication_factor, spec.qdrant.write_consistency_factor
    assert (factor, consistency) == {1: (1, 1), 2: (2, 1), 3: (3, 2), 4: (3, 2), 5: (3, 2)}[replicas]
    budget = budgeted(spec).get(Component.QDRANT)
    if replicas == 1:
        assert budget is None  # one copy: no budget, a drain of a single pod is never blocked forever
        return
    assert budget == 1
    for drained in itertools.combinations(range(replicas), budget):
        for holders in shard_placements(replicas, factor):
            assert len(set(holders) - set(drained)) >= consistency, (drained, holders)
    # The budget is the most that is safe: one more could take a shard below its write consistency.
    worst = shard_placements(replicas, factor)[0][: budget + 1]
    assert factor - len(worst) < consistency


@pytest.mark.parametrize(
    ("replicas", "factor", "budget"), [(1, 1, None), (2, 1, 0), (3, 3, 1), (4, 3, 1), (5, 3, 1)]
)
def test_a_drain_the_redpanda_budget_allows_never_takes_a_partition_below_its_majority(
    replicas: int, factor: int, budget: int | None
) -> None:
    spec = MemorySystemSpec.model_validate({"redpanda": {"replicas": replicas}})
    assert spec.redpanda.replication_factor == factor
    assert budgeted(spec).get(Component.REDPANDA) == budget
    majority = factor // 2 + 1
    for drained in itertools.combinations(range(replicas), budget or 0):
        for holders in shard_placements(replicas, factor):
            assert len(set(holders) - set(drained)) >= majority


def test_the_runtime_is_told_the_replication_and_shards() -> None:
    data = rendered({"qdrant": {"replicas": 5, "shards": 10}, "redpanda": {"replicas": 5, "partitions": 24}})[
        "ConfigMap", "mem-config"
    ]["data"]
    assert data["SOMA_QDRANT_REPLICATION_FACTOR"] == "3"
    assert data["SOMA_QDRANT_WRITE_CONSISTENCY_FACTOR"] == "2"
    assert data["SOMA_QDRANT_SHARD_NUMBER"] == "10"
    assert (data["SOMA_KAFKA_TOPIC_REPLICATION"], data["SOMA_KAFKA_TOPIC_PARTITIONS"]) == ("3", "24")
    assert (
        rendered({"qdrant": {"replicas": 3}})["ConfigMap", "mem-config"]["data"]["SOMA_QDRANT_SHARD_NUMBER"]
        == "3"
    )


# ---------------------------------------------------------------- the production sample


def test_the_production_sample_is_highly_available_as_rendered() -> None:
    sample = load_sample(REPO / "config" / "samples" / "production.yaml")
    children = {
        (m["kind"], m["metadata"]["name"]): m for m in render(build_context(sample, capabilities=BOTH))
    }
    name = sample["metadata"]["name"]
    hpa = children["HorizontalPodAutoscaler", f"{name}-api"]["spec"]
    assert (hpa["minReplicas"], hpa["maxReplicas"]) == (3, 10)
    cluster = children["Cluster", f"{name}-postgres"]["spec"]
    assert cluster["instances"] == 3
    assert cluster["postgresql"]["synchronous"]["number"] == 1
    assert children["StatefulSet", f"{name}-qdrant"]["spec"]["replicas"] == 3
    assert children["StatefulSet", f"{name}-redpanda"]["spec"]["replicas"] == 3
    data = children["ConfigMap", f"{name}-config"]["data"]
    assert (data["SOMA_QDRANT_REPLICATION_FACTOR"], data["SOMA_KAFKA_TOPIC_REPLICATION"]) == ("3", "3")
    scaled = children["ScaledObject", f"{name}-consumers"]["spec"]
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (2, 12)
    budgets = {n: m["spec"]["maxUnavailable"] for (k, n), m in children.items() if k == "PodDisruptionBudget"}
    assert budgets == {f"{name}-api": 1, f"{name}-consumers": 1, f"{name}-qdrant": 1, f"{name}-redpanda": 1}
    # Redis holds only a cache, counters and locks: one pod, rebuilt from nothing when lost.
    assert children["StatefulSet", f"{name}-redis"]["spec"]["replicas"] == 1
    # Without CloudNativePG the sample does not become a single PostgreSQL silently: nothing is made for it.
    without = render(build_context(sample, capabilities=NEITHER))
    assert not [m for m in without if m["metadata"]["name"] == f"{name}-postgres"]


@pytest.mark.parametrize(
    ("args", "kinds"),
    [([], {"Cluster", "ScaledObject"}), (["--without", "cloudnative-pg", "--without", "keda"], set())],
)
def test_render_assumes_the_optional_operators_unless_told(
    args: list[str], kinds: set[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", str(REPO / "config" / "samples" / "production.yaml"), *args]) == 0
    found = {doc["kind"] for doc in yaml.safe_load_all(capsys.readouterr().out) if doc}
    assert found & {"Cluster", "ScaledObject"} == kinds


# ---------------------------------------------------------------- status


def test_a_cloudnative_pg_cluster_is_counted_by_its_instances() -> None:
    assert cluster_condition(None, 3).reason == "NotCreated"
    rolling = cluster_condition({"status": {"instances": 2, "readyInstances": 2}}, 3)
    assert (rolling.ready, rolling.reason, rolling.message) == (
        False,
        "RollingOut",
        "postgres: 2/3 instances created",
    )
    lost = cluster_condition({"status": {"instances": 3, "readyInstances": 2}}, 3)
    assert (lost.ready, lost.reason, lost.message) == (False, "NotReady", "postgres: 2/3 instances ready")
    ready = cluster_condition({"status": {"instances": 3, "readyInstances": 3}}, 3)
    assert (ready.ready, ready.reason) == (True, "Ready")


def _status(spec: dict[str, Any], workloads: dict[Component, Any], providers: Any) -> dict[str, Any]:
    return observed_status(
        spec=MemorySystemSpec.model_validate(spec),
        workloads=workloads,
        storage=[],
        refusal=None,
        old_status={},
        generation=1,
        endpoint="http://x",
        now=datetime(2026, 1, 1, tzinfo=UTC),
        providers=providers,
    )


def ready_workload(replicas: int) -> dict[str, Any]:
    return {
        "metadata": {"generation": 1},
        "spec": {"replicas": replicas},
        "status": {"observedGeneration": 1, "updatedReplicas": replicas, "readyReplicas": replicas},
    }


def test_a_missing_provider_holds_progress_and_says_why() -> None:
    spec = {"mode": "direct", "postgres": {"provider": "cloudnative-pg"}}
    workloads = {c: ready_workload(1) for c in (Component.REDIS, Component.QDRANT)}
    workloads[Component.API] = ready_workload(2)
    found = _status(spec, workloads, Providers("cloudnative-pg", None, {Component.POSTGRES: "install it"}))
    by_type = {c["type"]: (c["status"], c["reason"], c["message"]) for c in found["conditions"]}
    assert by_type["PostgresReady"] == ("False", "ProviderNotInstalled", "install it")
    assert by_type["Progressing"] == ("False", "ProviderNotInstalled", "install it")
    assert found["phase"] == "Provisioning"
    assert found["providers"] == {"postgres": "cloudnative-pg"}


def test_an_autoscaled_deployment_is_ready_at_the_count_its_autoscaler_chose() -> None:
    spec = {"mode": "direct", "api": {"autoscaling": {"minReplicas": 2}}}
    workloads = {c: ready_workload(1) for c in (Component.POSTGRES, Component.REDIS, Component.QDRANT)}
    workloads[Component.API] = ready_workload(5)
    found = _status(spec, workloads, Providers("statefulset", None, {}, frozenset({Component.API})))
    assert found["phase"] == "Ready"
    messages = {c["type"]: c["message"] for c in found["conditions"]}
    assert messages["ApiReady"] == "api: 5/5 replicas ready"
    evented = _status({}, {}, Providers("statefulset", "keda"))
    assert evented["providers"] == {"postgres": "statefulset", "consumerScaling": "keda"}
