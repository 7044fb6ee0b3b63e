"""Pure maintenance status: the maintenance CronJob, its Jobs and their pods in, ``lastMaintenance`` and
the MaintenanceSucceeded condition out.

``lastMaintenance`` carries the CronJob controller's own record (``lastScheduleTime``,
``lastSuccessfulTime``) and the newest finished Job (``job``, ``result``, ``time``, ``message``). Like the
backups' status, what the history no longer holds stays as the status last showed it, and the condition
never holds Ready: a failed maintenance leaves the memories as they were.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from soma_operator.backup_status import (
    FAILED,
    SUCCEEDED,
    BackupReport,
    BackupResult,
    finished,
    job_failure,
    newest,
    termination,
)
from soma_operator.status import Condition, Reason

MAINTENANCE_SUCCEEDED = "MaintenanceSucceeded"
LAST_MAINTENANCE = "lastMaintenance"
COMPLETED_MESSAGE = "soma maintain completed"
# The CronJob status fields reported as they are (batch/v1 CronJobStatus).
CRONJOB_TIMES = ("lastScheduleTime", "lastSuccessfulTime")


def run_result(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> BackupResult | None:
    """The result of a finished maintenance Job; None while it runs."""
    outcome = finished(job)
    if outcome is None:
        return None
    succeeded, finished_at = outcome
    name: str = job["metadata"]["name"]
    if succeeded:
        return BackupResult(job=name, succeeded=True, time=finished_at, message=COMPLETED_MESSAGE)
    message = job_failure(job, termination(name, pods), {}, container="maintenance")
    return BackupResult(job=name, succeeded=False, time=finished_at, message=message)


def maintenance_report(
    cronjob: Mapping[str, Any] | None,
    jobs: Sequence[Mapping[str, Any]],
    pods: Sequence[Mapping[str, Any]],
    old_status: Mapping[str, Any],
) -> BackupReport:
    previous: Mapping[str, Any] = old_status.get(LAST_MAINTENANCE) or {}
    reported = dict(previous)
    schedule_status = (cronjob or {}).get("status") or {}
    reported.update({key: schedule_status[key] for key in CRONJOB_TIMES if schedule_status.get(key)})
    latest = newest([result for job in jobs if (result := run_result(job, pods)) is not None])
    if latest is None:
        return BackupReport({LAST_MAINTENANCE: reported} if reported else {}, None, None)
    outcome = SUCCEEDED if latest.succeeded else FAILED
    reported.update(job=latest.job, result=outcome, time=latest.time, message=latest.message)
    reason = Reason.MAINTENANCE_COMPLETED if latest.succeeded else Reason.MAINTENANCE_FAILED
    condition = Condition(
        MAINTENANCE_SUCCEEDED, latest.succeeded, reason, f"Job {latest.job}: {latest.message}"
    )
    seen = previous.get("job") == latest.job and previous.get("result") == outcome
    return BackupReport({LAST_MAINTENANCE: reported}, condition, None if seen else latest)
