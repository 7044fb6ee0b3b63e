"""status.lastMaintenance and MaintenanceSucceeded from the CronJob, its Jobs and their pods."""

from __future__ import annotations

from typing import Any

from soma_operator.maintenance_status import maintenance_report
from soma_operator.status import Reason

CRONJOB = {
    "status": {"lastScheduleTime": "2026-11-27T04:30:00Z", "lastSuccessfulTime": "2026-11-27T04:31:10Z"}
}


def job(name: str, outcome: str | None, at: str, **extra: str) -> dict[str, Any]:
    conditions = [{"type": outcome, "status": "True", "lastTransitionTime": at, **extra}] if outcome else []
    return {"metadata": {"name": name}, "status": {"conditions": conditions}}


def pod(job_name: str, reason: str, exit_code: int) -> dict[str, Any]:
    terminated = {"reason": reason, "exitCode": exit_code, "finishedAt": "2026-11-28T04:30:20Z"}
    return {
        "metadata": {"ownerReferences": [{"kind": "Job", "name": job_name}]},
        "status": {"containerStatuses": [{"state": {"terminated": terminated}}]},
    }


def test_nothing_finished_reports_only_the_cronjob_times() -> None:
    report = maintenance_report(CRONJOB, [job("m-maintenance-1", None, "")], [], {})
    assert report.fields == {
        "lastMaintenance": {
            "lastScheduleTime": "2026-11-27T04:30:00Z",
            "lastSuccessfulTime": "2026-11-27T04:31:10Z",
        }
    }
    assert report.condition is None
    assert report.new_result is None


def test_nothing_at_all_reports_nothing() -> None:
    report = maintenance_report(None, [], [], {})
    assert (report.fields, report.condition, report.new_result) == ({}, None, None)


def test_the_newest_finished_job_is_reported_and_announced_once() -> None:
    jobs = [
        job("m-maintenance-1", "Complete", "2026-11-27T04:31:10Z"),
        job("m-maintenance-2", "Complete", "2026-11-28T04:31:00Z"),
    ]
    report = maintenance_report(CRONJOB, jobs, [], {})
    assert report.fields == {
        "lastMaintenance": {
            "lastScheduleTime": "2026-11-27T04:30:00Z",
            "lastSuccessfulTime": "2026-11-27T04:31:10Z",
            "job": "m-maintenance-2",
            "result": "Succeeded",
            "time": "2026-11-28T04:31:00Z",
            "message": "soma maintain completed",
        }
    }
    assert report.condition is not None
    assert (report.condition.type, report.condition.ready) == ("MaintenanceSucceeded", True)
    assert report.condition.reason is Reason.MAINTENANCE_COMPLETED
    assert report.condition.message == "Job m-maintenance-2: soma maintain completed"
    assert report.new_result is not None and report.new_result.job == "m-maintenance-2"
    again = maintenance_report(CRONJOB, jobs, [], {"lastMaintenance": report.fields["lastMaintenance"]})
    assert again.new_result is None
    assert again.condition == report.condition


def test_a_failure_says_how_the_container_ended() -> None:
    jobs = [
        job("m-maintenance-1", "Complete", "2026-11-27T04:31:10Z"),
        job("m-maintenance-2", "Failed", "2026-11-28T04:30:30Z", reason="BackoffLimitExceeded"),
    ]
    report = maintenance_report(CRONJOB, jobs, [pod("m-maintenance-2", "Error", 3)], {})
    last = report.fields["lastMaintenance"]
    assert (last["job"], last["result"], last["time"]) == (
        "m-maintenance-2",
        "Failed",
        "2026-11-28T04:30:30Z",
    )
    assert last["message"] == "the maintenance container ended with Error (exit code 3)"
    assert last["lastSuccessfulTime"] == "2026-11-27T04:31:10Z"
    assert report.condition is not None
    assert (report.condition.ready, report.condition.reason) == (False, Reason.MAINTENANCE_FAILED)
    assert (
        report.condition.message
        == "Job m-maintenance-2: the maintenance container ended with Error (exit code 3)"
    )
    without_pod = maintenance_report(CRONJOB, jobs, [], {})
    assert without_pod.fields["lastMaintenance"]["message"] == "BackoffLimitExceeded"


def test_what_the_history_no_longer_holds_stays_as_the_status_showed_it() -> None:
    shown = {
        "lastScheduleTime": "2026-11-20T04:30:00Z",
        "job": "m-maintenance-0",
        "result": "Succeeded",
        "time": "2026-11-20T04:31:00Z",
        "message": "soma maintain completed",
    }
    report = maintenance_report({"status": {}}, [], [], {"lastMaintenance": shown})
    assert report.fields == {"lastMaintenance": shown}
    newer = maintenance_report(CRONJOB, [], [], {"lastMaintenance": shown})
    assert newer.fields["lastMaintenance"] == {**shown, **CRONJOB["status"]}
