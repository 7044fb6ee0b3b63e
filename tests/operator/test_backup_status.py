"""The backup status, pure: Jobs and pods as the Job controller and the kubelet leave them, in; lastBackup,
lastSuccessfulBackup, the BackupSucceeded condition and whether the result is new, out."""

from __future__ import annotations

import json
from typing import Any

from soma_operator.backup_status import backup_report, parse_summary, restore_condition
from soma_operator.status import Condition, Reason

SUMMARY = {
    "id": "20261127T030000Z",
    "time": "2026-11-27T03:00:00Z",
    "bytes": 52_428_800,
    "memories": 120_000,
    "links": 3400,
    "namespaces": 2,
    "result": "Succeeded",
}


def job(name: str, outcome: str | None, at: str = "2026-11-27T03:01:00Z", **condition: str) -> dict[str, Any]:
    conditions = (
        [{"type": outcome, "status": "True", "lastTransitionTime": at, **condition}] if outcome else []
    )
    return {"metadata": {"name": name}, "status": {"conditions": conditions}}


def pod(job_name: str, message: str | None, reason: str = "Completed", exit_code: int = 0) -> dict[str, Any]:
    terminated: dict[str, Any] = {
        "exitCode": exit_code,
        "reason": reason,
        "finishedAt": "2026-11-27T03:01:00Z",
    }
    if message is not None:
        terminated["message"] = message
    return {
        "metadata": {"name": f"{job_name}-x", "ownerReferences": [{"kind": "Job", "name": job_name}]},
        "status": {"containerStatuses": [{"name": "backup", "state": {"terminated": terminated}}]},
    }


GOOD = job("m-backup-1", "Complete")
GOOD_POD = pod("m-backup-1", json.dumps(SUMMARY))
REPORTED_GOOD = {
    "job": "m-backup-1",
    "result": "Succeeded",
    "time": "2026-11-27T03:00:00Z",
    "message": "backup 20261127T030000Z: 120000 memories, 52428800 bytes",
    "id": "20261127T030000Z",
    "bytes": 52_428_800,
    "memories": 120_000,
}


def test_a_finished_backup_is_reported_with_its_summary() -> None:
    report = backup_report([GOOD], [GOOD_POD], {})
    assert report.fields == {"lastBackup": REPORTED_GOOD, "lastSuccessfulBackup": REPORTED_GOOD}
    assert report.condition == Condition(
        "BackupSucceeded",
        True,
        Reason.BACKUP_COMPLETED,
        "Job m-backup-1: backup 20261127T030000Z: 120000 memories, 52428800 bytes",
    )
    assert report.new_result is not None
    assert report.new_result.job == "m-backup-1"


def test_a_result_the_status_shows_already_is_not_new() -> None:
    report = backup_report([GOOD], [GOOD_POD], {"lastBackup": REPORTED_GOOD})
    assert report.new_result is None
    assert report.condition is not None


def test_running_jobs_and_no_jobs_keep_what_the_status_showed() -> None:
    old = {"lastBackup": REPORTED_GOOD, "lastSuccessfulBackup": REPORTED_GOOD}
    for jobs in ([], [job("m-backup-2", None)]):
        report = backup_report(jobs, [], old)
        assert report.fields == old
        assert report.condition is None
        assert report.new_result is None
    assert backup_report([], [], {}).fields == {}


def test_a_failure_is_reported_and_never_hides_the_last_good_backup() -> None:
    failed_summary = json.dumps({"result": "Failed", "message": "postgres: connection refused"})
    failed = job("m-backup-2", "Failed", at="2026-11-28T03:00:30Z", reason="BackoffLimitExceeded")
    report = backup_report(
        [failed], [pod("m-backup-2", failed_summary, "Error", 1)], {"lastSuccessfulBackup": REPORTED_GOOD}
    )
    assert report.fields == {
        "lastBackup": {
            "job": "m-backup-2",
            "result": "Failed",
            "time": "2026-11-28T03:00:30Z",
            "message": "postgres: connection refused",
            "id": None,
            "bytes": None,
            "memories": None,
        },
        "lastSuccessfulBackup": REPORTED_GOOD,
    }
    assert report.condition == Condition(
        "BackupSucceeded",
        False,
        Reason.BACKUP_FAILED,
        "Job m-backup-2: postgres: connection refused; "
        "the last successful backup is from 2026-11-27T03:00:00Z",
    )


