"""spec.maintenance and spec.encryption: the spec's refusals, the maintenance CronJob, and how every runtime
pod gets the encryption keys and fields."""

from __future__ import annotations

import base64
import json
from typing import Any

import kubernetes_validate
import pytest

from conftest import KUBERNETES_VERSION, build_context
from soma_operator.builders import encryption, models, render, restore
from soma_operator.builders.labels import COMPONENT_LABEL, INSTANCE_LABEL, MANAGED_BY_LABEL
from soma_operator.builders.pods import CONFIG_CHECKSUM_ANNOTATION
from soma_operator.spec import MemorySystem, SpecError

UID = "0b6f6c43-5f0b-4d53-9c43-1a2b3c4d5e6f"
FULL = {
    "schedule": "30 4 * * *",
    "decay": {
        "rules": [
            {"afterSeconds": 86400, "drop": ["scratch"]},
            {"afterSeconds": 604800, "drop": ["raw", "trace"]},
        ],
        "forgetBelowImportance": 0.25,
        "forgetAfterSeconds": 2592000,
    },
    "consolidation": {"windowSeconds": 3600, "minMemories": 3},
}


def system(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "memory.soma.dev/v1alpha1",
        "kind": "MemorySystem",
        "metadata": {"name": "m"},
        "spec": {"mode": "direct", **spec},
    }


def rendered(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["kind"], m["metadata"]["name"]): m for m in render(build_context(body))}


def maintenance_pod(body: dict[str, Any]) -> dict[str, Any]:
    pod: dict[str, Any] = rendered(body)["CronJob", "m-maintenance"]["spec"]["jobTemplate"]["spec"][
        "template"
    ]
    return pod


def env_of(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e.get("value", "(secret)") for e in container["env"]}


def test_the_cronjob_runs_soma_maintain_with_every_option() -> None:
    cronjob = rendered(system(maintenance=FULL))["CronJob", "m-maintenance"]
    kubernetes_validate.validate(cronjob, KUBERNETES_VERSION, strict=True)
    spec = cronjob["spec"]
    assert spec["schedule"] == "30 4 * * *"
    assert spec["suspend"] is False
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] == 300
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 3)
    job = spec["jobTemplate"]
    assert job["metadata"]["labels"][COMPONENT_LABEL] == "maintenance"
    assert job["metadata"]["labels"][INSTANCE_LABEL] == "m"
    assert job["spec"]["backoffLimit"] == 0
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["serviceAccountName"] == "m-runtime"
    [container] = pod["containers"]
    assert container["name"] == "maintenance"
    assert container["image"] == "ghcr.io/soma-platform/soma-runtime:0.1.0"
    assert container["command"] == ["soma", "maintain"]
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"memory": "1Gi"},
    }
    options = {
        name: value for name, value in env_of(container).items() if "DECAY" in name or "FORGET" in name
    }
    assert options == {
        "SOMA_DECAY_RULES": '[{"after_seconds":86400,"drop":["scratch"]},'
        '{"after_seconds":604800,"drop":["raw","trace"]}]',
        "SOMA_FORGET_BELOW_IMPORTANCE": "0.25",
        "SOMA_FORGET_AFTER_SECONDS": "2592000",
    }
    assert json.loads(env_of(container)["SOMA_DECAY_RULES"]) == [
        {"after_seconds": 86400, "drop": ["scratch"]},
        {"after_seconds": 604800, "drop": ["raw", "trace"]},
    ]
    assert env_of(container)["SOMA_CONSOLIDATION_WINDOW_SECONDS"] == "3600"
    assert env_of(container)["SOMA_CONSOLIDATION_MIN_MEMORIES"] == "3"


def test_the_maintenance_sees_the_data_stores_exactly_as_the_api_does() -> None:
    children = rendered(system(maintenance=FULL))
    api_pod = children["Deployment", "m-api"]["spec"]["template"]["spec"]
    [api] = api_pod["containers"]
    [container] = maintenance_pod(system(maintenance=FULL))["spec"]["containers"]
    assert container["envFrom"] == api["envFrom"] == [{"configMapRef": {"name": "m-config"}}]
    assert container["env"][: len(api["env"])] == api["env"]
    assert [e["name"] for e in container["env"][len(api["env"]) :]] == [
        "SOMA_DECAY_RULES",
        "SOMA_FORGET_BELOW_IMPORTANCE",
        "SOMA_FORGET_AFTER_SECONDS",
        "SOMA_CONSOLIDATION_WINDOW_SECONDS",
        "SOMA_CONSOLIDATION_MIN_MEMORIES",
    ]
    assert container["volumeMounts"] == api["volumeMounts"]
    assert maintenance_pod(system(maintenance=FULL))["spec"]["volumes"] == api_pod["volumes"]


