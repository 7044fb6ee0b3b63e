"""Pure embedding status: the model fetch Job in, ModelReady out; the reindex Job in, Reindexed out.

Both are gates (like Restored): Ready waits for them, and their failures stop Progressing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from soma_operator.backup_status import finished, job_failure, termination
from soma_operator.spec import EmbeddingSpec
from soma_operator.status import Condition, Reason

MODEL_READY = "ModelReady"
REINDEXED = "Reindexed"
# The status field naming the embedding (EmbeddingSpec.identity) the vectors were made with.
INDEXED_EMBEDDING = "indexedEmbedding"


def model_condition(
    embedding: EmbeddingSpec, claim: str, job: Mapping[str, Any] | None, pods: Sequence[Mapping[str, Any]]
) -> Condition | None:
    """Whether the model of an onnx embedder is in its claim; None for an embedder without a model."""
    if not embedding.neural:
        return None
    if embedding.source is not None:
        message = f"the model is read from claim {claim} at {embedding.model_path}"
        return Condition(MODEL_READY, True, Reason.MODEL_FROM_SOURCE, message)
    if job is None:
        return Condition(MODEL_READY, False, Reason.FETCHING_MODEL, "the model fetch Job is not created yet")
    name: str = job["metadata"]["name"]
    outcome = finished(job)
    if outcome is None:
        return Condition(
            MODEL_READY, False, Reason.FETCHING_MODEL, f"Job {name} is fetching {embedding.model}"
        )
    if outcome[0]:
        message = f"Job {name} fetched {embedding.model} into claim {claim}"
        return Condition(MODEL_READY, True, Reason.MODEL_FETCHED, message)
    failure = job_failure(job, termination(name, pods), {}, container="model fetch")
    return Condition(MODEL_READY, False, Reason.MODEL_FETCH_FAILED, f"Job {name}: {failure}")


def reindex_condition(
    indexed: str,
    wanted: str,
    model_ready: bool,
    rolled_out: bool,
    job: Mapping[str, Any] | None,
    pods: Sequence[Mapping[str, Any]],
) -> Condition:
    """Whether the vectors were made with the wanted embedding; ``indexed`` is the one they were made with
    before the change."""
    change = f"from {indexed} to {wanted}"
    if job is None:
        if not model_ready:
            return Condition(
                REINDEXED, False, Reason.WAITING_FOR_MODEL, f"the reindex {change} waits for the model"
            )
        if not rolled_out:
            message = f"the reindex {change} starts once every component runs the new embedder"
            return Condition(REINDEXED, False, Reason.REINDEXING, message)
        return Condition(REINDEXED, False, Reason.REINDEXING, f"the reindex Job {change} is not created yet")
    name: str = job["metadata"]["name"]
    outcome = finished(job)
    if outcome is None:
        return Condition(REINDEXED, False, Reason.REINDEXING, f"Job {name} re-embeds every memory {change}")
    if outcome[0]:
        return Condition(
            REINDEXED, True, Reason.REINDEX_COMPLETED, f"Job {name} re-embedded every memory {change}"
        )
    failure = job_failure(job, termination(name, pods), {}, container="reindex")
    return Condition(REINDEXED, False, Reason.REINDEX_FAILED, f"Job {name}: {failure}")
