"""spec.maintenance and spec.encryption on a real control plane: admitted (or refused) by the real API
server with the CRD's schema and CEL rules; the operator's CronJob and key Secret under the RBAC config/rbac
ships; a maintenance Job made from the CronJob (what `kubectl create job --from=cronjob/...` sends) run by
the real Job controller; and the key kept through reconciles, a rotation and a delete with storagePolicy
Retain, while the real garbage collector deletes what the MemorySystem still owns.

No kubelet runs here, so the test plays it: it makes the stores' and the API's pods ready, and ends the
maintenance pod's container."""

from __future__ import annotations

import base64
import datetime
import json
from collections.abc import Callable
from typing import Any

import pytest

from soma_operator.builders.labels import COMPONENT_LABEL, instance_labels
from support.control_plane import ApiError, ControlPlane, KubeApi, mark_pods_ready
from support.operator_cluster import MS_API, OperatorProcess, memory_system
from support.servers import wait_until

NAME = "tidy"
# A bound on waiting, not a timing.
SETTLE_SECONDS = 120
MAINTENANCE = {
    "schedule": "30 4 * * *",
    "decay": {
        "rules": [{"afterSeconds": 86400, "drop": ["scratch"]}],
        "forgetBelowImportance": 0.2,
        "forgetAfterSeconds": 604800,
    },
    "consolidation": {"windowSeconds": 3600},
}
ENCRYPTION = {"fields": ["email", "pin"]}
ROTATED_KEY = base64.urlsafe_b64encode(b"k" * 32).decode()
RUNNING_COMPONENTS = ("postgres", "redis", "qdrant", "api")


def spec(**changes: Any) -> dict[str, Any]:
    return {
        "mode": "direct",
        "api": {"replicas": 1},
        "maintenance": MAINTENANCE,
        "encryption": ENCRYPTION,
        **changes,
    }


def wait_for(check: Callable[[], Any], what: str, operator: OperatorProcess | None = None) -> None:
    try:
        wait_until(lambda: bool(check()), timeout=SETTLE_SECONDS, what=what, interval=0.5)
    except TimeoutError as error:
        log = operator.log()[-6000:] if operator is not None else ""
        raise AssertionError(f"{error}\n--- operator log (tail) ---\n{log}") from None


def status(api: KubeApi, namespace: str) -> dict[str, Any]:
    found: dict[str, Any] = (api.get(MS_API, "MemorySystem", NAME, namespace) or {}).get("status") or {}
    return found


def maintenance_condition(api: KubeApi, namespace: str) -> dict[str, Any]:
    conditions = status(api, namespace).get("conditions", [])
    return next((c for c in conditions if c["type"] == "MaintenanceSucceeded"), {})


def cronjob(api: KubeApi, namespace: str) -> dict[str, Any]:
    return api.get("batch/v1", "CronJob", f"{NAME}-maintenance", namespace) or {}


def key_secret(api: KubeApi, namespace: str) -> dict[str, Any]:
    return api.get("v1", "Secret", f"{NAME}-encryption", namespace) or {}


