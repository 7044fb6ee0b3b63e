"""The pure builders: every manifest for every sample is valid Kubernetes and carries the contract."""

from __future__ import annotations

import base64
from typing import Any

import kubernetes_validate
import pytest

from conftest import KUBERNETES_VERSION, build_context
from soma_operator.builders import BUILDERS, render
from soma_operator.builders.context import Credentials
from soma_operator.builders.labels import (
    COMPONENT_LABEL,
    INSTANCE_LABEL,
    MANAGED_BY_LABEL,
    NAME_LABEL,
    PART_OF_LABEL,
    VERSION_LABEL,
)
from soma_operator.builders.pods import CONFIG_CHECKSUM_ANNOTATION
from soma_operator.spec import Component

RUNTIME_ENV = {
    "SOMA_API_TOKEN_FILE",
    "SOMA_NAMESPACE",
    "POSTGRES_URL",
    "REDIS_URL",
    "QDRANT_URL",
    "EVENTING_ENABLED",
    "SOMA_EMBEDDING_PROVIDER",
    "SOMA_EMBEDDING_DIMENSIONS",
    "SOMA_RATE_LIMIT_PER_MINUTE",
    "SOMA_LOG_FORMAT",
}


def by_kind_and_name(manifests: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["kind"], m["metadata"]["name"]): m for m in manifests}


def minimal(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "memory.soma.dev/v1alpha1",
        "kind": "MemorySystem",
        "metadata": {"name": "m"},
        "spec": spec,
    }


