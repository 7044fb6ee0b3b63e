"""One idempotent reconcile of a MemorySystem, as a flat list of small ensure-steps.

Each step reads what it needs, changes the cluster only when it differs from the spec, and announces
every change: a log line and a Kubernetes Event on the MemorySystem.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import kopf

from soma_operator import builders
from soma_operator.applier import Change, apply_all
from soma_operator.backup_status import RESTORED, BackupReport, backup_report, restore_condition
from soma_operator.builders import (
    autoscaling,
    backup,
    cloudnative_pg,
    encryption,
    maintenance,
    models,
    restore,
    runtime,
)
from soma_operator.builders.api import endpoint
from soma_operator.builders.context import (
    API_TOKEN_KEY,
    POSTGRES_PASSWORD_KEY,
    REDIS_PASSWORD_KEY,
    BuildContext,
    Capabilities,
    Credentials,
)
from soma_operator.builders.labels import COMPONENT_LABEL, instance_labels, owner_reference
from soma_operator.builders.workloads import claim_name
from soma_operator.config import OperatorConfig
from soma_operator.constants import FIELD_MANAGER
from soma_operator.kube import KubeClient
from soma_operator.maintenance_status import maintenance_report
from soma_operator.model_status import (
    INDEXED_EMBEDDING,
    MODEL_READY,
    REINDEXED,
    model_condition,
    reindex_condition,
)
from soma_operator.quantity import storage_bytes
from soma_operator.secret_refs import SECRETS_FOUND, SecretsRead, secrets_read, to_read
from soma_operator.spec import Component, MemorySystem, OnDelete, SpecError, shrink_errors
from soma_operator.status import (
    READY,
    Condition,
    Phase,
    Providers,
    Reason,
    StorageProgress,
    component_conditions,
    data_stores_ready,
    failed_status,
    observed_status,
    paused_status,
)

Claims = Mapping[Component, list[dict[str, Any]]]

CLAIMS_RECHECK_SECONDS = 2


@dataclass(frozen=True)
class Reconciler:
    """Everything a reconcile needs besides the object itself."""

    client: KubeClient
    config: OperatorConfig
    logger: kopf.Logger

    def announce(self, body: kopf.Body, reason: str, message: str) -> None:
        self.logger.info(f"{reason}: {message}")
        kopf.info(body, reason=reason, message=message)


def _now() -> datetime.datetime:
    return datetime.datetime.now(tz=datetime.UTC)


def _generation(body: kopf.Body) -> int:
    generation: int = body.metadata.get("generation", 0)
    return generation


def ensure_valid(body: kopf.Body, patch: kopf.Patch) -> MemorySystem:
    """The parsed MemorySystem; an invalid spec ends as phase Failed and a PermanentError."""
    try:
        return MemorySystem.from_body(body)
    except SpecError as error:
        patch.status.update(failed_status(str(error), body.status, _generation(body), _now()))
        raise kopf.PermanentError(f"Invalid spec: {error}") from None


async def read_credentials(r: Reconciler, system: MemorySystem) -> Credentials:
    """The generated secret values: read back when they exist, generated once when they do not."""
    fresh = Credentials()
    ctx = BuildContext(system, r.config, fresh)
    api_secret, db_secret = await asyncio.gather(
        r.client.get("Secret", system.namespace, ctx.api_token_secret_name),
        r.client.get("Secret", system.namespace, ctx.db_credentials_secret_name),
    )

    def stored(secret: Mapping[str, Any] | None, key: str, default: str) -> str:
        value = ((secret or {}).get("data") or {}).get(key)
        return base64.b64decode(value).decode() if value else default

    return Credentials(
        api_token=stored(api_secret, API_TOKEN_KEY, fresh.api_token),
        postgres_password=stored(db_secret, POSTGRES_PASSWORD_KEY, fresh.postgres_password),
        redis_password=stored(db_secret, REDIS_PASSWORD_KEY, fresh.redis_password),
    )


async def discover(r: Reconciler, system: MemorySystem) -> Capabilities:
    """Which of the operators this spec can use are installed: asked only when the spec asks for one."""
    spec = system.spec
    wants_cnpg = spec.postgres.cloudnative_pg
    wants_keda = spec.runs_consumers() and spec.consumers.autoscaling is not None
    cnpg, keda = await asyncio.gather(
        r.client.serves(cloudnative_pg.GROUP_VERSION, cloudnative_pg.PLURAL) if wants_cnpg else _false(),
        r.client.serves(autoscaling.KEDA_API_VERSION, autoscaling.KEDA_PLURAL) if wants_keda else _false(),
    )
    return Capabilities(cloudnative_pg=cnpg, keda=keda)


async def _false() -> bool:
    return False


def providers(ctx: BuildContext) -> Providers:
    """What serves the system, for the status; a provider the spec asks for and the cluster lacks."""
    spec, found = ctx.system.spec, ctx.capabilities
    unavailable = {}
    if spec.postgres.cloudnative_pg and not found.cloudnative_pg:
        unavailable[Component.POSTGRES] = (
            "provider cloudnative-pg: CloudNativePG is not installed (the API server serves no "
            f"{cloudnative_pg.GROUP_VERSION} {cloudnative_pg.PLURAL}); install it, or use provider "
            "statefulset with one instance"
        )
    postgres = spec.postgres.provider.value if spec.postgres.provisioned else "external"
    scaling = None
    if spec.runs_consumers():
        scaling = "keda" if ctx.autoscaled(Component.CONSUMERS) else "fixed"
    autoscaled = frozenset(c for c in (Component.API, Component.CONSUMERS) if ctx.autoscaled(c))
    return Providers(postgres, scaling, unavailable, autoscaled)


async def read_claim_template_sizes(r: Reconciler, system: MemorySystem) -> dict[Component, str]:
    """Claim sizes of existing StatefulSets: their templates are immutable and must be re-applied as is."""
    stores = system.spec.statefulset_data_stores()
    found = await asyncio.gather(
        *(r.client.get("StatefulSet", system.namespace, f"{system.name}-{store}") for store in stores)
    )
    sizes = {}
    for store, live in zip(stores, found, strict=True):
        for template in (live or {}).get("spec", {}).get("volumeClaimTemplates", []):
            sizes[store] = template["spec"]["resources"]["requests"]["storage"]
    return sizes


async def read_claims(r: Reconciler, ctx: BuildContext) -> Claims:
    """The live claims of every provisioned store, by the StatefulSet controller's naming convention."""
    replicas = ctx.system.spec.workload_replicas()
    stores = ctx.system.spec.statefulset_data_stores()

    async def claims_of(store: Component) -> list[dict[str, Any]]:
        names = [claim_name(ctx, store, ordinal) for ordinal in range(replicas[store])]
        found = await asyncio.gather(
            *(r.client.get("PersistentVolumeClaim", ctx.namespace, n) for n in names)
        )
        return [claim for claim in found if claim is not None]

    return dict(zip(stores, await asyncio.gather(*(claims_of(store) for store in stores)), strict=True))


