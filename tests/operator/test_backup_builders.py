"""spec.backup: the cron check, the spec's refusals, and the CronJob and claim the builders render."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

from conftest import KUBERNETES_VERSION, build_context
from soma_operator.builders import BUILDERS, render, restore
from soma_operator.builders.labels import COMPONENT_LABEL, INSTANCE_LABEL, MANAGED_BY_LABEL
from soma_operator.cron import cron_problem
from soma_operator.spec import MemorySystem, SpecError

UID = "0b6f6c43-5f0b-4d53-9c43-1a2b3c4d5e6f"
VOLUME = {"volume": {"size": "20Gi", "storageClassName": "slow"}}
S3 = {
    "s3": {
        "endpoint": "http://minio.storage:9000",
        "bucket": "soma-backups",
        "prefix": "/prod/m/",
        "region": "eu-west-1",
        "credentialsSecret": {"name": "s3-credentials"},
    }
}


def system(**backup_spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "memory.soma.dev/v1alpha1",
        "kind": "MemorySystem",
        "metadata": {"name": "m"},
        "spec": {"mode": "direct", "backup": {"schedule": "0 3 * * *", "destination": VOLUME, **backup_spec}},
    }


def rendered(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["kind"], m["metadata"]["name"]): m for m in render(build_context(body))}


def backup_container(cronjob: dict[str, Any]) -> dict[str, Any]:
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    [container] = pod["containers"]
    found: dict[str, Any] = container
    return found


@pytest.mark.parametrize(
    "schedule",
    [
        "0 3 * * *",
        "*/15 * * * *",
        "0 0-6/2 1,15 * ?",
        "30 4 * jan-mar MON-FRI",
        "0 0 1 DEC sun",
        "@daily",
        "@hourly",
    ],
)
def test_schedules_the_cronjob_controller_runs_pass(schedule: str) -> None:
    assert cron_problem(schedule) is None


@pytest.mark.parametrize(
    ("schedule", "problem"),
    [
        ("60 * * * *", "minute: 60 is outside 0-59"),
        ("0 24 * * *", "hour: 24 is outside 0-23"),
        ("0 0 0 * *", "day of month: 0 is outside 1-31"),
        ("0 0 * 13 *", "month: 13 is outside 1-12"),
        ("0 0 * * 7", "day of week: 7 is outside 0-6"),
        ("0 0 * * fun", "day of week: 'fun' is not a number"),
        ("*/0 * * * *", "minute: step '0' is not a positive number"),
        ("0 9-5 * * *", "hour: range 9-5 runs backwards"),
        (
            "0 3 * *",
            "expected five fields (minute hour day-of-month month day-of-week) or one of @yearly, @annually, "
            "@monthly, @weekly, @daily, @midnight, @hourly",
        ),
        ("@every 1h", "expected five fields"),
        ("TZ=UTC 0 3 * * *", "expected five fields"),
    ],
)
def test_schedules_it_would_refuse_are_refused_with_the_field(schedule: str, problem: str) -> None:
    found = cron_problem(schedule)
    assert found is not None
    assert found.startswith(problem)


def parse(backup_spec: dict[str, Any]) -> MemorySystem:
    return MemorySystem.from_body({"metadata": {"name": "m", "uid": UID}, "spec": {"backup": backup_spec}})


@pytest.mark.parametrize(
    ("backup_spec", "message"),
    [
        (
            {"schedule": "0 25 * * *", "destination": VOLUME},
            "spec.backup.schedule: '0 25 * * *' is not a cron schedule: hour: 25 is outside 0-23",
        ),
        (
            {"schedule": "0 3 * * *", "destination": {**VOLUME, **S3}},
            "spec.backup.destination: set exactly one of volume and s3",
        ),
        (
            {"schedule": "0 3 * * *", "destination": {}},
            "spec.backup.destination: set exactly one of volume and s3",
        ),
        (
            {"schedule": "0 3 * * *", "destination": {"volume": {"claimName": "old", "size": "1Gi"}}},
            "spec.backup.destination.volume: claimName names an existing claim: remove size, which only "
            "describe a claim the operator creates",
        ),
        ({"schedule": "0 3 * * *"}, "spec.backup.destination: Field required"),
        (
            {"schedule": "0 3 * * *", "destination": VOLUME, "retention": {"count": 0}},
            "spec.backup.retention.count: Input should be greater than or equal to 1",
        ),
    ],
)
def test_a_bad_backup_spec_is_refused_with_its_reason(backup_spec: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as refused:
        parse(backup_spec)
    assert str(refused.value) == message


def test_backup_defaults() -> None:
    spec = parse({"schedule": "@daily", "destination": {"volume": {}}}).spec.backup
    assert spec is not None
    assert spec.suspend is False
    assert (spec.retention.count, spec.retention.max_age_days) == (7, None)
    assert spec.destination.volume is not None
    assert (spec.destination.volume.size, spec.destination.volume.claim_name) == ("10Gi", None)


def test_no_backup_spec_renders_no_cronjob_and_no_claim() -> None:
    body = system()
    del body["spec"]["backup"]
    kinds = {kind for kind, _ in rendered(body)}
    assert "CronJob" not in kinds
    assert "PersistentVolumeClaim" not in kinds


def test_the_cronjob_runs_soma_backup_into_the_claim_it_mounts() -> None:
    body = system(retention={"count": 14, "maxAgeDays": 30}, suspend=True)
    children = rendered(body)
    cronjob = children["CronJob", "m-backup"]
    kubernetes_validate.validate(cronjob, KUBERNETES_VERSION, strict=True)
    spec = cronjob["spec"]
    assert spec["schedule"] == "0 3 * * *"
    assert spec["suspend"] is True
    assert spec["concurrencyPolicy"] == "Forbid"
    assert spec["startingDeadlineSeconds"] == 300
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 3)
    job = spec["jobTemplate"]
    assert job["metadata"]["labels"][COMPONENT_LABEL] == "backup"
    assert job["metadata"]["labels"][INSTANCE_LABEL] == "m"
    assert job["spec"]["backoffLimit"] == 0
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["serviceAccountName"] == "m-runtime"
    assert pod["automountServiceAccountToken"] is False
    container = backup_container(cronjob)
    assert container["image"] == "ghcr.io/soma-platform/soma-runtime:0.1.0"
    assert container["command"] == [
        "soma", "backup", "--to", "/backups", "--keep", "14", "--max-age-days", "30",
        "--summary-file", "/dev/termination-log", "--quiet",
    ]  # fmt: skip
    assert container["terminationMessagePath"] == "/dev/termination-log"
    assert container["terminationMessagePolicy"] == "File"
    assert container["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "256Mi"},
        "limits": {"memory": "1Gi"},
    }
    assert {m["name"]: m["mountPath"] for m in container["volumeMounts"]} == {
        "api-token": "/var/run/secrets/soma/api-token",
        "tmp": "/tmp",
        "backups": "/backups",
    }
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["backups"] == {"name": "backups", "persistentVolumeClaim": {"claimName": "m-backup"}}


def test_the_backup_sees_the_data_stores_exactly_as_the_api_does() -> None:
    children = rendered(system())
    api = children["Deployment", "m-api"]["spec"]["template"]["spec"]["containers"][0]
    container = backup_container(children["CronJob", "m-backup"])
    assert container["envFrom"] == api["envFrom"] == [{"configMapRef": {"name": "m-config"}}]
    assert container["env"] == api["env"]
    assert [e["name"] for e in container["env"]] == [
        "POSTGRES_PASSWORD",
        "POSTGRES_URL",
        "REDIS_PASSWORD",
        "REDIS_URL",
    ]


def test_the_cronjob_is_owned_and_labelled_like_every_child() -> None:
    metadata = rendered(system())["CronJob", "m-backup"]["metadata"]
    assert metadata["ownerReferences"] == [
        {
            "apiVersion": "memory.soma.dev/v1alpha1",
            "kind": "MemorySystem",
            "name": "m",
            "uid": UID,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert metadata["labels"][MANAGED_BY_LABEL] == "soma-operator"
    assert metadata["labels"][COMPONENT_LABEL] == "backup"


def test_the_operator_creates_the_claim_only_without_a_claim_name() -> None:
    claim = rendered(system())["PersistentVolumeClaim", "m-backup"]
    kubernetes_validate.validate(claim, KUBERNETES_VERSION, strict=True)
    assert claim["spec"] == {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "20Gi"}},
        "storageClassName": "slow",
    }
    assert "ownerReferences" not in claim["metadata"]
    existing = rendered(system(destination={"volume": {"claimName": "kept-backups"}}))
    assert ("PersistentVolumeClaim", "m-backup") not in existing
    pod = existing["CronJob", "m-backup"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    assert {"name": "backups", "persistentVolumeClaim": {"claimName": "kept-backups"}} in pod["volumes"]


def test_an_s3_destination_passes_the_bucket_and_the_secret_keys() -> None:
    children = rendered(system(destination=S3))
    assert ("PersistentVolumeClaim", "m-backup") not in children
    container = backup_container(children["CronJob", "m-backup"])
    assert container["command"] == [
        "soma", "backup", "--to", "s3://soma-backups/prod/m", "--keep", "7",
        "--summary-file", "/dev/termination-log", "--quiet",
    ]  # fmt: skip
    assert container["env"][-4:] == [
        {"name": "SOMA_BACKUP_S3_ENDPOINT", "value": "http://minio.storage:9000"},
        {
            "name": "AWS_ACCESS_KEY_ID",
            "valueFrom": {"secretKeyRef": {"name": "s3-credentials", "key": "AWS_ACCESS_KEY_ID"}},
        },
        {
            "name": "AWS_SECRET_ACCESS_KEY",
            "valueFrom": {"secretKeyRef": {"name": "s3-credentials", "key": "AWS_SECRET_ACCESS_KEY"}},
        },
        {"name": "AWS_REGION", "value": "eu-west-1"},
    ]
    assert "backups" not in {m["name"] for m in container["volumeMounts"]}


def test_an_s3_url_without_a_prefix_is_the_bucket() -> None:
    s3 = {"s3": {**S3["s3"], "prefix": ""}}
    container = backup_container(rendered(system(destination=s3))["CronJob", "m-backup"])
    assert container["command"][3] == "s3://soma-backups"


def test_the_backup_pods_may_reach_the_data_stores() -> None:
    with_backup = rendered(system())["NetworkPolicy", "m-postgres"]["spec"]["ingress"][0]["from"]
    assert [peer["podSelector"]["matchLabels"][COMPONENT_LABEL] for peer in with_backup] == [
        "api",
        "consumers",
        "backup",
    ]
    body = system()
    del body["spec"]["backup"]
    without = rendered(body)["NetworkPolicy", "m-postgres"]["spec"]["ingress"][0]["from"]
    assert [peer["podSelector"]["matchLabels"][COMPONENT_LABEL] for peer in without] == ["api", "consumers"]


def test_the_scheduled_builders_run_after_the_workloads_and_before_the_autoscalers() -> None:
    names = [build.__module__.rsplit(".", 1)[-1] for build in BUILDERS]
    assert names[names.index("consumers") + 1 : names.index("autoscaling")] == ["backup", "maintenance"]


def restoring(**restore_spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "memory.soma.dev/v1alpha1",
        "kind": "MemorySystem",
        "metadata": {"name": "m"},
        "spec": {
            "mode": "direct",
            "restore": {"source": {"volume": {"claimName": "old-backup"}}, **restore_spec},
        },
    }


def test_the_restore_job_replaces_the_data_from_the_chosen_backup() -> None:
    ctx = build_context(restoring(backup="20261127T030000Z", namespaces=["agents", "notes"]))
    assert ctx.system.spec.restore is not None
    job = restore.job(ctx, ctx.system.spec.restore)
    kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)
    assert job["metadata"]["name"] == "m-restore"
    assert job["metadata"]["labels"][COMPONENT_LABEL] == "restore"
    assert job["metadata"]["ownerReferences"][0]["uid"] == UID
    assert job["spec"]["backoffLimit"] == 2
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    [container] = pod["containers"]
    assert container["command"] == [
        "soma", "restore", "--from", "/backups", "--backup", "20261127T030000Z",
        "--namespace", "agents", "--namespace", "notes", "--mode", "replace",
        "--summary-file", "/dev/termination-log", "--quiet",
    ]  # fmt: skip
    assert {"name": "backups", "persistentVolumeClaim": {"claimName": "old-backup"}} in pod["volumes"]
    assert container["terminationMessagePolicy"] == "File"


def test_a_restore_from_s3_reads_the_bucket_with_the_secret_keys() -> None:
    ctx = build_context(restoring(source=S3))
    assert ctx.system.spec.restore is not None
    [container] = restore.job(ctx, ctx.system.spec.restore)["spec"]["template"]["spec"]["containers"]
    assert container["command"][:6] == [
        "soma",
        "restore",
        "--from",
        "s3://soma-backups/prod/m",
        "--backup",
        "latest",
    ]
    assert {e["name"] for e in container["env"]} >= {
        "SOMA_BACKUP_S3_ENDPOINT",
        "AWS_ACCESS_KEY_ID",
        "AWS_REGION",
    }


def test_the_restore_job_is_not_rendered_with_the_other_children() -> None:
    children = rendered(restoring())
    assert not any(kind == "Job" for kind, _ in children)
    peers = children["NetworkPolicy", "m-postgres"]["spec"]["ingress"][0]["from"]
    assert [p["podSelector"]["matchLabels"][COMPONENT_LABEL] for p in peers] == [
        "api",
        "consumers",
        "restore",
    ]


@pytest.mark.parametrize(
    ("restore_spec", "message"),
    [
        ({"source": {}}, "spec.restore.source: set exactly one of volume and s3"),
        ({"source": {"volume": {}}}, "spec.restore.source.volume.claimName: Field required"),
        (
            {"source": {"volume": {"claimName": "b"}}, "backup": "yesterday"},
            "spec.restore.backup: String should match pattern '^(latest|[0-9]{8}T[0-9]{6}Z)$'",
        ),
    ],
)
def test_a_bad_restore_spec_is_refused_with_its_reason(restore_spec: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError) as refused:
        MemorySystem.from_body({"metadata": {"name": "m", "uid": UID}, "spec": {"restore": restore_spec}})
    assert str(refused.value) == message