def job_from_cronjob(api: KubeApi, namespace: str, job: str) -> dict[str, Any]:
    """What `kubectl create job JOB --from=cronjob/NAME-maintenance` creates."""
    source = cronjob(api, namespace)
    template = source["spec"]["jobTemplate"]
    return api.create(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": job,
                "namespace": namespace,
                "labels": template["metadata"]["labels"],
                "annotations": {"cronjob.kubernetes.io/instantiate": "manual"},
                "ownerReferences": [
                    {
                        "apiVersion": "batch/v1",
                        "kind": "CronJob",
                        "name": source["metadata"]["name"],
                        "uid": source["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": template["spec"],
        }
    )


def end_pod(api: KubeApi, namespace: str, pod: dict[str, Any]) -> None:
    """Play the kubelet: the container ran and exited 0."""
    now = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    [container] = pod["spec"]["containers"]
    terminated = {"exitCode": 0, "reason": "Completed", "startedAt": now, "finishedAt": now}
    state = {
        "name": container["name"],
        "image": container["image"],
        "imageID": "",
        "ready": False,
        "started": False,
        "restartCount": 0,
        "state": {"terminated": terminated},
    }
    api.merge_patch(
        "v1",
        "Pod",
        pod["metadata"]["name"],
        {"status": {"phase": "Succeeded", "startTime": now, "containerStatuses": [state]}},
        namespace=namespace,
        subresource="status",
    )


def env_values(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def assert_runs_the_runtime_with_the_keys(pod_spec: dict[str, Any]) -> None:
    [container] = pod_spec["containers"]
    assert container["command"] == ["soma", "maintain"]
    assert container["envFrom"] == [{"configMapRef": {"name": f"{NAME}-config"}}]
    options = {
        k: v
        for k, v in env_values(container).items()
        if k.startswith(("SOMA_DECAY", "SOMA_FORGET", "SOMA_CON"))
    }
    assert options == {
        "SOMA_DECAY_RULES": '[{"after_seconds":86400,"drop":["scratch"]}]',
        "SOMA_FORGET_BELOW_IMPORTANCE": "0.2",
        "SOMA_FORGET_AFTER_SECONDS": "604800",
        "SOMA_CONSOLIDATION_WINDOW_SECONDS": "3600",
        "SOMA_CONSOLIDATION_MIN_MEMORIES": "2",
    }
    [keys_mount] = [m for m in container["volumeMounts"] if m["name"] == "encryption-keys"]
    assert keys_mount == {"name": "encryption-keys", "mountPath": "/etc/soma/encryption", "readOnly": True}
    [keys_volume] = [v for v in pod_spec["volumes"] if v["name"] == "encryption-keys"]
    assert keys_volume["secret"] == {
        "secretName": f"{NAME}-encryption",
        "items": [{"key": "keys", "path": "keys"}],
        "defaultMode": 0o440,
    }
    assert pod_spec["restartPolicy"] == "Never"
    assert pod_spec["securityContext"]["runAsNonRoot"] is True


@pytest.mark.parametrize("operator", [{"status_refresh_seconds": 2}], indirect=True)
def test_maintenance_and_the_encryption_key_on_a_real_control_plane(
    control_plane: ControlPlane, namespace: str, operator: OperatorProcess
) -> None:
    api = control_plane.api
    uid = api.apply(memory_system(NAME, namespace, spec()))["metadata"]["uid"]

    def ready() -> bool:
        for component in RUNNING_COMPONENTS:
            mark_pods_ready(api, namespace, {**instance_labels(NAME), COMPONENT_LABEL: component})
        return status(api, namespace).get("phase") == "Ready"

    wait_for(ready, "the MemorySystem Ready", operator)
    live = cronjob(api, namespace)
    [owner] = live["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("MemorySystem", NAME, uid)
    assert (live["spec"]["schedule"], live["spec"]["concurrencyPolicy"]) == ("30 4 * * *", "Forbid")
    assert live["spec"]["suspend"] is False
    assert_runs_the_runtime_with_the_keys(live["spec"]["jobTemplate"]["spec"]["template"]["spec"])
    config = (api.get("v1", "ConfigMap", f"{NAME}-config", namespace) or {})["data"]
    assert config["SOMA_ENCRYPTED_FIELDS"] == "email,pin"
    assert config["SOMA_ENCRYPTION_KEYS_FILE"] == "/etc/soma/encryption/keys"

    secret = key_secret(api, namespace)
    assert secret["metadata"]["ownerReferences"][0]["uid"] == uid
    [key] = base64.b64decode(secret["data"]["keys"]).decode().splitlines()
    assert len(key) == 44
    assert len(base64.urlsafe_b64decode(key)) == 32

    # A manual run, as `kubectl create job --from=cronjob/...`: the Job controller makes its pod.
    job = job_from_cronjob(api, namespace, f"{NAME}-maintenance-manual")
    assert_runs_the_runtime_with_the_keys(job["spec"]["template"]["spec"])
    pods: list[dict[str, Any]] = []
    if control_plane.has_controller_manager:
        wait_for(
            lambda: (
                pods.extend(
                    api.list(
                        "v1", "Pod", namespace, {"batch.kubernetes.io/job-name": job["metadata"]["name"]}
                    )
                )
                or pods
            ),
            "the maintenance Job's pod",
            operator,
        )
        assert_runs_the_runtime_with_the_keys(pods[0]["spec"])
        end_pod(api, namespace, pods[0])
        wait_for(
            lambda: maintenance_condition(api, namespace).get("reason") == "MaintenanceCompleted",
            "MaintenanceSucceeded reported",
            operator,
        )
        last = status(api, namespace)["lastMaintenance"]
        assert (last["job"], last["result"], last["message"]) == (
            f"{NAME}-maintenance-manual",
            "Succeeded",
            "soma maintain completed",
        )
        assert status(api, namespace)["phase"] == "Ready"

    # Reconciles never write the key again, and a rotation by the user stays.
    first = key_secret(api, namespace)["data"]["keys"]
    api.apply(memory_system(NAME, namespace, spec(maintenance={**MAINTENANCE, "schedule": "0 5 * * *"})))
    wait_for(lambda: cronjob(api, namespace)["spec"]["schedule"] == "0 5 * * *", "the new schedule", operator)
    assert key_secret(api, namespace)["data"]["keys"] == first
    rotated = base64.b64encode(f"{ROTATED_KEY}\n{key}\n".encode()).decode()
    api.merge_patch("v1", "Secret", f"{NAME}-encryption", {"data": {"keys": rotated}}, namespace=namespace)
    api.apply(memory_system(NAME, namespace, spec(maintenance={**MAINTENANCE, "schedule": "0 6 * * *"})))
    wait_for(
        lambda: cronjob(api, namespace)["spec"]["schedule"] == "0 6 * * *", "the next schedule", operator
    )
    assert key_secret(api, namespace)["data"]["keys"] == rotated

    # No maintenance any more: the CronJob goes.
    api.apply(memory_system(NAME, namespace, {k: v for k, v in spec().items() if k != "maintenance"}))
    wait_for(lambda: not cronjob(api, namespace), "the CronJob deleted", operator)

    # Deleted with storagePolicy Retain: the key stays with the data, released from its owner, so the
    # garbage collector (running with the controller manager) leaves it.
    api.delete(MS_API, "MemorySystem", NAME, namespace)
    wait_for(
        lambda: api.get(MS_API, "MemorySystem", NAME, namespace) is None, "the MemorySystem gone", operator
    )
    if control_plane.has_controller_manager:
        wait_for(
            lambda: api.get("v1", "ConfigMap", f"{NAME}-config", namespace) is None,
            "the owned children collected",
            operator,
        )
    kept = key_secret(api, namespace)
    assert kept["data"]["keys"] == rotated
    assert not kept["metadata"].get("ownerReferences")


RULE = {"afterSeconds": 60, "drop": ["scratch"]}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"maintenance": {"suspend": True}}, "spec.maintenance.schedule: Required value"),
        ({"maintenance": {"schedule": "nightly"}}, "spec.maintenance.schedule in body should match"),
        (
            {"maintenance": {"schedule": "@daily", "decay": {"rules": [{"afterSeconds": 0, "drop": ["a"]}]}}},
            "spec.maintenance.decay.rules[0].afterSeconds: Invalid value: 0",
        ),
        (
            {"maintenance": {"schedule": "@daily", "decay": {"rules": [{"afterSeconds": 60, "drop": []}]}}},
            "spec.maintenance.decay.rules[0].drop: Invalid value: 0",
        ),
        (
            {"maintenance": {"schedule": "@daily", "decay": {"forgetBelowImportance": 2}}},
            "spec.maintenance.decay.forgetBelowImportance: Invalid value: 2",
        ),
        (
            {"maintenance": {"schedule": "@daily", "consolidation": {"windowSeconds": 60, "minMemories": 1}}},
            "spec.maintenance.consolidation.minMemories: Invalid value: 1",
        ),
        ({"encryption": {"fields": []}}, "spec.encryption.fields: Invalid value: 0"),
        (
            {"encryption": {"fields": ["a", "a"]}},
            'spec.encryption.fields: Invalid value: "array": each payload key may be listed once',
        ),
        ({"encryption": {"fields": ["a,b"]}}, "spec.encryption.fields[0] in body should match"),
    ],
)
def test_the_api_server_refuses_bad_maintenance_and_encryption(
    control_plane: ControlPlane, namespace: str, bad: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApiError) as refused:
        control_plane.api.apply(memory_system("refused", namespace, bad))
    assert refused.value.status == 422
    assert message in refused.value.message


def test_encryption_cannot_be_removed_once_set(control_plane: ControlPlane, namespace: str) -> None:
    api = control_plane.api
    api.apply(memory_system("sealed", namespace, {"encryption": {"fields": ["email"]}}))
    api.apply(memory_system("sealed", namespace, {"encryption": {"fields": ["email", "pin"]}}))
    with pytest.raises(ApiError) as refused:
        api.apply(memory_system("sealed", namespace, {"mode": "direct"}))
    assert refused.value.status == 422
    assert "encryption cannot be removed: the memories stored with it keep their encrypted fields" in (
        refused.value.message
    )
    assert json.dumps(api.get(MS_API, "MemorySystem", "sealed", namespace)["spec"]["encryption"]) == (
        '{"fields": ["email", "pin"]}'
    )