def _requested(claim: Mapping[str, Any]) -> str:
    size: str = claim["spec"]["resources"]["requests"]["storage"]
    return size


def shrink_refusal(system: MemorySystem, claims: Claims) -> str | None:
    current = {
        component: max((_requested(claim) for claim in found), key=storage_bytes)
        for component, found in claims.items()
        if found
    }
    errors = shrink_errors(current, system.spec)
    return "; ".join(errors) if errors else None


async def apply_children(
    r: Reconciler, body: kopf.Body, ctx: BuildContext
) -> dict[Component, dict[str, Any]]:
    """Apply every rendered child; the live workloads come back for the status."""
    applied = await apply_all(r.client, builders.render(ctx))
    for result in applied:
        if result.change is not Change.UNCHANGED:
            r.announce(body, str(result.change), f"{result.kind} {result.name}")
    workload_kinds = ("StatefulSet", "Deployment", cloudnative_pg.KIND)
    by_name = {a.name: dict(a.live) for a in applied if a.kind in workload_kinds}
    return {
        c: by_name[ctx.child_name(c)]
        for c in ctx.system.spec.workload_replicas()
        if ctx.child_name(c) in by_name
    }


async def read_workloads(r: Reconciler, ctx: BuildContext) -> dict[Component, dict[str, Any] | None]:
    spec = ctx.system.spec
    unavailable = providers(ctx).unavailable
    components = [c for c in spec.workload_replicas() if c not in unavailable]
    found = await asyncio.gather(
        *(r.client.get(spec.workload_kind(c), ctx.namespace, ctx.child_name(c)) for c in components)
    )
    return dict(zip(components, found, strict=True))


