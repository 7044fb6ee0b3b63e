"""Scheduled backups: a CronJob whose Jobs run ``soma backup``, and the claim they write to; the pod of
every Job that reads or writes backups (the restore Job's too).

The contract with the runtime: ``soma backup --to DEST --keep N [--max-age-days D] --summary-file PATH``
reads the data stores from the same settings as the API and writes a one-line JSON summary to PATH. PATH
is the container's termination message file, so the summary comes back in the pod's status, where the
operator reads it (backup_status.py) without any access to the backups themselves.

The claim the operator creates carries the instance labels but no owner: backups outlive the
MemorySystem (a new one can restore from them), and storagePolicy Delete removes it with the data claims.
"""

from __future__ import annotations

from typing import Any

from soma_operator.builders import cronjobs, runtime, secret_digests
from soma_operator.builders.context import BuildContext
from soma_operator.builders.labels import labels
from soma_operator.builders.pods import mount, secret_env, value_env
from soma_operator.builders.workloads import pod_template
from soma_operator.spec import BackupS3, BackupSpec

COMPONENT = "backup"
MOUNT_PATH = "/backups"
VOLUME = "backups"
# Where the kubelet reads the termination message from (the Kubernetes default path).
TERMINATION_LOG = "/dev/termination-log"
S3_ENDPOINT_ENV = "SOMA_BACKUP_S3_ENDPOINT"
ACCESS_KEY_ENV = "AWS_ACCESS_KEY_ID"
SECRET_KEY_ENV = "AWS_SECRET_ACCESS_KEY"  # noqa: S105
REGION_ENV = "AWS_REGION"
RESOURCES = {"requests": {"cpu": "100m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}}


def cronjob_name(ctx: BuildContext) -> str:
    return ctx.child_name(COMPONENT)


def claim_name(ctx: BuildContext, backup: BackupSpec) -> str | None:
    """The backup claim the pods mount; None for an S3 destination."""
    volume = backup.destination.volume
    if volume is None:
        return None
    return volume.claim_name or ctx.child_name(COMPONENT)


def s3_url(s3: BackupS3) -> str:
    prefix = s3.prefix.strip("/")
    return f"s3://{s3.bucket}/{prefix}" if prefix else f"s3://{s3.bucket}"


def command(backup: BackupSpec) -> list[str]:
    s3 = backup.destination.s3
    destination = s3_url(s3) if s3 is not None else MOUNT_PATH
    args = ["soma", "backup", "--to", destination, "--keep", str(backup.retention.count)]
    if backup.retention.max_age_days is not None:
        args += ["--max-age-days", str(backup.retention.max_age_days)]
    return [*args, "--summary-file", TERMINATION_LOG, "--quiet"]


def s3_env(s3: BackupS3) -> list[dict[str, Any]]:
    secret = s3.credentials_secret.name
    env = [
        value_env(S3_ENDPOINT_ENV, s3.endpoint),
        secret_env(ACCESS_KEY_ENV, secret, ACCESS_KEY_ENV),
        secret_env(SECRET_KEY_ENV, secret, SECRET_KEY_ENV),
    ]
    if s3.region is not None:
        env.append(value_env(REGION_ENV, s3.region))
    return env


def job_pod(
    ctx: BuildContext, component: str, command: list[str], claim: str | None, s3: BackupS3 | None
) -> dict[str, Any]:
    """The pod of a backup or restore Job: the API's container settings and security, run once, with the
    backups' claim mounted at MOUNT_PATH or the S3 settings in its env."""
    base = runtime.container(ctx, component, command)
    volumes = runtime.volumes(ctx)
    mounts = list(base["volumeMounts"])
    if claim is not None:
        volumes.append({"name": VOLUME, "persistentVolumeClaim": {"claimName": claim}})
        mounts.append(mount(VOLUME, MOUNT_PATH))
    container = {
        **base,
        "env": [*base["env"], *(s3_env(s3) if s3 is not None else [])],
        "volumeMounts": mounts,
        "resources": RESOURCES,
        "terminationMessagePath": TERMINATION_LOG,
        "terminationMessagePolicy": "File",
    }
    template = pod_template(
        ctx,
        component,
        ctx.system.spec.version,
        uid=runtime.RUNTIME_UID,
        containers=[container],
        volumes=volumes,
        annotations=secret_digests.digest_annotations(ctx.digests),
    )
    template["spec"]["restartPolicy"] = "Never"
    return template


def cronjob(ctx: BuildContext, backup: BackupSpec) -> dict[str, Any]:
    template = job_pod(ctx, COMPONENT, command(backup), claim_name(ctx, backup), backup.destination.s3)
    return cronjobs.cronjob(ctx, COMPONENT, backup.schedule, backup.suspend, template)


def claim(ctx: BuildContext, backup: BackupSpec) -> list[dict[str, Any]]:
    """The claim to create: only for a volume destination without an existing claimName."""
    volume = backup.destination.volume
    if volume is None or volume.claim_name is not None:
        return []
    spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": volume.size}},
    }
    if volume.storage_class_name:
        spec["storageClassName"] = volume.storage_class_name
    return [
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {
                "name": ctx.child_name(COMPONENT),
                "namespace": ctx.namespace,
                "labels": labels(ctx, COMPONENT, ctx.system.spec.version),
            },
            "spec": spec,
        }
    ]


def build(ctx: BuildContext) -> list[dict[str, Any]]:
    backup = ctx.system.spec.backup
    if backup is None:
        return []
    return [*claim(ctx, backup), cronjob(ctx, backup)]
