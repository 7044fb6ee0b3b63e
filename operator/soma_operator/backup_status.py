"""Pure backup and restore status: the backup Jobs and their pods in, ``lastBackup``,
``lastSuccessfulBackup`` and the BackupSucceeded condition out; the restore Job in, Restored out.

Each backup pod ends with the runtime's one-line JSON summary as its termination message
(builders/backup.py). A Job that failed without one (killed, image not pulled) is reported with what the
pod or the Job says instead. A failed backup never hides the last good one: ``lastSuccessfulBackup`` keeps
the newest success, even after the Job history no longer holds it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from soma_operator.status import Condition, Reason

BACKUP_SUCCEEDED = "BackupSucceeded"
SUCCEEDED = "Succeeded"
FAILED = "Failed"


@dataclass(frozen=True)
class BackupResult:
    """One finished backup Job as the status reports it."""

    job: str
    succeeded: bool
    time: str
    message: str
    backup_id: str | None = None
    size_bytes: int | None = None
    memories: int | None = None

    def reported(self) -> dict[str, Any]:
        """Every field, unknown ones as None: the status is merge-patched, and None removes what an
        earlier result left (a failure has no size)."""
        return {
            "job": self.job,
            "result": SUCCEEDED if self.succeeded else FAILED,
            "time": self.time,
            "message": self.message,
            "id": self.backup_id,
            "bytes": self.size_bytes,
            "memories": self.memories,
        }


@dataclass(frozen=True)
class BackupReport:
    fields: dict[str, Any]  # lastBackup and lastSuccessfulBackup, as they go into the status
    condition: Condition | None  # None until a first backup finished
    new_result: BackupResult | None  # the newest result when the previous status did not show it yet


def finished(job: Mapping[str, Any]) -> tuple[bool, str] | None:
    """(succeeded, when) for a Job the Job controller marked Complete or Failed; None while it runs."""
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            return condition["type"] == "Complete", condition.get("lastTransitionTime", "")
    return None


def _owner_job(pod: Mapping[str, Any]) -> str | None:
    for owner in pod.get("metadata", {}).get("ownerReferences") or []:
        if owner.get("kind") == "Job":
            name: str = owner["name"]
            return name
    return None


def _terminated(pod: Mapping[str, Any]) -> Mapping[str, Any] | None:
    for container in (pod.get("status") or {}).get("containerStatuses") or []:
        state = (container.get("state") or {}).get("terminated")
        if state is not None:
            found: Mapping[str, Any] = state
            return found
    return None


def termination(job: str, pods: Sequence[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The terminated state of the Job's last pod to finish; empty when none finished."""
    states = [state for pod in pods if _owner_job(pod) == job and (state := _terminated(pod)) is not None]
    return max(states, key=lambda state: state.get("finishedAt") or "", default={})


def parse_summary(message: str) -> dict[str, Any] | None:
    """The runtime's summary line, or None when the message is not one (empty, cut, or something else)."""
    try:
        summary = json.loads(message)
    except ValueError:
        return None
    return summary if isinstance(summary, dict) and summary.get("result") in (SUCCEEDED, FAILED) else None