# Holds the replicas of a Deployment for a moment while they pass from the operator to an autoscaler.
HANDOVER_MANAGER = f"{FIELD_MANAGER}-handover"


def _applies_replicas(live: Mapping[str, Any]) -> bool:
    for entry in live.get("metadata", {}).get("managedFields") or []:
        if entry.get("manager") == FIELD_MANAGER and entry.get("operation") == "Apply":
            return "f:replicas" in (entry.get("fieldsV1") or {}).get("f:spec", {})
    return False


async def hand_over_replicas(r: Reconciler, ctx: BuildContext) -> None:
    """Before an apply without ``replicas``: if the operator owned them, another manager first takes them at
    their current value. Otherwise server-side apply would remove the field, the Deployment would fall back
    to one replica, and the autoscaler would have to climb back (kubernetes.io/docs/reference/using-api/
    server-side-apply, "Transferring ownership")."""
    for component in (Component.API, Component.CONSUMERS):
        if not ctx.autoscaled(component):
            continue
        live = await r.client.get("Deployment", ctx.namespace, ctx.child_name(component))
        if live is None or not _applies_replicas(live):
            continue
        replicas = live["spec"]["replicas"]
        handover = {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": live["metadata"]["name"], "namespace": ctx.namespace},
            "spec": {"replicas": replicas},
        }
        await r.client.apply(handover, field_manager=HANDOVER_MANAGER)
        r.logger.info(f"Deployment {ctx.child_name(component)}: {replicas} replicas handed to its autoscaler")


async def remove_unused_children(r: Reconciler, body: kopf.Body, ctx: BuildContext) -> None:
    """An autoscaler the spec no longer asks for would keep scaling, a CronJob keep running: they go
    (by name, nothing to list). Where KEDA is not installed, the server answers 404 for the ScaledObject as
    for any absent object. A backup claim stays: it holds backups, which outlive their schedule."""
    unused = []
    if not ctx.autoscaled(Component.API):
        unused.append(("HorizontalPodAutoscaler", ctx.child_name(Component.API)))
    if not ctx.autoscaled(Component.CONSUMERS):
        unused.append(("ScaledObject", ctx.child_name(Component.CONSUMERS)))
    if ctx.system.spec.backup is None:
        unused.append(("CronJob", backup.cronjob_name(ctx)))
    if ctx.system.spec.maintenance is None:
        unused.append(("CronJob", maintenance.cronjob_name(ctx)))
    for kind, name in unused:
        if await r.client.delete(kind, ctx.namespace, name):
            r.announce(body, "Deleted", f"{kind} {name}")


async def grow_claims(r: Reconciler, body: kopf.Body, system: MemorySystem, claims: Claims) -> None:
    """Claim templates are immutable, so growth is asked of each claim; the storage driver expands it."""
    for component, found in claims.items():
        desired = system.spec.data_store(component).storage.size
        for claim in found:
            if storage_bytes(_requested(claim)) < storage_bytes(desired):
                name = claim["metadata"]["name"]
                patch = {"spec": {"resources": {"requests": {"storage": desired}}}}
                claim.update(
                    await r.client.merge_patch("PersistentVolumeClaim", system.namespace, name, patch)
                )
                r.announce(body, "Expanding", f"PersistentVolumeClaim {name} to {desired}")