def containers(workload: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = workload["spec"]["template"]["spec"]["containers"]
    return result


def runtime_env(workload: dict[str, Any], config_map: dict[str, Any]) -> dict[str, Any]:
    """What the runtime container sees: the ConfigMap's keys plus its own env entries."""
    [container] = containers(workload)
    env: dict[str, Any] = dict(config_map["data"])
    env.update({entry["name"]: entry.get("value", entry.get("valueFrom")) for entry in container["env"]})
    return env


@pytest.mark.parametrize("build", BUILDERS, ids=[b.__module__.rsplit(".", 1)[-1] for b in BUILDERS])
def test_every_builder_output_validates_against_the_kubernetes_schemas(
    sample: dict[str, Any], build: Any
) -> None:
    for manifest in build(build_context(sample)):
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_every_child_is_owned_and_labelled(sample: dict[str, Any]) -> None:
    ctx = build_context(sample)
    for manifest in render(ctx):
        metadata = manifest["metadata"]
        if (manifest["kind"], metadata["name"]) == ("PersistentVolumeClaim", f"{ctx.name}-backup"):
            # The backup claim outlives the MemorySystem: labelled (storagePolicy Delete finds it), not owned.
            assert "ownerReferences" not in metadata
            assert metadata["labels"][INSTANCE_LABEL] == ctx.name
            continue
        [owner] = metadata["ownerReferences"]
        assert owner == {
            "apiVersion": "memory.soma.dev/v1alpha1",
            "kind": "MemorySystem",
            "name": ctx.name,
            "uid": ctx.system.uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
        labels = metadata["labels"]
        for key in (NAME_LABEL, COMPONENT_LABEL, PART_OF_LABEL, VERSION_LABEL):
            assert labels[key]
        assert labels[INSTANCE_LABEL] == ctx.name
        assert labels[MANAGED_BY_LABEL] == "soma-operator"
        assert metadata["namespace"] == ctx.namespace


def test_every_pod_is_non_root_with_a_read_only_root_filesystem_and_probes(sample: dict[str, Any]) -> None:
    for manifest in render(build_context(sample)):
        if manifest["kind"] not in ("StatefulSet", "Deployment"):
            continue
        pod = manifest["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        mounted = {v["name"] for c in pod["containers"] for v in c.get("volumeMounts", [])}
        declared = {v["name"] for v in pod["volumes"]} | {"data"}
        assert mounted <= declared
        for container in pod["containers"]:
            assert container["securityContext"]["readOnlyRootFilesystem"] is True
            assert container["securityContext"]["allowPrivilegeEscalation"] is False
            assert "/tmp" in {m["mountPath"] for m in container["volumeMounts"]}
            assert container["livenessProbe"]
            assert container["readinessProbe"]
            assert container["resources"]


def test_minimal_provisions_everything_with_the_runtime_contract() -> None:
    ctx = build_context(minimal())
    objects = by_kind_and_name(render(ctx))
    for store in ("postgres", "redis", "qdrant", "redpanda"):
        assert ("StatefulSet", f"m-{store}") in objects
        assert ("Service", f"m-{store}") in objects
        assert ("Service", f"m-{store}-headless") in objects
        assert ("NetworkPolicy", f"m-{store}") in objects
    api = objects["Deployment", "m-api"]
    consumers = objects["Deployment", "m-consumers"]
    config_map = objects["ConfigMap", "m-config"]
    [api_container] = containers(api)
    assert api_container["image"] == "ghcr.io/soma-platform/soma-runtime:0.1.0"
    assert api_container["command"] == ["soma", "serve", "--host", "0.0.0.0", "--port", "9595"]
    assert containers(consumers)[0]["command"] == ["soma", "consume"]
    env = runtime_env(api, config_map)
    assert set(env) >= RUNTIME_ENV | {"KAFKA_BOOTSTRAP_SERVERS"}
    assert env["POSTGRES_URL"] == "postgresql://soma:$(POSTGRES_PASSWORD)@m-postgres.default.svc:5432/soma"
    assert env["REDIS_URL"] == "redis://:$(REDIS_PASSWORD)@m-redis.default.svc:6379/0"
    assert env["QDRANT_URL"] == "http://m-qdrant.default.svc:6333"
    assert env["KAFKA_BOOTSTRAP_SERVERS"] == "m-redpanda.default.svc:9092"
    assert env["EVENTING_ENABLED"] == "true"
    assert env["SOMA_NAMESPACE"] == "default"
    assert env["SOMA_LOG_FORMAT"] == "json"
    names = [entry["name"] for entry in api_container["env"]]
    # Kubernetes interpolates $(VAR) only from variables defined before.
    assert names.index("POSTGRES_PASSWORD") < names.index("POSTGRES_URL")
    assert names.index("REDIS_PASSWORD") < names.index("REDIS_URL")
    consumer_env = runtime_env(consumers, config_map)
    # soma consume serves its probes on loopback by default: in a pod they must reach the kubelet
    assert consumer_env["SOMA_CONSUMER_METRICS_HOST"] == "0.0.0.0"
    assert consumer_env["SOMA_CONSUMER_METRICS_PORT"] == "9596"
    assert "SOMA_CONSUMER_METRICS_HOST" not in runtime_env(api, config_map)


def test_no_password_is_written_into_the_config_map() -> None:
    credentials = Credentials()
    ctx = build_context(minimal())
    ctx = type(ctx)(ctx.system, ctx.config, credentials)
    config_map = by_kind_and_name(render(ctx))["ConfigMap", "m-config"]
    text = repr(config_map)
    for secret in (credentials.api_token, credentials.postgres_password, credentials.redis_password):
        assert secret not in text
        assert secret not in repr(credentials)  # so it cannot leak into a log line either


def test_secrets_carry_the_credentials_they_are_given() -> None:
    credentials = Credentials(api_token="t0ken", postgres_password="pg-pass", redis_password="redis-pass")
    ctx = build_context(minimal())
    objects = by_kind_and_name(render(type(ctx)(ctx.system, ctx.config, credentials)))

    def decoded(secret: dict[str, Any]) -> dict[str, str]:
        return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}

    assert decoded(objects["Secret", "m-api-token"]) == {"token": "t0ken"}
    assert decoded(objects["Secret", "m-db-credentials"]) == {
        "postgres-password": "pg-pass",
        "redis-password": "redis-pass",
        "redis.conf": "requirepass redis-pass\n",
    }


def test_direct_mode_provisions_no_redpanda_and_no_consumers() -> None:
    ctx = build_context(minimal(mode="direct"))
    objects = by_kind_and_name(render(ctx))
    assert not [key for key in objects if "redpanda" in key[1] or "consumers" in key[1]]
    env = runtime_env(objects["Deployment", "m-api"], objects["ConfigMap", "m-config"])
    assert env["EVENTING_ENABLED"] == "false"
    assert "KAFKA_BOOTSTRAP_SERVERS" not in env


def test_an_external_component_comes_from_its_secret_and_is_not_provisioned() -> None:
    ctx = build_context(minimal(postgres={"external": {"secretRef": {"name": "pg", "key": "dsn"}}}))
    objects = by_kind_and_name(render(ctx))
    assert not [key for key in objects if "postgres" in key[1]]
    env = runtime_env(objects["Deployment", "m-api"], objects["ConfigMap", "m-config"])
    assert env["POSTGRES_URL"] == {"secretKeyRef": {"name": "pg", "key": "dsn"}}
    assert "POSTGRES_PASSWORD" not in env
    assert "postgres-password" not in objects["Secret", "m-db-credentials"]["data"]


def test_a_given_token_secret_replaces_the_generated_one() -> None:
    ctx = build_context(minimal(api={"auth": {"tokenSecretRef": {"name": "my-token", "key": "bearer"}}}))
    objects = by_kind_and_name(render(ctx))
    assert ("Secret", "m-api-token") not in objects
    volumes = objects["Deployment", "m-api"]["spec"]["template"]["spec"]["volumes"]
    assert {"secretName": "my-token", "items": [{"key": "bearer", "path": "token"}]} in [
        v.get("secret") for v in volumes
    ]


@pytest.mark.parametrize(("policy", "when_deleted"), [("Retain", "Retain"), ("Delete", "Delete")])
def test_claim_retention_follows_the_storage_policy(policy: str, when_deleted: str) -> None:
    objects = by_kind_and_name(render(build_context(minimal(storagePolicy={"onDelete": policy}))))
    for store in ("postgres", "redis", "qdrant", "redpanda"):
        retention = objects["StatefulSet", f"m-{store}"]["spec"]["persistentVolumeClaimRetentionPolicy"]
        assert retention == {"whenDeleted": when_deleted, "whenScaled": "Retain"}


def test_existing_claim_templates_are_rendered_unchanged() -> None:
    spec = minimal(postgres={"storage": {"size": "20Gi", "storageClassName": "fast"}})
    fresh = by_kind_and_name(render(build_context(spec)))["StatefulSet", "m-postgres"]
    existing = by_kind_and_name(
        render(build_context(spec, claim_template_sizes={Component.POSTGRES: "10Gi"}))
    )
    [fresh_claim] = fresh["spec"]["volumeClaimTemplates"]
    [kept_claim] = existing["StatefulSet", "m-postgres"]["spec"]["volumeClaimTemplates"]
    assert fresh_claim["spec"]["resources"]["requests"]["storage"] == "20Gi"
    assert fresh_claim["spec"]["storageClassName"] == "fast"
    assert kept_claim["spec"]["resources"]["requests"]["storage"] == "10Gi"


def test_a_rate_limit_change_rolls_the_runtime_pods() -> None:
    before = by_kind_and_name(render(build_context(minimal())))
    after = by_kind_and_name(render(build_context(minimal(api={"rateLimit": {"requestsPerMinute": 60}}))))
    for deployment in ("m-api", "m-consumers"):

        def checksum(objects: dict[tuple[str, str], dict[str, Any]], name: str = deployment) -> str:
            annotations: dict[str, str] = objects["Deployment", name]["spec"]["template"]["metadata"][
                "annotations"
            ]
            return annotations[CONFIG_CHECKSUM_ANNOTATION]

        assert checksum(before) != checksum(after)
    assert after["ConfigMap", "m-config"]["data"]["SOMA_RATE_LIMIT_PER_MINUTE"] == "60"


def test_replicated_workloads_get_a_disruption_budget_and_single_ones_none() -> None:
    objects = by_kind_and_name(render(build_context(minimal(qdrant={"replicas": 3}))))
    budgets = {name for kind, name in objects if kind == "PodDisruptionBudget"}
    assert budgets == {"m-api", "m-qdrant"}


def test_data_stores_admit_only_the_runtime_pods() -> None:
    objects = by_kind_and_name(render(build_context(minimal())))
    policy = objects["NetworkPolicy", "m-postgres"]["spec"]
    assert policy["podSelector"]["matchLabels"][COMPONENT_LABEL] == "postgres"
    [rule] = policy["ingress"]
    assert sorted(peer["podSelector"]["matchLabels"][COMPONENT_LABEL] for peer in rule["from"]) == [
        "api",
        "consumers",
    ]
    assert rule["ports"] == [{"protocol": "TCP", "port": 5432}]


def test_the_runtime_image_and_version_come_from_config_and_spec() -> None:
    ctx = build_context(minimal(version="1.2.3"))
    config = ctx.config.model_copy(update={"runtime_image": "registry.example/soma"})
    objects = by_kind_and_name(render(type(ctx)(ctx.system, config, ctx.credentials)))
    assert containers(objects["Deployment", "m-api"])[0]["image"] == "registry.example/soma:1.2.3"
    assert objects["Deployment", "m-api"]["metadata"]["labels"][VERSION_LABEL] == "1.2.3"
    assert objects["StatefulSet", "m-postgres"]["metadata"]["labels"][VERSION_LABEL] == "17.2"
