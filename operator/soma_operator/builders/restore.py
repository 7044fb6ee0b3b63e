"""A new system from a backup: the Job ``NAME-restore`` runs ``soma restore --mode replace`` once.

Unlike every other child it is not rendered by ``render``: the reconcile applies it only once the data
stores are ready and the restore has not completed before (reconcile.ensure_restore), and a Job's pod
template is immutable, so it is never re-applied.
"""

from __future__ import annotations

from typing import Any

from soma_operator.builders.backup import MOUNT_PATH, TERMINATION_LOG, job_pod, s3_url
from soma_operator.builders.context import BuildContext
from soma_operator.builders.labels import metadata
from soma_operator.spec import RestoreSpec

COMPONENT = "restore"
# --mode replace makes a retry safe: a second attempt replaces what a failed first one wrote.
BACKOFF_LIMIT = 2


def job_name(ctx: BuildContext) -> str:
    return ctx.child_name(COMPONENT)


def command(restore: RestoreSpec) -> list[str]:
    source = restore.source
    origin = s3_url(source.s3) if source.s3 is not None else MOUNT_PATH
    args = ["soma", "restore", "--from", origin, "--backup", restore.backup]
    for namespace in restore.namespaces:
        args += ["--namespace", namespace]
    return [*args, "--mode", "replace", "--summary-file", TERMINATION_LOG, "--quiet"]


def job(ctx: BuildContext, restore: RestoreSpec) -> dict[str, Any]:
    version = ctx.system.spec.version
    claim = restore.source.volume.claim_name if restore.source.volume is not None else None
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata(ctx, job_name(ctx), COMPONENT, version),
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "template": job_pod(ctx, COMPONENT, command(restore), claim, restore.source.s3),
        },
    }