def _has_size(claim: Mapping[str, Any], desired: str) -> bool:
    """A bound claim has the size once its capacity reaches it; a claim not bound yet gets its volume at the
    size it asks for, so it is provisioning, not waiting for an expansion."""
    status = claim.get("status") or {}
    if status.get("phase") != "Bound":
        return True
    return storage_bytes((status.get("capacity") or {}).get("storage", "0")) >= storage_bytes(desired)


def storage_progress(system: MemorySystem, claims: Claims) -> list[StorageProgress]:
    progress = []
    for component, found in claims.items():
        desired = system.spec.data_store(component).storage.size
        resized = [claim for claim in found if _has_size(claim, desired)]
        progress.append(StorageProgress(component, desired, claims=len(found), resized=len(resized)))
    return progress


async def read_backups(r: Reconciler, ctx: BuildContext, old_status: Mapping[str, Any]) -> BackupReport:
    """The backup Jobs of the CronJob and their pods (one list each, by the labels of the Job template)."""
    if ctx.system.spec.backup is None:
        return backup_report([], [], old_status)
    labels = {**instance_labels(ctx.name), COMPONENT_LABEL: backup.COMPONENT}
    jobs, pods = await asyncio.gather(
        r.client.list("Job", ctx.namespace, labels), r.client.list("Pod", ctx.namespace, labels)
    )
    return backup_report(jobs, pods, old_status)


async def read_maintenance(r: Reconciler, ctx: BuildContext, old_status: Mapping[str, Any]) -> BackupReport:
    """The maintenance CronJob (its controller's record), its Jobs and their pods."""
    if ctx.system.spec.maintenance is None:
        return maintenance_report(None, [], [], old_status)
    labels = {**instance_labels(ctx.name), COMPONENT_LABEL: maintenance.COMPONENT}
    cronjob, jobs, pods = await asyncio.gather(
        r.client.get("CronJob", ctx.namespace, maintenance.cronjob_name(ctx)),
        r.client.list("Job", ctx.namespace, labels),
        r.client.list("Pod", ctx.namespace, labels),
    )
    return maintenance_report(cronjob, jobs, pods, old_status)


async def read_schedules(
    r: Reconciler, ctx: BuildContext, old_status: Mapping[str, Any]
) -> tuple[BackupReport, BackupReport]:
    """What the scheduled work (backups, maintenance) reported."""
    backups, maintained = await asyncio.gather(
        read_backups(r, ctx, old_status), read_maintenance(r, ctx, old_status)
    )
    return backups, maintained


async def ensure_encryption_key(r: Reconciler, body: kopf.Body, ctx: BuildContext) -> None:
    """The generated key Secret: created with one fresh key where none exists, and never written again, so
    the key stays and so does a rotation the user made (a new key first). A Secret of this system left
    without an owner (released on a delete with storagePolicy Retain) is adopted again."""
    if not encryption.generates_secret(ctx):
        return
    name = ctx.child_name(encryption.COMPONENT)
    live = await r.client.get("Secret", ctx.namespace, name)
    if live is None:
        await r.client.apply(encryption.key_secret(ctx, encryption.fernet_key()))
        r.announce(body, "Created", f"Secret {name} with a new encryption key")
        return
    metadata = live["metadata"]
    ours = instance_labels(ctx.name).items() <= (metadata.get("labels") or {}).items()
    if ours and not metadata.get("ownerReferences"):
        patch = {"metadata": {"ownerReferences": [owner_reference(ctx)]}}
        await r.client.merge_patch("Secret", ctx.namespace, name, patch)
        r.announce(body, "Adopted", f"Secret {name}: its encryption keys are kept")


