"""Scheduled backups on a real control plane: the operator's CronJob, run by the real CronJob and Job
controllers under the RBAC config/rbac ships, and status.lastBackup read back from what the backup pod left.

No kubelet runs here, so the test plays it for the Job's pod: it ends the pod's container with the
runtime's summary line as its termination message, which is what the kubelet copies from
/dev/termination-log. The schedule is every minute, so the CronJob controller itself creates each Job
(within about a minute); the operator's status refresh runs every 2 s, so the status follows quickly."""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from soma_operator.builders.labels import COMPONENT_LABEL, instance_labels
from support.control_plane import ApiError, ControlPlane, KubeApi, mark_pods_ready
from support.operator_cluster import MS_API, OperatorProcess, memory_system
from support.servers import wait_until

NAME = "kept"
# A bound on waiting, not a timing: the CronJob controller acts at the next minute boundary.
SETTLE_SECONDS = 180
SUMMARY = {
    "id": "20261127T030000Z",
    "time": "2026-11-27T03:00:00Z",
    "bytes": 7_340_032,
    "memories": 4321,
    "links": 87,
    "namespaces": 3,
    "result": "Succeeded",
}
T = TypeVar("T")
BACKUP_LABELS = {**instance_labels(NAME), COMPONENT_LABEL: "backup"}


def spec(suspend: bool) -> dict[str, Any]:
    backup = {
        "schedule": "* * * * *",
        "suspend": suspend,
        "retention": {"count": 3, "maxAgeDays": 10},
        "destination": {"volume": {"size": "1Gi"}},
    }
    return {"mode": "direct", "api": {"replicas": 1}, "backup": backup}


def wait_for(check: Callable[[], Any], what: str, operator: OperatorProcess) -> None:
    try:
        wait_until(lambda: bool(check()), timeout=SETTLE_SECONDS, what=what, interval=0.5)
    except TimeoutError as error:
        raise AssertionError(f"{error}\n--- operator log (tail) ---\n{operator.log()[-6000:]}") from None


def system(api: KubeApi, namespace: str) -> dict[str, Any]:
    live = api.get(MS_API, "MemorySystem", NAME, namespace)
    assert live is not None
    return live


def status(api: KubeApi, namespace: str) -> dict[str, Any]:
    found: dict[str, Any] = system(api, namespace).get("status") or {}
    return found


def backup_condition(api: KubeApi, namespace: str) -> dict[str, Any]:
    return next(
        (c for c in status(api, namespace).get("conditions", []) if c["type"] == "BackupSucceeded"), {}
    )


def new_job(api: KubeApi, namespace: str, known: set[str]) -> str | None:
    names = {job["metadata"]["name"] for job in api.list("batch/v1", "Job", namespace, BACKUP_LABELS)}
    fresh = sorted(names - known)
    return fresh[0] if fresh else None


def job_pod(api: KubeApi, namespace: str, job: str) -> dict[str, Any] | None:
    pods = api.list("v1", "Pod", namespace, {"batch.kubernetes.io/job-name": job})
    return pods[0] if pods else None


def end_pod(api: KubeApi, namespace: str, pod: dict[str, Any], exit_code: int, message: str) -> None:
    """Play the kubelet: the container ran and ended, leaving its termination message."""
    now = datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    [container] = pod["spec"]["containers"]
    terminated = {
        "exitCode": exit_code,
        "reason": "Completed" if exit_code == 0 else "Error",
        "message": message,
        "startedAt": now,
        "finishedAt": now,
    }
    api.merge_patch(
        "v1",
        "Pod",
        pod["metadata"]["name"],
        {
            "status": {
                "phase": "Succeeded" if exit_code == 0 else "Failed",
                "startTime": now,
                "containerStatuses": [
                    {
                        "name": container["name"],
                        "image": container["image"],
                        "imageID": "",
                        "ready": False,
                        "started": False,
                        "restartCount": 0,
                        "state": {"terminated": terminated},
                    }
                ],
            }
        },
        namespace=namespace,
        subresource="status",
    )


def job_finished(api: KubeApi, namespace: str, job: str, outcome: str) -> bool:
    live = api.get("batch/v1", "Job", job, namespace) or {}
    return any(
        c["type"] == outcome and c["status"] == "True"
        for c in (live.get("status") or {}).get("conditions", [])
    )


def wait_for_value(get: Callable[[], T | None], what: str, operator: OperatorProcess) -> T:
    found: list[T] = []

    def check() -> bool:
        value = get()
        if value is not None:
            found.append(value)
        return value is not None

    wait_for(check, what, operator)
    return found[-1]