def test_the_newest_finished_job_decides_and_the_newest_success_is_kept() -> None:
    older_failed = job("m-backup-0", "Failed", at="2026-11-26T03:00:30Z")
    newer_failed = job("m-backup-2", "Failed", at="2026-11-28T03:00:30Z")
    pods = [GOOD_POD, pod("m-backup-2", None, "OOMKilled", 137)]
    report = backup_report([newer_failed, GOOD, older_failed], pods, {})
    assert report.fields["lastBackup"]["job"] == "m-backup-2"
    assert (
        report.fields["lastBackup"]["message"] == "the backup container ended with OOMKilled (exit code 137)"
    )
    assert report.fields["lastSuccessfulBackup"] == REPORTED_GOOD
    assert report.condition is not None
    assert report.condition.ready is False


def test_an_older_success_in_the_history_does_not_replace_a_newer_one_the_status_kept() -> None:
    newer = {**REPORTED_GOOD, "job": "m-backup-9", "time": "2026-12-01T03:00:00Z"}
    report = backup_report([GOOD], [GOOD_POD], {"lastSuccessfulBackup": newer})
    assert report.fields["lastSuccessfulBackup"] == newer
    assert report.fields["lastBackup"] == REPORTED_GOOD


def test_a_job_that_failed_without_a_pod_says_what_the_job_controller_said() -> None:
    failed = job(
        "m-backup-3",
        "Failed",
        reason="DeadlineExceeded",
        message="Job was active longer than specified deadline",
    )
    report = backup_report([failed], [], {})
    assert (
        report.fields["lastBackup"]["message"]
        == "DeadlineExceeded: Job was active longer than specified deadline"
    )
    assert "lastSuccessfulBackup" not in report.fields
    assert report.condition is not None
    assert (
        report.condition.message
        == "Job m-backup-3: DeadlineExceeded: Job was active longer than specified deadline"
    )


def test_a_success_without_a_summary_is_reported_at_the_jobs_time() -> None:
    report = backup_report([GOOD], [pod("m-backup-1", "not json")], {})
    assert report.fields["lastBackup"] == {
        "job": "m-backup-1",
        "result": "Succeeded",
        "time": "2026-11-27T03:01:00Z",
        "message": "the Job completed but its pod left no summary in its termination message",
        "id": None,
        "bytes": None,
        "memories": None,
    }


def test_pods_of_other_jobs_are_not_read() -> None:
    report = backup_report([GOOD], [pod("m-backup-7", json.dumps({**SUMMARY, "memories": 1}))], {})
    assert report.fields["lastBackup"]["memories"] is None


def test_summaries_are_told_from_other_messages() -> None:
    assert parse_summary(json.dumps(SUMMARY)) == SUMMARY
    assert parse_summary('{"result": "Maybe"}') is None
    assert parse_summary("[1, 2]") is None
    assert parse_summary('{"id": "cut') is None
    assert parse_summary("") is None


RESTORE_JOB = {"metadata": {"name": "m-restore"}, "status": {}}


def test_the_restore_waits_for_the_data_stores_then_runs() -> None:
    assert restore_condition(None, [], False, None) == Condition(
        "Restored", False, Reason.WAITING_FOR_DATA_STORES, "the restore starts once the data stores are ready"
    )
    assert restore_condition(None, [], True, None) == Condition(
        "Restored", False, Reason.RESTORING, "the restore Job is not created yet"
    )
    assert restore_condition(RESTORE_JOB, [], True, None) == Condition(
        "Restored", False, Reason.RESTORING, "Job m-restore is restoring"
    )


def test_a_completed_restore_names_its_backup_and_stays_completed() -> None:
    done = job("m-restore", "Complete")
    summary = json.dumps({"id": "20261127T030000Z", "result": "Succeeded"})
    completed = restore_condition(done, [pod("m-restore", summary)], True, None)
    assert completed == Condition(
        "Restored", True, Reason.RESTORE_COMPLETED, "Job m-restore restored backup 20261127T030000Z"
    )
    assert restore_condition(done, [], True, None).message == "Job m-restore restored the backup"
    # Once completed, the condition stays, whatever happens to the Job later (it is never run again).
    previous = {"type": "Restored", "status": "True", "message": completed.message}
    assert restore_condition(None, [], False, previous) == completed


def test_a_failed_restore_says_why() -> None:
    failed = job(
        "m-restore",
        "Failed",
        reason="BackoffLimitExceeded",
        message="Job has reached the specified backoff limit",
    )
    summary = json.dumps(
        {"result": "Failed", "message": "backup 20261127T030000Z: checksum mismatch in memories"}
    )
    assert restore_condition(failed, [pod("m-restore", summary, "Error", 1)], True, None) == Condition(
        "Restored",
        False,
        Reason.RESTORE_FAILED,
        "Job m-restore: backup 20261127T030000Z: checksum mismatch in memories",
    )
    assert restore_condition(failed, [], True, {"type": "Restored", "status": "False"}).message == (
        "Job m-restore: BackoffLimitExceeded: Job has reached the specified backoff limit"
    )