async def check_secrets(r: Reconciler, body: kopf.Body, ctx: BuildContext) -> SecretsRead:
    """The digests of the Secrets the runtime reads at start, and SecretsFound for those the spec names;
    an Event when one goes missing."""
    secrets = await asyncio.gather(
        *(r.client.get("Secret", ctx.namespace, use.secret) for use in to_read(ctx))
    )
    found = secrets_read(ctx, secrets)
    if found.condition is not None:
        _announce_outcome(r, body, found.condition, SECRETS_FOUND, (Reason.SECRET_MISSING,))
    return found


async def ensure_restore(
    r: Reconciler,
    body: kopf.Body,
    ctx: BuildContext,
    workloads: Mapping[Component, Mapping[str, Any] | None],
    *,
    create: bool,
) -> Condition | None:
    """The restore a new system starts from: its Job is applied once the data stores are ready (``create``:
    not by the status refresh, which only reads); the Restored condition holds Ready until it completed."""
    spec = ctx.system.spec.restore
    if spec is None:
        return None
    previous = next((c for c in body.status.get("conditions") or [] if c.get("type") == RESTORED), None)
    if previous is not None and previous.get("status") == "True":
        return restore_condition(None, [], True, previous)
    labels = {**instance_labels(ctx.name), COMPONENT_LABEL: restore.COMPONENT}
    job, pods = await asyncio.gather(
        r.client.get("Job", ctx.namespace, restore.job_name(ctx)), r.client.list("Pod", ctx.namespace, labels)
    )
    found = providers(ctx)
    stores_ready = data_stores_ready(
        component_conditions(ctx.system.spec, workloads, found.unavailable, found.autoscaled)
    )
    if job is None and stores_ready and create:
        # Applied once and never again: a Job's pod template is immutable.
        job = await r.client.apply(restore.job(ctx, spec))
        r.announce(body, "Created", f"Job {restore.job_name(ctx)}")
    condition = restore_condition(job, pods, stores_ready, previous)
    _announce_outcome(r, body, condition, RESTORED, (Reason.RESTORE_COMPLETED, Reason.RESTORE_FAILED))
    return condition


def _previous(body: kopf.Body, kind: str) -> Mapping[str, Any] | None:
    return next((c for c in body.status.get("conditions") or [] if c.get("type") == kind), None)


def _announce_outcome(
    r: Reconciler, body: kopf.Body, condition: Condition, kind: str, outcomes: tuple[Reason, ...]
) -> None:
    """An Event when a Job's condition reaches one of its outcomes (once: not again while it stays)."""
    if condition.reason in outcomes and (_previous(body, kind) or {}).get("reason") != str(condition.reason):
        r.announce(body, str(condition.reason), condition.message)


async def _job_and_pods(
    r: Reconciler, ctx: BuildContext, name: str, component: str
) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    labels = {**instance_labels(ctx.name), COMPONENT_LABEL: component}
    job, pods = await asyncio.gather(
        r.client.get("Job", ctx.namespace, name), r.client.list("Pod", ctx.namespace, labels)
    )
    return job, pods


async def ensure_model(
    r: Reconciler, body: kopf.Body, ctx: BuildContext, *, create: bool
) -> Condition | None:
    """The model of the onnx embedder: its fetch Job is applied once per model (``create``: not by the
    status refresh); a Job left by another model is deleted first. ModelReady holds Ready until it
    completed."""
    embedding = ctx.system.spec.embedding
    claim = runtime.model_claim(ctx)
    if claim is None or not embedding.fetched:
        return model_condition(embedding, claim or "", None, [])
    name = models.job_name(ctx)
    job, pods = await _job_and_pods(r, ctx, name, models.COMPONENT)
    if (
        job is not None
        and job["metadata"].get("annotations", {}).get(models.MODEL_ANNOTATION) != embedding.model
    ):
        if create and await r.client.delete("Job", ctx.namespace, name, propagation="Background"):
            r.announce(body, "Deleted", f"Job {name} (another model)")
        job, pods = None, []
    if job is None and create:
        job = await r.client.apply(models.fetch_job(ctx))
        r.announce(body, "Created", f"Job {name}")
    condition = model_condition(embedding, claim, job, pods)
    if condition is not None:
        _announce_outcome(r, body, condition, MODEL_READY, (Reason.MODEL_FETCHED, Reason.MODEL_FETCH_FAILED))
    return condition