def run_one_backup(
    api: KubeApi, namespace: str, operator: OperatorProcess, known: set[str], exit_code: int, message: str
) -> str:
    """Wait for the CronJob controller's next Job and its pod, and end the pod; the Job's name."""
    job = wait_for_value(
        lambda: new_job(api, namespace, known), "the CronJob controller to create a backup Job", operator
    )
    pod = wait_for_value(lambda: job_pod(api, namespace, job), f"the pod of Job {job}", operator)
    end_pod(api, namespace, pod, exit_code, message)
    outcome = "Complete" if exit_code == 0 else "Failed"
    wait_for(lambda: job_finished(api, namespace, job, outcome), f"Job {job} {outcome}", operator)
    known.add(job)
    return job


def events(api: KubeApi, namespace: str, uid: str) -> list[tuple[str, str]]:
    return [
        (e["reason"], e["message"])
        for e in api.list("v1", "Event", namespace)
        if e["involvedObject"]["uid"] == uid
    ]


@pytest.mark.parametrize("operator", [{"status_refresh_seconds": 2}], indirect=True)
def test_scheduled_backups_run_as_jobs_and_their_results_reach_the_status(
    control_plane: ControlPlane, namespace: str, operator: OperatorProcess
) -> None:
    if not control_plane.has_controller_manager:
        pytest.skip("no kube-controller-manager in the assets: no CronJob or Job controller runs")
    api = control_plane.api
    uid = api.apply(memory_system(NAME, namespace, spec(suspend=True)))["metadata"]["uid"]

    def ready() -> bool:
        mark_pods_ready(api, namespace, instance_labels(NAME))
        return status(api, namespace).get("phase") == "Ready"

    wait_for(ready, "the MemorySystem Ready", operator)
    cronjob = api.get("batch/v1", "CronJob", f"{NAME}-backup", namespace)
    assert cronjob is not None
    [owner] = cronjob["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("MemorySystem", NAME, uid)
    [container] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    assert container["command"] == [
        "soma", "backup", "--to", "/backups", "--keep", "3", "--max-age-days", "10",
        "--summary-file", "/dev/termination-log", "--quiet",
    ]  # fmt: skip
    claim = api.get("v1", "PersistentVolumeClaim", f"{NAME}-backup", namespace)
    assert claim is not None
    assert claim["spec"]["resources"]["requests"]["storage"] == "1Gi"
    assert new_job(api, namespace, set()) is None  # suspended: the controller created nothing

    # Unsuspended: the CronJob controller starts a Job at the next minute; its pod succeeds.
    api.apply(memory_system(NAME, namespace, spec(suspend=False)))
    known: set[str] = set()
    good_job = run_one_backup(api, namespace, operator, known, 0, json.dumps(SUMMARY))
    good = {
        "job": good_job,
        "result": "Succeeded",
        "time": "2026-11-27T03:00:00Z",
        "message": "backup 20261127T030000Z: 4321 memories, 7340032 bytes",
        "id": "20261127T030000Z",
        "bytes": 7_340_032,
        "memories": 4321,
    }
    wait_for(lambda: status(api, namespace).get("lastBackup") == good, "status.lastBackup", operator)
    assert status(api, namespace)["lastSuccessfulBackup"] == good
    condition = backup_condition(api, namespace)
    assert (condition["status"], condition["reason"]) == ("True", "BackupCompleted")
    assert condition["message"] == f"Job {good_job}: {good['message']}"
    wait_for(
        lambda: ("BackupCompleted", condition["message"]) in events(api, namespace, uid),
        "a BackupCompleted event",
        operator,
    )

    # The next one fails: reported as a failure, and the good backup stays in lastSuccessfulBackup.
    failure = json.dumps({"result": "Failed", "message": "no space left on the backup volume"})
    failed_job = run_one_backup(api, namespace, operator, known, 1, failure)
    wait_for(
        lambda: (status(api, namespace).get("lastBackup") or {}).get("job") == failed_job,
        "the failed backup in status.lastBackup",
        operator,
    )
    last = status(api, namespace)["lastBackup"]
    assert (last["result"], last["message"]) == ("Failed", "no space left on the backup volume")
    assert "bytes" not in last
    assert status(api, namespace)["lastSuccessfulBackup"] == good
    condition = backup_condition(api, namespace)
    assert (condition["status"], condition["reason"]) == ("False", "BackupFailed")
    assert condition["message"] == (
        f"Job {failed_job}: no space left on the backup volume; "
        "the last successful backup is from 2026-11-27T03:00:00Z"
    )
    assert status(api, namespace)["phase"] == "Ready"  # a failed backup does not make the system unready

    # No schedule any more: the CronJob goes, the claim with the backups stays.
    api.apply(memory_system(NAME, namespace, {"mode": "direct", "api": {"replicas": 1}}))
    wait_for(
        lambda: api.get("batch/v1", "CronJob", f"{NAME}-backup", namespace) is None,
        "the CronJob deleted",
        operator,
    )
    assert api.get("v1", "PersistentVolumeClaim", f"{NAME}-backup", namespace) is not None


VOLUME = {"volume": {"size": "1Gi"}}
S3 = {"s3": {"endpoint": "http://s3:9000", "bucket": "soma", "credentialsSecret": {"name": "s3"}}}


@pytest.mark.parametrize(
    ("backup", "message"),
    [
        ({"schedule": "0 3 * * *", "destination": {**VOLUME, **S3}}, "set exactly one of volume and s3"),
        ({"schedule": "0 3 * * *", "destination": {}}, "set exactly one of volume and s3"),
        (
            {"schedule": "0 3 * * *", "destination": {"volume": {"claimName": "old", "size": "1Gi"}}},
            "claimName names an existing claim: omit size and storageClassName",
        ),
        ({"schedule": "every night", "destination": VOLUME}, "spec.backup.schedule in body should match"),
    ],
)
def test_the_api_server_refuses_what_the_operator_would_refuse(
    control_plane: ControlPlane, namespace: str, backup: dict[str, Any], message: str
) -> None:
    with pytest.raises(ApiError) as refused:
        control_plane.api.apply(memory_system("refused", namespace, {"backup": backup}))
    assert refused.value.status == 422
    assert message in refused.value.message


def test_a_system_started_from_a_backup_is_ready_once_the_restore_job_completed(
    control_plane: ControlPlane, namespace: str, operator: OperatorProcess
) -> None:
    if not control_plane.has_controller_manager:
        pytest.skip("no kube-controller-manager in the assets: no Job controller runs")
    api = control_plane.api
    restore = {"source": {"volume": {"claimName": "old-backups"}}, "backup": "20261127T030000Z"}
    api.apply(
        memory_system("reborn", namespace, {"mode": "direct", "api": {"replicas": 1}, "restore": restore})
    )
    restore_labels = {**instance_labels("reborn"), COMPONENT_LABEL: "restore"}

    def restored_condition() -> dict[str, Any]:
        conditions = (
            (api.get(MS_API, "MemorySystem", "reborn", namespace) or {}).get("status", {}).get("conditions")
        )
        return next((c for c in conditions or [] if c["type"] == "Restored"), {})

    # The stores' pods are made ready, never the restore pod: the system waits for the restore.
    def restoring() -> bool:
        for component in ("postgres", "redis", "qdrant", "api"):
            mark_pods_ready(api, namespace, {**instance_labels("reborn"), COMPONENT_LABEL: component})
        return restored_condition().get("reason") == "Restoring" and bool(
            api.list("v1", "Pod", namespace, restore_labels)
        )

    wait_for(restoring, "the restore Job's pod, the stores being ready", operator)
    live = api.get(MS_API, "MemorySystem", "reborn", namespace) or {}
    assert live["status"]["phase"] == "Provisioning"
    job = api.get("batch/v1", "Job", "reborn-restore", namespace)
    assert job is not None
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["command"][:6] == [
        "soma",
        "restore",
        "--from",
        "/backups",
        "--backup",
        "20261127T030000Z",
    ]

    [pod] = api.list("v1", "Pod", namespace, restore_labels)
    end_pod(api, namespace, pod, 0, json.dumps({"id": "20261127T030000Z", "result": "Succeeded"}))
    wait_for(
        lambda: job_finished(api, namespace, "reborn-restore", "Complete"),
        "the restore Job Complete",
        operator,
    )
    wait_for(
        lambda: (
            (api.get(MS_API, "MemorySystem", "reborn", namespace) or {}).get("status", {}).get("phase")
            == "Ready"
        ),
        "the system Ready",
        operator,
    )
    assert restored_condition()["message"] == "Job reborn-restore restored backup 20261127T030000Z"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"size": "1Gi"}, "size may grow but not shrink: a persistent volume cannot be made smaller"),
        (
            {"size": "3Gi", "storageClassName": "fast"},
            "storageClassName is immutable: the claim keeps its class",
        ),
    ],
)
def test_the_backup_claim_may_grow_but_neither_shrink_nor_change_class(
    control_plane: ControlPlane, namespace: str, change: dict[str, str], message: str
) -> None:
    api = control_plane.api

    def with_volume(volume: dict[str, str]) -> dict[str, Any]:
        backup = {"schedule": "@daily", "destination": {"volume": volume}}
        return memory_system("growing", namespace, {"backup": backup})

    api.apply(with_volume({"size": "2Gi"}))
    api.apply(with_volume({"size": "3Gi"}))
    with pytest.raises(ApiError) as refused:
        api.apply(with_volume(change))
    assert refused.value.status == 422
    assert message in refused.value.message
