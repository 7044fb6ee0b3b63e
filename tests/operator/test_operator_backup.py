"""Scheduled backups through the real operator (its kopf handlers) against the emulated API server.

The emulator runs no CronJob or Job controller and no kubelet: the test writes the finished Job and its
pod as they would (the pod's termination message is the runtime's summary line). The operator reads them
on its next reconcile; a spec change triggers one here (in a cluster the status refresh timer does)."""

from __future__ import annotations

import json
from typing import Any

from kube_emulator import CLAIMS, CRONJOBS, EVENTS, JOBS, PODS, ApiServerEmulator
from operator_harness import (
    act_as_claim_controller,
    act_as_workload_controllers,
    condition,
    create_system,
    eventually,
    patch_spec,
    running_operator,
    system_status,
)

from soma_operator.builders.labels import COMPONENT_LABEL, INSTANCE_LABEL, MANAGED_BY_LABEL

NAME = "nightly"
BACKUP = {"schedule": "0 3 * * *", "retention": {"count": 5}, "destination": {"volume": {"size": "5Gi"}}}
SUMMARY = {
    "id": "20261127T030000Z",
    "time": "2026-11-27T03:00:00Z",
    "bytes": 1_048_576,
    "memories": 2500,
    "links": 40,
    "namespaces": 1,
    "result": "Succeeded",
}


async def ready_system_with_backups(emulator: ApiServerEmulator) -> None:
    body = {"apiVersion": "memory.soma.dev/v1alpha1", "kind": "MemorySystem", "metadata": {"name": NAME}}
    await create_system(emulator, {**body, "spec": {"mode": "direct", "backup": BACKUP}})
    await eventually(lambda: system_status(emulator, NAME).get("phase") == "Provisioning", "children applied")
    act_as_claim_controller(emulator, NAME)
    act_as_workload_controllers(emulator, NAME)
    await eventually(lambda: system_status(emulator, NAME).get("phase") == "Ready", "phase Ready")


def finish_backup_job(emulator: ApiServerEmulator, job: str, outcome: str, message: str, at: str) -> None:
    """What the Job controller and the kubelet leave behind once a backup Job's only pod ended."""
    cronjob = emulator.live(CRONJOBS, "default", f"{NAME}-backup") or {}
    template = cronjob["spec"]["jobTemplate"]
    labels = template["metadata"]["labels"]
    emulator.objects[JOBS, "default", job] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": job, "namespace": "default", "labels": labels, "resourceVersion": "1"},
        "spec": template["spec"],
        "status": {"conditions": [{"type": outcome, "status": "True", "lastTransitionTime": at}]},
    }
    exit_code = 0 if outcome == "Complete" else 1
    emulator.objects[PODS, "default", f"{job}-abcde"] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{job}-abcde",
            "namespace": "default",
            "labels": template["spec"]["template"]["metadata"]["labels"],
            "ownerReferences": [
                {"apiVersion": "batch/v1", "kind": "Job", "name": job, "uid": "j", "controller": True}
            ],
            "resourceVersion": "1",
        },
        "spec": template["spec"]["template"]["spec"],
        "status": {
            "phase": "Succeeded" if exit_code == 0 else "Failed",
            "containerStatuses": [
                {
                    "name": "backup",
                    "state": {"terminated": {"exitCode": exit_code, "message": message, "finishedAt": at}},
                }
            ],
        },
    }


def events(emulator: ApiServerEmulator, name: str = NAME) -> list[tuple[str, str]]:
    return [
        (e["reason"], e["message"]) for e in emulator.all_live(EVENTS) if e["involvedObject"]["name"] == name
    ]


async def test_a_backup_schedule_gets_its_cronjob_and_claim(emulator: ApiServerEmulator) -> None:
    async with running_operator(emulator):
        await ready_system_with_backups(emulator)
        cronjob = emulator.live(CRONJOBS, "default", f"{NAME}-backup") or {}
        assert cronjob["spec"]["schedule"] == "0 3 * * *"
        assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
        [owner] = cronjob["metadata"]["ownerReferences"]
        assert owner["name"] == NAME
        [container] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        assert container["command"][:6] == ["soma", "backup", "--to", "/backups", "--keep", "5"]
        claim = emulator.live(CLAIMS, "default", f"{NAME}-backup") or {}
        assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
        assert "ownerReferences" not in claim["metadata"]
        # kopf posts events in the background: they may follow the objects they report.
        await eventually(lambda: ("Created", f"CronJob {NAME}-backup") in events(emulator), "the event")
        assert condition(emulator, NAME, "BackupSucceeded") == {}
        assert "lastBackup" not in system_status(emulator, NAME)