@dataclass(frozen=True)
class Reindex:
    condition: Condition | None
    indexed: str  # the embedding the vectors are made with, for status.indexedEmbedding


async def ensure_reindex(
    r: Reconciler,
    body: kopf.Body,
    ctx: BuildContext,
    workloads: Mapping[Component, Mapping[str, Any] | None],
    model: Condition | None,
    *,
    create: bool,
) -> Reindex:
    """After a change of spec.embedding, the Job NAME-reindex-HASH embeds every memory again, once the
    model is ready and every component runs the new embedder (a pod still on the old one would write
    vectors of the old one). A new system has nothing to reindex: it starts with its embedding."""
    wanted = ctx.system.spec.embedding.identity
    indexed = str(body.status.get(INDEXED_EMBEDDING) or wanted)
    if indexed == wanted:
        previous = _previous(body, REINDEXED)
        if previous is not None and previous.get("status") == "True":
            return Reindex(
                Condition(REINDEXED, True, Reason.REINDEX_COMPLETED, str(previous.get("message"))), wanted
            )
        return Reindex(None, wanted)
    name = models.reindex_job_name(ctx)
    job, pods = await _job_and_pods(r, ctx, name, models.REINDEX_COMPONENT)
    model_ready = model is None or model.ready
    found = providers(ctx)
    components = component_conditions(ctx.system.spec, workloads, found.unavailable, found.autoscaled)
    rolled_out = all(c.ready for c in components)
    if job is None and model_ready and rolled_out and create:
        job = await r.client.apply(models.reindex_job(ctx))
        r.announce(body, "Created", f"Job {name}")
    condition = reindex_condition(indexed, wanted, model_ready, rolled_out, job, pods)
    _announce_outcome(r, body, condition, REINDEXED, (Reason.REINDEX_COMPLETED, Reason.REINDEX_FAILED))
    return Reindex(condition, wanted if condition.ready else indexed)


def write_status(
    r: Reconciler, body: kopf.Body, patch: kopf.Patch, status: dict[str, Any], reports: Sequence[BackupReport]
) -> None:
    previous = body.status.get("phase")
    if previous != status.get("phase"):
        r.announce(body, "PhaseChanged", f"{previous or 'unset'} -> {status['phase']}")
    for report in reports:
        if report.new_result is not None and report.condition is not None:
            r.announce(body, str(report.condition.reason), report.condition.message)
    patch.status.update(status)