def test_options_left_out_are_not_set_and_min_memories_defaults_to_two() -> None:
    only_schedule = maintenance_pod(system(maintenance={"schedule": "@daily", "suspend": True}))
    [container] = only_schedule["spec"]["containers"]
    assert not [
        name for name in env_of(container) if name.startswith(("SOMA_DECAY", "SOMA_FORGET", "SOMA_CONS"))
    ]
    partial = {
        "schedule": "@daily",
        "decay": {"forgetBelowImportance": 0},
        "consolidation": {"windowSeconds": 60},
    }
    [container] = maintenance_pod(system(maintenance=partial))["spec"]["containers"]
    chosen = {
        k: v for k, v in env_of(container).items() if k.startswith(("SOMA_DECAY", "SOMA_FORGET", "SOMA_CONS"))
    }
    assert chosen == {
        "SOMA_FORGET_BELOW_IMPORTANCE": "0.0",
        "SOMA_CONSOLIDATION_WINDOW_SECONDS": "60",
        "SOMA_CONSOLIDATION_MIN_MEMORIES": "2",
    }
    assert (
        rendered(system(maintenance={"schedule": "@daily", "suspend": True}))["CronJob", "m-maintenance"][
            "spec"
        ]["suspend"]
        is True
    )


def test_the_maintenance_resources_follow_the_spec() -> None:
    spec = {"schedule": "@daily", "resources": {"requests": {"cpu": "1"}, "limits": {"memory": "2Gi"}}}
    [container] = maintenance_pod(system(maintenance=spec))["spec"]["containers"]
    assert container["resources"] == {"requests": {"cpu": "1"}, "limits": {"memory": "2Gi"}}


def test_no_maintenance_spec_renders_no_cronjob() -> None:
    assert ("CronJob", "m-maintenance") not in rendered(system())