async def test_backup_results_reach_the_status_conditions_and_events(emulator: ApiServerEmulator) -> None:
    async with running_operator(emulator):
        await ready_system_with_backups(emulator)
        finish_backup_job(
            emulator, f"{NAME}-backup-1", "Complete", json.dumps(SUMMARY), "2026-11-27T03:01:00Z"
        )
        await patch_spec(emulator, NAME, {"backup": {"retention": {"count": 6}}})
        await eventually(lambda: "lastBackup" in system_status(emulator, NAME), "lastBackup reported")

        good = {
            "job": f"{NAME}-backup-1",
            "result": "Succeeded",
            "time": "2026-11-27T03:00:00Z",
            "message": "backup 20261127T030000Z: 2500 memories, 1048576 bytes",
            "id": "20261127T030000Z",
            "bytes": 1_048_576,
            "memories": 2500,
        }
        status = system_status(emulator, NAME)
        assert status["lastBackup"] == good
        assert status["lastSuccessfulBackup"] == good
        backup_condition = condition(emulator, NAME, "BackupSucceeded")
        assert (backup_condition["status"], backup_condition["reason"]) == ("True", "BackupCompleted")
        assert backup_condition["message"] == f"Job {NAME}-backup-1: {good['message']}"
        message = f"Job {NAME}-backup-1: {good['message']}"
        await eventually(lambda: ("BackupCompleted", message) in events(emulator), "a BackupCompleted event")

        failure = json.dumps({"result": "Failed", "message": "destination is full"})
        finish_backup_job(emulator, f"{NAME}-backup-2", "Failed", failure, "2026-11-28T03:00:10Z")
        await patch_spec(emulator, NAME, {"backup": {"retention": {"count": 7}}})
        await eventually(
            lambda: condition(emulator, NAME, "BackupSucceeded").get("status") == "False",
            "the failure reported",
        )
        status = system_status(emulator, NAME)
        assert status["lastBackup"] == {
            "job": f"{NAME}-backup-2",
            "result": "Failed",
            "time": "2026-11-28T03:00:10Z",
            "message": "destination is full",
        }
        assert status["lastSuccessfulBackup"] == good
        failed_message = (
            f"Job {NAME}-backup-2: destination is full; "
            "the last successful backup is from 2026-11-27T03:00:00Z"
        )
        assert condition(emulator, NAME, "BackupSucceeded")["reason"] == "BackupFailed"
        await eventually(lambda: ("BackupFailed", failed_message) in events(emulator), "a BackupFailed event")
        # A backup result is announced once, not at every reconcile that sees it again.
        await patch_spec(emulator, NAME, {"backup": {"retention": {"count": 8}}})
        await eventually(
            lambda: (
                (emulator.live(CRONJOBS, "default", f"{NAME}-backup") or {})["spec"]["jobTemplate"]["spec"][
                    "template"
                ]["spec"]["containers"][0]["command"][5]
                == "8"
            ),
            "the new retention applied",
        )
        assert [e for e in events(emulator) if e[0].startswith("Backup")] == [
            ("BackupCompleted", message),
            ("BackupFailed", failed_message),
        ]


async def test_dropping_the_schedule_deletes_the_cronjob_and_keeps_the_backups(
    emulator: ApiServerEmulator,
) -> None:
    async with running_operator(emulator):
        await ready_system_with_backups(emulator)
        await patch_spec(emulator, NAME, {"backup": None})
        await eventually(
            lambda: emulator.live(CRONJOBS, "default", f"{NAME}-backup") is None, "CronJob deleted"
        )
        deleted = ("Deleted", f"CronJob {NAME}-backup")
        await eventually(lambda: deleted in events(emulator), "an event for the deletion")
        claim = emulator.live(CLAIMS, "default", f"{NAME}-backup") or {}
        assert claim["metadata"]["labels"][INSTANCE_LABEL] == NAME
        assert claim["metadata"]["labels"][MANAGED_BY_LABEL] == "soma-operator"
        assert claim["metadata"]["labels"][COMPONENT_LABEL] == "backup"


async def test_a_bad_schedule_fails_the_spec_with_its_reason(emulator: ApiServerEmulator) -> None:
    async with running_operator(emulator):
        await ready_system_with_backups(emulator)
        await patch_spec(emulator, NAME, {"backup": {"schedule": "0 3 * * 8"}})
        await eventually(lambda: system_status(emulator, NAME).get("phase") == "Failed", "phase Failed")
        ready = condition(emulator, NAME, "Ready")
        assert ready["reason"] == "InvalidSpec"
        assert ready["message"] == (
            "spec.backup.schedule: '0 3 * * 8' is not a cron schedule: day of week: 8 is outside 0-6"
        )
        cronjob = emulator.live(CRONJOBS, "default", f"{NAME}-backup") or {}
        assert cronjob["spec"]["schedule"] == "0 3 * * *"