async def reconcile(r: Reconciler, body: kopf.Body, patch: kopf.Patch) -> None:
    """Bring the children to the spec and report; TemporaryError until every component is ready."""
    system = ensure_valid(body, patch)
    if system.spec.paused:
        patch.status.update(paused_status(body.status, _generation(body), _now()))
        r.announce(body, "Paused", "no change is applied while spec.paused is true")
        return
    credentials, claim_template_sizes, capabilities = await asyncio.gather(
        read_credentials(r, system), read_claim_template_sizes(r, system), discover(r, system)
    )
    ctx = BuildContext(system, r.config, credentials, claim_template_sizes, capabilities)
    claims = await read_claims(r, ctx)
    refusal = shrink_refusal(system, claims)
    if refusal is not None:
        workloads, reports = await asyncio.gather(read_workloads(r, ctx), read_schedules(r, ctx, body.status))
        found = await check_secrets(r, body, ctx)
        restored = await ensure_restore(r, body, ctx, workloads, create=False)
        model = await ensure_model(r, body, ctx, create=False)
        reindex = await ensure_reindex(r, body, ctx, workloads, model, create=False)
        gates = _gates(restored, model, found, reindex)
        status = _status(ctx, body, workloads, claims, refusal, reports, gates, indexed=reindex.indexed)
        write_status(r, body, patch, status, reports)
        raise kopf.PermanentError(f"Refused: {refusal}")
    await hand_over_replicas(r, ctx)
    await ensure_encryption_key(r, body, ctx)
    found = await check_secrets(r, body, ctx)
    ctx = replace(ctx, digests=found.digests)
    applied = await apply_children(r, body, ctx)
    await remove_unused_children(r, body, ctx)
    await grow_claims(r, body, system, claims)
    reports = await read_schedules(r, ctx, body.status)
    restored = await ensure_restore(r, body, ctx, applied, create=True)
    model = await ensure_model(r, body, ctx, create=True)
    reindex = await ensure_reindex(r, body, ctx, applied, model, create=True)
    gates = _gates(restored, model, found, reindex)
    status = _status(ctx, body, applied, claims, None, reports, gates, indexed=reindex.indexed)
    write_status(r, body, patch, status, reports)
    if status["phase"] != Phase.READY:
        [ready] = [c for c in status["conditions"] if c["type"] == READY]
        raise kopf.TemporaryError(
            f"Not ready yet: {ready['message']}", delay=r.config.readiness_recheck_seconds
        )


async def refresh_status(r: Reconciler, body: kopf.Body, patch: kopf.Patch) -> None:
    """Re-read the children of a MemorySystem and report what changed, without applying."""
    try:
        system = MemorySystem.from_body(body)
    except SpecError:
        return  # it is Failed already, and nothing was applied for this spec
    if system.spec.paused:
        return
    # Only names are needed, and whether the Secrets the spec names exist: no credential is read.
    ctx = BuildContext(system, r.config, Credentials(), capabilities=await discover(r, system))
    claims, workloads, reports = await asyncio.gather(
        read_claims(r, ctx), read_workloads(r, ctx), read_schedules(r, ctx, body.status)
    )
    refusal = shrink_refusal(system, claims)
    found = await check_secrets(r, body, ctx)
    restored = await ensure_restore(r, body, ctx, workloads, create=False)
    model = await ensure_model(r, body, ctx, create=False)
    reindex = await ensure_reindex(r, body, ctx, workloads, model, create=False)
    gates = _gates(restored, model, found, reindex)
    status = _status(ctx, body, workloads, claims, refusal, reports, gates, indexed=reindex.indexed)
    write_status(r, body, patch, status, reports)


def _gates(
    restored: Condition | None, model: Condition | None, found: SecretsRead, reindex: Reindex
) -> dict[str, Condition | None]:
    """The conditions that hold Ready besides the components, by type: None for one that no longer
    applies (the spec asks for no restore, names no Secret, fetches no model, has nothing to reindex)."""
    return {
        RESTORED: restored,
        MODEL_READY: model,
        SECRETS_FOUND: found.condition,
        REINDEXED: reindex.condition,
    }


def _status(
    ctx: BuildContext,
    body: kopf.Body,
    workloads: Mapping[Component, Mapping[str, Any] | None],
    claims: Claims,
    refusal: str | None,
    reports: Sequence[BackupReport],
    gates: Mapping[str, Condition | None],
    *,
    indexed: str,
) -> dict[str, Any]:
    status = observed_status(
        spec=ctx.system.spec,
        workloads=workloads,
        storage=storage_progress(ctx.system, claims),
        refusal=refusal,
        old_status=body.status,
        generation=_generation(body),
        endpoint=endpoint(ctx),
        now=_now(),
        providers=providers(ctx),
        gates=[gate for gate in gates.values() if gate is not None],
        extra_conditions=[report.condition for report in reports if report.condition is not None],
        retired=[kind for kind, gate in gates.items() if gate is None],
    )
    fields = {key: value for report in reports for key, value in report.fields.items()}
    return {**status, **fields, INDEXED_EMBEDDING: indexed}