def test_the_cronjob_is_owned_and_labelled_like_every_child() -> None:
    metadata = rendered(system(maintenance=FULL))["CronJob", "m-maintenance"]["metadata"]
    assert metadata["ownerReferences"] == [
        {
            "apiVersion": "memory.soma.dev/v1alpha1",
            "kind": "MemorySystem",
            "name": "m",
            "uid": UID,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert metadata["labels"][MANAGED_BY_LABEL] == "soma-operator"
    assert metadata["labels"][COMPONENT_LABEL] == "maintenance"


def test_the_maintenance_pods_may_reach_the_data_stores() -> None:
    policy = rendered(system(maintenance=FULL))["NetworkPolicy", "m-postgres"]
    peers = policy["spec"]["ingress"][0]["from"]
    assert [peer["podSelector"]["matchLabels"][COMPONENT_LABEL] for peer in peers] == [
        "api",
        "consumers",
        "maintenance",
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"maintenance": {"schedule": "0 25 * * *"}},
            "spec.maintenance.schedule: '0 25 * * *' is not a cron",
        ),
        ({"maintenance": {"suspend": True}}, "spec.maintenance.schedule: Field required"),
        (
            {"maintenance": {"schedule": "@daily", "decay": {"rules": [{"afterSeconds": 0, "drop": ["a"]}]}}},
            "spec.maintenance.decay.rules.0.afterSeconds: Input should be greater than or equal to 1",
        ),
        (
            {"maintenance": {"schedule": "@daily", "decay": {"rules": [{"afterSeconds": 5, "drop": []}]}}},
            "spec.maintenance.decay.rules.0.drop: List should have at least 1 item",
        ),
        (
            {"maintenance": {"schedule": "@daily", "decay": {"forgetBelowImportance": 1.5}}},
            "spec.maintenance.decay.forgetBelowImportance: Input should be less than or equal to 1",
        ),
        (
            {"maintenance": {"schedule": "@daily", "decay": {"forgetAfterSeconds": -1}}},
            "spec.maintenance.decay.forgetAfterSeconds: Input should be greater than or equal to 0",
        ),
        (
            {"maintenance": {"schedule": "@daily", "consolidation": {"windowSeconds": 60, "minMemories": 1}}},
            "spec.maintenance.consolidation.minMemories: Input should be greater than or equal to 2",
        ),
        (
            {"maintenance": {"schedule": "@daily", "consolidation": {}}},
            "spec.maintenance.consolidation.windowSeconds: Field required",
        ),
        ({"encryption": {"fields": []}}, "spec.encryption.fields: List should have at least 1 item"),
        ({"encryption": {"fields": ["a,b"]}}, "spec.encryption.fields.0: String should match pattern"),
        (
            {"encryption": {"fields": ["pin", "email", "pin"]}},
            "spec.encryption.fields: listed more than once: pin",
        ),
        ({"encryption": {"fields": ["x"], "keysSecretRef": {}}}, "spec.encryption.keysSecretRef.name: Field"),
    ],
)
def test_a_bad_spec_is_refused_with_its_reason(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as refused:
        MemorySystem.from_body(system(**spec))
    assert message in str(refused.value)


ENCRYPTED = {"fields": ["email", "pin"]}


def keys_mount(container: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in container["volumeMounts"] if m["name"] == "encryption-keys"]


def keys_volume(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [v for v in pod["volumes"] if v["name"] == "encryption-keys"]


def test_every_runtime_pod_mounts_the_keys_read_only_and_reads_the_settings() -> None:
    body = system(
        mode="evented",
        encryption=ENCRYPTED,
        maintenance=FULL,
        backup={"schedule": "@daily", "destination": {"volume": {"size": "1Gi"}}},
        restore={"source": {"volume": {"claimName": "old"}}},
        embedding={"provider": "onnx"},
    )
    ctx = build_context(body)
    children = rendered(body)
    config = children["ConfigMap", "m-config"]["data"]
    assert config["SOMA_ENCRYPTED_FIELDS"] == "email,pin"
    assert config["SOMA_ENCRYPTION_KEYS_FILE"] == "/etc/soma/encryption/keys"
    pods = {
        "api": children["Deployment", "m-api"]["spec"]["template"],
        "consumers": children["Deployment", "m-consumers"]["spec"]["template"],
        "backup": children["CronJob", "m-backup"]["spec"]["jobTemplate"]["spec"]["template"],
        "maintenance": children["CronJob", "m-maintenance"]["spec"]["jobTemplate"]["spec"]["template"],
        "restore": restore.job(ctx, ctx.system.spec.restore)["spec"]["template"],  # type: ignore[arg-type]
        "reindex": models.reindex_job(ctx)["spec"]["template"],
    }
    for component, pod in pods.items():
        [container] = pod["spec"]["containers"]
        assert container["envFrom"] == [{"configMapRef": {"name": "m-config"}}], component
        assert keys_mount(container) == [
            {"name": "encryption-keys", "mountPath": "/etc/soma/encryption", "readOnly": True}
        ], component
        assert keys_volume(pod["spec"]) == [
            {
                "name": "encryption-keys",
                "secret": {
                    "secretName": "m-encryption",
                    "items": [{"key": "keys", "path": "keys"}],
                    "defaultMode": 0o440,
                },
            }
        ], component


def test_the_users_secret_is_mounted_and_nothing_is_generated() -> None:
    body = system(encryption={**ENCRYPTED, "keysSecretRef": {"name": "my-keys"}})
    ctx = build_context(body)
    assert encryption.secret_name(ctx) == "my-keys"
    assert encryption.generates_secret(ctx) is False
    pod = rendered(body)["Deployment", "m-api"]["spec"]["template"]["spec"]
    assert keys_volume(pod)[0]["secret"]["secretName"] == "my-keys"
    assert not [m for m in render(ctx) if m["kind"] == "Secret" and "encryption" in m["metadata"]["name"]]


def test_without_encryption_nothing_is_mounted_or_set() -> None:
    children = rendered(system())
    assert "SOMA_ENCRYPTED_FIELDS" not in children["ConfigMap", "m-config"]["data"]
    assert "SOMA_ENCRYPTION_KEYS_FILE" not in children["ConfigMap", "m-config"]["data"]
    pod = children["Deployment", "m-api"]["spec"]["template"]["spec"]
    assert keys_volume(pod) == []
    assert keys_mount(pod["containers"][0]) == []
    assert encryption.secret_name(build_context(system())) is None


def test_a_change_of_the_fields_rolls_the_api() -> None:
    def checksum(fields: list[str]) -> str:
        api = rendered(system(encryption={"fields": fields}))["Deployment", "m-api"]
        annotation: str = api["spec"]["template"]["metadata"]["annotations"][CONFIG_CHECKSUM_ANNOTATION]
        return annotation

    assert checksum(["email"]) != checksum(["email", "pin"])


def test_a_generated_key_is_a_fernet_key_and_each_is_new() -> None:
    key = encryption.fernet_key()
    assert len(key) == 44
    assert len(base64.urlsafe_b64decode(key)) == 32
    assert encryption.fernet_key() != key


def test_the_generated_secret_holds_one_key_and_belongs_to_the_system() -> None:
    ctx = build_context(system(encryption=ENCRYPTED))
    key = encryption.fernet_key()
    secret = encryption.key_secret(ctx, key)
    kubernetes_validate.validate(secret, KUBERNETES_VERSION, strict=True)
    assert secret["metadata"]["name"] == "m-encryption"
    assert secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["keys"]).decode() == f"{key}\n"
    assert secret["metadata"]["ownerReferences"][0]["uid"] == UID
    assert secret["metadata"]["labels"][COMPONENT_LABEL] == "encryption"
    # Created by the reconcile where none exists, never rendered (an apply would overwrite a rotation).
    assert [m for m in render(ctx) if m["metadata"]["name"] == "m-encryption"] == []
