"""The CronJob of scheduled runtime work (backups, maintenance): one attempt a schedule, never two at once."""

from __future__ import annotations

from typing import Any

from soma_operator.builders.context import BuildContext
from soma_operator.builders.labels import labels, metadata

# Kept Jobs (and their pods, with what they reported) of each outcome.
JOBS_HISTORY = 3
# A schedule missed by more than this (controller down) is skipped rather than run late.
STARTING_DEADLINE_SECONDS = 300


def cronjob(
    ctx: BuildContext, component: str, schedule: str, suspend: bool, template: dict[str, Any]
) -> dict[str, Any]:
    """The CronJob NAME-COMPONENT running ``template`` (a pod template with restartPolicy Never)."""
    version = ctx.system.spec.version
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": metadata(ctx, ctx.child_name(component), component, version),
        "spec": {
            "schedule": schedule,
            "suspend": suspend,
            # A run still going when the next is due: the next one waits for the next schedule.
            "concurrencyPolicy": "Forbid",
            "startingDeadlineSeconds": STARTING_DEADLINE_SECONDS,
            "successfulJobsHistoryLimit": JOBS_HISTORY,
            "failedJobsHistoryLimit": JOBS_HISTORY,
            "jobTemplate": {
                "metadata": {"labels": labels(ctx, component, version)},
                # One attempt: a failure is reported as it is, and the next schedule tries again.
                "spec": {"backoffLimit": 0, "template": template},
            },
        },
    }
