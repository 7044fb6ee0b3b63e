"""The embedding model of the onnx provider: the claim ``NAME-models`` it is fetched into, the Job
``NAME-models`` that runs ``soma models fetch`` into it, and the Job ``NAME-reindex-HASH`` that embeds
every memory again after a change of ``spec.embedding``.

The claim is rendered with the other children. The Jobs are not (like the restore Job): the reconcile
applies the fetch Job while the model is not ready and the reindex Job once the embedding changed
(reconcile.ensure_model, reconcile.ensure_reindex), and a Job's pod template is immutable, so neither is
re-applied. Both pods are the backup Jobs' pod (builders/backup.job_pod): the API's container, settings
and security context, run once; the fetch Job alone mounts the claim writable.
"""

from __future__ import annotations

import hashlib
from typing import Any

from soma_operator.builders import runtime
from soma_operator.builders.backup import job_pod
from soma_operator.builders.context import BuildContext
from soma_operator.builders.labels import metadata
from soma_operator.builders.pods import secret_env, value_env
from soma_operator.spec import EmbeddingSpec

COMPONENT = runtime.MODELS_COMPONENT
REINDEX_COMPONENT = "reindex"
# The model a fetch Job was made for; a Job of another model is replaced.
MODEL_ANNOTATION = "memory.soma.dev/model"
EMBEDDING_ANNOTATION = "memory.soma.dev/embedding"
# A fetch that fails (hub unreachable, a model without ONNX export) is tried again a few times; the
# fetch is idempotent, so a retry resumes from nothing half-written.
FETCH_BACKOFF_LIMIT = 3
# A reindex rewrites vectors idempotently: a retry after a failure is safe.
REINDEX_BACKOFF_LIMIT = 2
HASH_LENGTH = 10


def job_name(ctx: BuildContext) -> str:
    return ctx.child_name(COMPONENT)


def embedding_hash(embedding: EmbeddingSpec) -> str:
    """A short, stable name for what the vectors depend on."""
    return hashlib.sha256(embedding.identity.encode()).hexdigest()[:HASH_LENGTH]


def reindex_job_name(ctx: BuildContext) -> str:
    return f"{ctx.child_name(REINDEX_COMPONENT)}-{embedding_hash(ctx.system.spec.embedding)}"


def fetch_command(ctx: BuildContext) -> list[str]:
    embedding = ctx.system.spec.embedding
    return ["soma", "models", "fetch", "--model", embedding.model, "--to", runtime.model_dir(ctx), "--quiet"]


def hub_env(ctx: BuildContext) -> list[dict[str, Any]]:
    """HF_ENDPOINT and HF_TOKEN for huggingface_hub in the fetch Job, when the spec names them."""
    hub = ctx.system.spec.embedding.hub
    env = []
    if hub.endpoint is not None:
        env.append(value_env("HF_ENDPOINT", hub.endpoint))
    if hub.token_secret_ref is not None:
        env.append(secret_env("HF_TOKEN", hub.token_secret_ref.name, hub.token_secret_ref.key))
    return env


def writable(template: dict[str, Any]) -> dict[str, Any]:
    """The pod template with the model claim mounted read-write (the fetch writes into it)."""
    spec = template["spec"]
    for volume in spec["volumes"]:
        if volume["name"] == runtime.MODELS_VOLUME:
            volume["persistentVolumeClaim"].pop("readOnly")
    for container in spec["containers"]:
        for volume_mount in container["volumeMounts"]:
            if volume_mount["name"] == runtime.MODELS_VOLUME:
                volume_mount.pop("readOnly")
    return template


def fetch_job(ctx: BuildContext) -> dict[str, Any]:
    version = ctx.system.spec.version
    template = writable(job_pod(ctx, COMPONENT, fetch_command(ctx), None, None))
    [container] = template["spec"]["containers"]
    container["env"] = [*container["env"], *hub_env(ctx)]
    job_metadata = metadata(ctx, job_name(ctx), COMPONENT, version)
    job_metadata["annotations"] = {MODEL_ANNOTATION: ctx.system.spec.embedding.model}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": job_metadata,
        "spec": {
            "backoffLimit": FETCH_BACKOFF_LIMIT,
            "template": template,
        },
    }


def reindex_job(ctx: BuildContext) -> dict[str, Any]:
    version = ctx.system.spec.version
    job_metadata = metadata(ctx, reindex_job_name(ctx), REINDEX_COMPONENT, version)
    job_metadata["annotations"] = {EMBEDDING_ANNOTATION: ctx.system.spec.embedding.identity}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": job_metadata,
        "spec": {
            "backoffLimit": REINDEX_BACKOFF_LIMIT,
            "template": job_pod(ctx, REINDEX_COMPONENT, ["soma", "reindex", "--quiet"], None, None),
        },
    }


def claim(ctx: BuildContext) -> list[dict[str, Any]]:
    """The claim the model is fetched into: only for onnx without a source. Owned by the MemorySystem:
    it holds nothing that cannot be fetched again."""
    embedding = ctx.system.spec.embedding
    if not embedding.fetched:
        return []
    cache = embedding.model_cache
    spec: dict[str, Any] = {
        "accessModes": [mode.value for mode in cache.access_modes],
        "resources": {"requests": {"storage": cache.size}},
    }
    if cache.storage_class_name:
        spec["storageClassName"] = cache.storage_class_name
    version = ctx.system.spec.version
    claim_metadata = metadata(ctx, ctx.child_name(COMPONENT), COMPONENT, version)
    return [{"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": claim_metadata, "spec": spec}]


def build(ctx: BuildContext) -> list[dict[str, Any]]:
    return claim(ctx)