RESTORING = "fresh"


def restore_job(emulator: ApiServerEmulator) -> dict[str, Any] | None:
    return emulator.live(JOBS, "default", f"{RESTORING}-restore")


def end_restore_job(emulator: ApiServerEmulator, outcome: str, **why: str) -> None:
    """What the Job controller writes once the restore pod ended."""
    condition = {"type": outcome, "status": "True", "lastTransitionTime": "2026-11-27T04:00:00Z", **why}
    emulator.objects[JOBS, "default", f"{RESTORING}-restore"].patch({"status": {"conditions": [condition]}})


async def system_from_a_backup(emulator: ApiServerEmulator) -> None:
    """A new system restoring the backups of another: its stores made ready, then its restore Job appears."""
    restore = {"source": {"volume": {"claimName": f"{NAME}-backup"}}, "backup": "20261127T030000Z"}
    body = {"apiVersion": "memory.soma.dev/v1alpha1", "kind": "MemorySystem", "metadata": {"name": RESTORING}}
    await create_system(emulator, {**body, "spec": {"mode": "direct", "restore": restore}})
    await eventually(
        lambda: condition(emulator, RESTORING, "Restored").get("reason") == "WaitingForDataStores",
        "the restore waiting for the stores",
    )
    assert restore_job(emulator) is None
    act_as_claim_controller(emulator, RESTORING)
    act_as_workload_controllers(emulator, RESTORING)
    await eventually(lambda: restore_job(emulator) is not None, "the restore Job created")


async def test_a_system_from_a_backup_is_ready_only_once_the_restore_completed(
    emulator: ApiServerEmulator,
) -> None:
    async with running_operator(emulator):
        await system_from_a_backup(emulator)
        job = restore_job(emulator) or {}
        [container] = job["spec"]["template"]["spec"]["containers"]
        assert container["command"] == [
            "soma", "restore", "--from", "/backups", "--backup", "20261127T030000Z", "--mode", "replace",
            "--summary-file", "/dev/termination-log", "--quiet",
        ]  # fmt: skip
        assert job["metadata"]["ownerReferences"][0]["name"] == RESTORING
        await eventually(
            lambda: condition(emulator, RESTORING, "Restored").get("reason") == "Restoring", "restoring"
        )
        status = system_status(emulator, RESTORING)
        assert status["phase"] == "Provisioning"
        ready = condition(emulator, RESTORING, "Ready")
        assert (ready["status"], ready["message"]) == ("False", f"Job {RESTORING}-restore is restoring")

        end_restore_job(emulator, "Complete")
        await eventually(lambda: system_status(emulator, RESTORING).get("phase") == "Ready", "phase Ready")
        restored = condition(emulator, RESTORING, "Restored")
        assert (restored["status"], restored["reason"]) == ("True", "RestoreCompleted")
        assert restored["message"] == f"Job {RESTORING}-restore restored the backup"
        announced = ("RestoreCompleted", f"Job {RESTORING}-restore restored the backup")
        await eventually(lambda: announced in events(emulator, RESTORING), "a RestoreCompleted event")

        # Never again: the Job gone (a TTL, a person), a reconcile does not restore over newer writes.
        del emulator.objects[JOBS, "default", f"{RESTORING}-restore"]
        await patch_spec(emulator, RESTORING, {"api": {"replicas": 3}}, "default")
        await eventually(
            lambda: system_status(emulator, RESTORING).get("observedGeneration") == 2, "the change reconciled"
        )
        assert restore_job(emulator) is None
        assert condition(emulator, RESTORING, "Restored")["status"] == "True"


async def test_a_failed_restore_stops_progress_with_its_reason(emulator: ApiServerEmulator) -> None:
    async with running_operator(emulator):
        await system_from_a_backup(emulator)
        end_restore_job(
            emulator,
            "Failed",
            reason="BackoffLimitExceeded",
            message="Job has reached the specified backoff limit",
        )
        await eventually(
            lambda: condition(emulator, RESTORING, "Restored").get("reason") == "RestoreFailed", "the failure"
        )
        progressing = condition(emulator, RESTORING, "Progressing")
        assert (progressing["status"], progressing["reason"]) == ("False", "RestoreFailed")
        assert progressing["message"] == (
            f"Job {RESTORING}-restore: BackoffLimitExceeded: Job has reached the specified backoff limit"
        )
        assert system_status(emulator, RESTORING)["phase"] == "Provisioning"
        announced = ("RestoreFailed", progressing["message"])
        await eventually(lambda: announced in events(emulator, RESTORING), "a RestoreFailed event")