def _integer(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def job_result(job: Mapping[str, Any], pods: Sequence[Mapping[str, Any]]) -> BackupResult | None:
    """The result of a finished Job; the Job's verdict decides, the summary adds the figures."""
    outcome = finished(job)
    if outcome is None:
        return None
    succeeded, finished_at = outcome
    name: str = job["metadata"]["name"]
    state = termination(name, pods)
    summary = parse_summary(state.get("message") or "") or {}
    if succeeded:
        memories = _integer(summary.get("memories"))
        size = _integer(summary.get("bytes"))
        message = (
            f"backup {summary.get('id')}: {memories} memories, {size} bytes"
            if summary
            else "the Job completed but its pod left no summary in its termination message"
        )
        return BackupResult(
            job=name,
            succeeded=True,
            time=_time_or(summary.get("time"), finished_at),
            message=message,
            backup_id=summary.get("id"),
            size_bytes=size,
            memories=memories,
        )
    return BackupResult(job=name, succeeded=False, time=finished_at, message=job_failure(job, state, summary))


def job_failure(
    job: Mapping[str, Any], state: Mapping[str, Any], summary: Mapping[str, Any], container: str = "backup"
) -> str:
    """Why a Job failed: the runtime's summary, else how its ``container`` ended, else the Job's verdict."""
    if summary.get("message"):
        return str(summary["message"])
    if state:
        reason, code = state.get("reason", "an error"), state.get("exitCode")
        return f"the {container} container ended with {reason} (exit code {code})"
    for condition in (job.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Failed" and condition.get("status") == "True":
            return f"{condition.get('reason', 'Failed')}: {condition.get('message', '')}".rstrip(": ")
    return "the Job failed"


def _time_or(value: object, fallback: str) -> str:
    """The summary's time when it is one, else the Job's."""
    if isinstance(value, str):
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return fallback
        return value
    return fallback


def _moment(value: str) -> datetime:
    """An RFC 3339 time; one that is not sorts before every other (it never hides a real one)."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def newest(results: Sequence[BackupResult]) -> BackupResult | None:
    return max(results, key=lambda result: (_moment(result.time), result.job), default=None)


def backup_report(
    jobs: Sequence[Mapping[str, Any]], pods: Sequence[Mapping[str, Any]], old_status: Mapping[str, Any]
) -> BackupReport:
    results = [result for job in jobs if (result := job_result(job, pods)) is not None]
    latest = newest(results)
    previous_last = old_status.get("lastBackup")
    previous_good = old_status.get("lastSuccessfulBackup")
    fields: dict[str, Any] = {}
    if latest is None:
        # Nothing finished in the Job history: what the status showed stays.
        for key, value in (("lastBackup", previous_last), ("lastSuccessfulBackup", previous_good)):
            if value:
                fields[key] = value
        return BackupReport(fields, None, None)
    fields["lastBackup"] = latest.reported()
    good = newest([result for result in results if result.succeeded])
    if good is not None and (not previous_good or _moment(good.time) >= _moment(previous_good["time"])):
        fields["lastSuccessfulBackup"] = good.reported()
    elif previous_good:
        fields["lastSuccessfulBackup"] = previous_good
    reason = Reason.BACKUP_COMPLETED if latest.succeeded else Reason.BACKUP_FAILED
    message = f"Job {latest.job}: {latest.message}"
    if not latest.succeeded and "lastSuccessfulBackup" in fields:
        message += f"; the last successful backup is from {fields['lastSuccessfulBackup']['time']}"
    condition = Condition(BACKUP_SUCCEEDED, latest.succeeded, reason, message)
    seen = (previous_last or {}).get("job") == latest.job and (previous_last or {}).get("result") == (
        SUCCEEDED if latest.succeeded else FAILED
    )
    return BackupReport(fields, condition, None if seen else latest)


RESTORED = "Restored"


def restore_condition(
    job: Mapping[str, Any] | None,
    pods: Sequence[Mapping[str, Any]],
    stores_ready: bool,
    previous: Mapping[str, Any] | None,
) -> Condition:
    """Whether the restore a new system starts from has completed; the system is Ready only then.

    ``previous`` is the Restored condition of the last status: once True it stays True, and no restore runs
    again (a restore replaces the data, and the system has taken writes since)."""
    if previous is not None and previous.get("status") == "True":
        return Condition(RESTORED, True, Reason.RESTORE_COMPLETED, str(previous.get("message", "")))
    if job is None:
        if not stores_ready:
            message = "the restore starts once the data stores are ready"
            return Condition(RESTORED, False, Reason.WAITING_FOR_DATA_STORES, message)
        return Condition(RESTORED, False, Reason.RESTORING, "the restore Job is not created yet")
    name: str = job["metadata"]["name"]
    outcome = finished(job)
    if outcome is None:
        return Condition(RESTORED, False, Reason.RESTORING, f"Job {name} is restoring")
    state = termination(name, pods)
    summary = parse_summary(state.get("message") or "") or {}
    if outcome[0]:
        restored = f"backup {summary['id']}" if summary.get("id") else "the backup"
        return Condition(RESTORED, True, Reason.RESTORE_COMPLETED, f"Job {name} restored {restored}")
    return Condition(
        RESTORED, False, Reason.RESTORE_FAILED, f"Job {name}: {job_failure(job, state, summary)}"
    )