async def release_claims(r: Reconciler, body: kopf.Body) -> None:
    """On deletion: keep the claims (Retain) or delete every claim of this system by its labels (Delete)."""
    try:
        system: MemorySystem | None = MemorySystem.from_body(body)
    except SpecError:
        system = None
    # When in doubt, keep the data.
    on_delete = system.spec.storage_policy.on_delete if system is not None else OnDelete.RETAIN
    if on_delete is OnDelete.RETAIN:
        if system is not None and system.spec.postgres.cloudnative_pg:
            await keep_cluster(r, body, system)
        if system is not None:
            await keep_encryption_key(r, body, system)
        r.announce(body, "ClaimsRetained", "storagePolicy.onDelete is Retain: the claims and their data stay")
        return
    labels = instance_labels(body.metadata.name or "")
    # A StatefulSet re-creates the missing claims of its pending pods, so the sets go first; and a sync
    # already under way may still re-create one, so a pass that deleted anything is checked by another.
    deleted = [
        *await _delete_all(r, body, "StatefulSet", labels),
        *await _delete_all(r, body, "PersistentVolumeClaim", labels),
    ]
    if deleted:
        raise kopf.TemporaryError("checking that no claim came back", delay=CLAIMS_RECHECK_SECONDS)


async def _delete_all(r: Reconciler, body: kopf.Body, kind: str, labels: Mapping[str, str]) -> list[str]:
    """Delete every object of the kind with these labels that is not being deleted yet; their names."""
    namespace = body.metadata.namespace or "default"
    deleted = []
    for found in await r.client.list(kind, namespace, labels):
        name: str = found["metadata"]["name"]
        if not found["metadata"].get("deletionTimestamp") and await r.client.delete(kind, namespace, name):
            r.announce(body, "Deleted", f"{kind} {name}")
            deleted.append(name)
    return deleted


async def keep_cluster(r: Reconciler, body: kopf.Body, system: MemorySystem) -> None:
    """CloudNativePG's claims belong to its Cluster, which belongs to the MemorySystem: to keep the data,
    the Cluster is released before the garbage collector follows the owner references. A MemorySystem
    re-created with the same name adopts it again (the apply sets the owner reference anew)."""
    name = f"{system.name}-{Component.POSTGRES}"
    if not await r.client.serves(cloudnative_pg.GROUP_VERSION, cloudnative_pg.PLURAL):
        return
    if await r.client.get(cloudnative_pg.KIND, system.namespace, name) is None:
        return
    await r.client.merge_patch(
        cloudnative_pg.KIND, system.namespace, name, {"metadata": {"ownerReferences": None}}
    )
    r.announce(
        body, "ClusterRetained", f"Cluster {name} kept with its data: delete it when it is no longer needed"
    )


async def keep_encryption_key(r: Reconciler, body: kopf.Body, system: MemorySystem) -> None:
    """The generated key Secret belongs to the MemorySystem, yet the retained data is unreadable without it:
    with the claims it is released before the garbage collector follows the owner references, and a
    MemorySystem re-created with the same name adopts it again (ensure_encryption_key)."""
    ctx = BuildContext(system, r.config, Credentials())
    if not encryption.generates_secret(ctx):
        return
    name = ctx.child_name(encryption.COMPONENT)
    if await r.client.get("Secret", system.namespace, name) is None:
        return
    await r.client.merge_patch("Secret", system.namespace, name, {"metadata": {"ownerReferences": None}})
    r.announce(
        body, "EncryptionKeyRetained", f"Secret {name} kept with the data: the encrypted fields need it"
    )
