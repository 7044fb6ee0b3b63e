"""spec.embedding: the spec's model and refusals, the model claim, the fetch and reindex Jobs, and how
the runtime pods see the model; and the pure ModelReady and Reindexed conditions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from conftest import KUBERNETES_VERSION, build_context
from soma_operator.builders import models, render, runtime
from soma_operator.model_status import model_condition, reindex_condition
from soma_operator.spec import EmbeddingSpec, MemorySystem, SpecError
from soma_operator.status import Reason
from somafractalmemory.cli import models as fetcher

MODEL = "sentence-transformers/all-MiniLM-L6-v2"
SLUG = "sentence-transformers--all-MiniLM-L6-v2"


def system(**embedding: Any) -> dict[str, Any]:
    return {
        "apiVersion": "memory.soma.dev/v1alpha1",
        "kind": "MemorySystem",
        "metadata": {"name": "m"},
        "spec": {"mode": "direct", "embedding": embedding},
    }


def rendered(body: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(m["kind"], m["metadata"]["name"]): m for m in render(build_context(body))}


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def test_the_defaults_and_the_identity_that_decides_a_reindex() -> None:
    embedding = EmbeddingSpec()
    assert (embedding.provider.value, embedding.model, embedding.dimensions) == ("hashing", MODEL, 384)
    assert embedding.model_cache.model_dump(by_alias=True, mode="json") == {
        "size": "2Gi",
        "storageClassName": None,
        "accessModes": ["ReadWriteOnce"],
    }
    assert embedding.identity == "hashing/384"
    assert EmbeddingSpec(provider="onnx").identity == f"onnx/{MODEL}/384"
    # The model of the hashing provider changes nothing: no reindex.
    assert EmbeddingSpec(model="org/other").identity == "hashing/384"


@pytest.mark.parametrize(
    ("embedding", "message"),
    [
        ({"provider": "sentence-transformers"}, "'sentence-transformers' is not available"),
        ({"provider": "onnx", "model": "../etc"}, "String should match pattern"),
        ({"provider": "onnx", "modelCache": {"accessModes": []}}, "List should have at least 1 item"),
        ({"provider": "onnx", "modelCache": {"accessModes": ["ReadManyTimes"]}}, "Input should be"),
        ({"provider": "onnx", "source": {"path": "x"}}, "claimName"),
    ],
)
def test_bad_embedding_specs_are_refused(embedding: dict[str, Any], message: str) -> None:
    with pytest.raises(SpecError, match=message):
        MemorySystem.from_body({**system(**embedding), "metadata": {"name": "m", "namespace": "default"}})


def test_hashing_renders_no_model_claim_and_no_model_mount() -> None:
    children = rendered(system())
    assert ("PersistentVolumeClaim", "m-models") not in children
    config = children["ConfigMap", "m-config"]["data"]
    assert "SOMA_EMBEDDING_MODEL_DIR" not in config
    assert [v["name"] for v in pod_spec(children["Deployment", "m-api"])["volumes"]] == ["api-token", "tmp"]


def test_onnx_renders_the_claim_and_mounts_it_read_only_in_the_api() -> None:
    cache = {"size": "5Gi", "storageClassName": "nfs", "accessModes": ["ReadWriteMany"]}
    children = rendered(system(provider="onnx", modelCache=cache))
    claim = children["PersistentVolumeClaim", "m-models"]
    kubernetes_validate.validate(claim, KUBERNETES_VERSION, strict=True)
    assert claim["spec"] == {
        "accessModes": ["ReadWriteMany"],
        "resources": {"requests": {"storage": "5Gi"}},
        "storageClassName": "nfs",
    }
    [owner] = claim["metadata"]["ownerReferences"]
    assert owner["name"] == "m"
    config = children["ConfigMap", "m-config"]["data"]
    assert config["SOMA_EMBEDDING_PROVIDER"] == "onnx"
    assert config["SOMA_EMBEDDING_MODEL_DIR"] == f"/models/{SLUG}"
    api = pod_spec(children["Deployment", "m-api"])
    assert api["volumes"][-1] == {
        "name": "models",
        "persistentVolumeClaim": {"claimName": "m-models", "readOnly": True},
    }
    [container] = api["containers"]
    assert container["volumeMounts"][-1] == {"name": "models", "mountPath": "/models", "readOnly": True}


def test_a_source_claim_is_mounted_and_nothing_is_created() -> None:
    children = rendered(system(provider="onnx", source={"claimName": "models-offline", "path": "minilm/v2"}))
    assert ("PersistentVolumeClaim", "m-models") not in children
    assert children["ConfigMap", "m-config"]["data"]["SOMA_EMBEDDING_MODEL_DIR"] == "/models/minilm/v2"
    volume = pod_spec(children["Deployment", "m-api"])["volumes"][-1]
    assert volume["persistentVolumeClaim"] == {"claimName": "models-offline", "readOnly": True}


def test_the_consumers_mount_the_model_too() -> None:
    body = system(provider="onnx")
    body["spec"]["mode"] = "evented"
    consumers = pod_spec(rendered(body)["Deployment", "m-consumers"])
    assert consumers["volumes"][-1]["persistentVolumeClaim"] == {"claimName": "m-models", "readOnly": True}
    [container] = consumers["containers"]
    assert container["volumeMounts"][-1] == {"name": "models", "mountPath": "/models", "readOnly": True}


def test_the_fetch_job_writes_the_model_into_the_claim() -> None:
    job = models.fetch_job(build_context(system(provider="onnx")))
    kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)
    assert job["metadata"]["name"] == "m-models"
    assert job["metadata"]["annotations"] == {"memory.soma.dev/model": MODEL}
    assert job["spec"]["backoffLimit"] == 3
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    [container] = pod["containers"]
    assert container["command"] == [
        "soma",
        "models",
        "fetch",
        "--model",
        MODEL,
        "--to",
        f"/models/{SLUG}",
        "--quiet",
    ]
    assert {"name": "models", "mountPath": "/models"} in container["volumeMounts"]
    assert {"name": "models", "persistentVolumeClaim": {"claimName": "m-models"}} in pod["volumes"]


def test_the_reindex_job_is_named_by_the_embedding() -> None:
    ctx = build_context(system(provider="onnx"))
    job = models.reindex_job(ctx)
    kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)
    assert job["metadata"]["name"] == f"m-reindex-{models.embedding_hash(ctx.system.spec.embedding)}"
    assert job["metadata"]["annotations"] == {"memory.soma.dev/embedding": f"onnx/{MODEL}/384"}
    assert (
        models.embedding_hash(ctx.system.spec.embedding) == "02a53bfc6e"
    )  # sha256 of the identity, 10 hex digits
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["command"] == ["soma", "reindex", "--quiet"]
    assert {"name": "models", "mountPath": "/models", "readOnly": True} in container["volumeMounts"]
    other = build_context(system(dimensions=256))
    assert models.reindex_job_name(other) != job["metadata"]["name"]


def job(name: str, outcome: str | None) -> dict[str, Any]:
    status = {"conditions": [{"type": outcome, "status": "True"}]} if outcome else {}
    return {"metadata": {"name": name}, "status": status}


def failed_pod(job_name: str) -> dict[str, Any]:
    owner = {"kind": "Job", "name": job_name}
    terminated = {"exitCode": 1, "reason": "Error", "finishedAt": "2026-11-27T03:00:00Z"}
    return {
        "metadata": {"ownerReferences": [owner]},
        "status": {"containerStatuses": [{"state": {"terminated": terminated}}]},
    }


def test_model_ready_follows_the_fetch_job() -> None:
    onnx = EmbeddingSpec(provider="onnx")
    assert model_condition(EmbeddingSpec(), "", None, []) is None
    cases = [
        (None, [], False, Reason.FETCHING_MODEL, "the model fetch Job is not created yet"),
        (job("m-models", None), [], False, Reason.FETCHING_MODEL, f"Job m-models is fetching {MODEL}"),
        (
            job("m-models", "Complete"),
            [],
            True,
            Reason.MODEL_FETCHED,
            f"Job m-models fetched {MODEL} into claim m-models",
        ),
        (
            job("m-models", "Failed"),
            [failed_pod("m-models")],
            False,
            Reason.MODEL_FETCH_FAILED,
            "Job m-models: the model fetch container ended with Error (exit code 1)",
        ),
    ]
    for found, pods, ready, reason, message in cases:
        got = model_condition(onnx, "m-models", found, pods)
        assert got is not None
        assert (got.type, got.ready, got.reason, got.message) == ("ModelReady", ready, reason, message)
    sourced = model_condition(EmbeddingSpec(provider="onnx", source={"claimName": "c"}), "c", None, [])
    assert sourced is not None
    assert (sourced.ready, sourced.reason, sourced.message) == (
        True,
        Reason.MODEL_FROM_SOURCE,
        f"the model is read from claim c at {SLUG}",
    )


def test_reindexed_follows_the_model_the_rollout_and_the_job() -> None:
    change = "from hashing/384 to hashing/256"
    cases = [
        (False, True, None, [], Reason.WAITING_FOR_MODEL, f"the reindex {change} waits for the model"),
        (
            True,
            False,
            None,
            [],
            Reason.REINDEXING,
            f"the reindex {change} starts once every component runs the new embedder",
        ),
        (True, True, None, [], Reason.REINDEXING, f"the reindex Job {change} is not created yet"),
        (
            True,
            True,
            job("m-reindex-x", None),
            [],
            Reason.REINDEXING,
            f"Job m-reindex-x re-embeds every memory {change}",
        ),
        (
            True,
            True,
            job("m-reindex-x", "Complete"),
            [],
            Reason.REINDEX_COMPLETED,
            f"Job m-reindex-x re-embedded every memory {change}",
        ),
        (
            True,
            True,
            job("m-reindex-x", "Failed"),
            [failed_pod("m-reindex-x")],
            Reason.REINDEX_FAILED,
            "Job m-reindex-x: the reindex container ended with Error (exit code 1)",
        ),
    ]
    for model_ready, rolled_out, found, pods, reason, message in cases:
        got = reindex_condition("hashing/384", "hashing/256", model_ready, rolled_out, found, pods)
        assert (got.type, got.ready, got.reason, got.message) == (
            "Reindexed",
            reason is Reason.REINDEX_COMPLETED,
            reason,
            message,
        )


def test_runtime_pods_wait_for_the_fetched_model_and_not_for_a_source() -> None:
    children = rendered(system(provider="onnx"))
    api = pod_spec(children["Deployment", "m-api"])
    [wait] = api["initContainers"]
    assert wait["name"] == "wait-for-model"
    assert wait["command"][:2] == ["python", "-c"]
    assert wait["command"][3] == f"/models/{SLUG}/soma-model.json"
    assert wait["volumeMounts"] == [{"name": "models", "mountPath": "/models", "readOnly": True}]
    assert wait["securityContext"]["readOnlyRootFilesystem"] is True
    kubernetes_validate.validate(children["Deployment", "m-api"], KUBERNETES_VERSION, strict=True)
    sourced = rendered(system(provider="onnx", source={"claimName": "offline"}))
    assert "initContainers" not in pod_spec(sourced["Deployment", "m-api"])
    assert "initContainers" not in pod_spec(rendered(system())["Deployment", "m-api"])


def test_the_wait_ends_once_the_manifest_soma_models_fetch_writes_last_exists(tmp_path: Path) -> None:
    """The init container's script, run here: it waits while the manifest is missing and ends once it exists
    (the manifest's name is the runtime's)."""
    assert runtime.MODEL_MANIFEST == fetcher.MANIFEST
    manifest = tmp_path / runtime.MODEL_MANIFEST
    script = [sys.executable, "-c", runtime.WAIT_FOR_MODEL, str(manifest)]
    with pytest.raises(subprocess.TimeoutExpired):
        subprocess.run(script, timeout=3, check=True)
    manifest.write_text("{}")
    assert subprocess.run(script, timeout=10, check=True).returncode == 0


def test_the_fetch_job_reads_the_hub_endpoint_and_token_the_spec_names() -> None:
    hub = {"endpoint": "https://hf-mirror.internal", "tokenSecretRef": {"name": "hub-token"}}
    job = models.fetch_job(build_context(system(provider="onnx", hub=hub)))
    kubernetes_validate.validate(job, KUBERNETES_VERSION, strict=True)
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["env"][-2:] == [
        {"name": "HF_ENDPOINT", "value": "https://hf-mirror.internal"},
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hub-token", "key": "token"}}},
    ]
    plain = models.fetch_job(build_context(system(provider="onnx")))
    [container] = plain["spec"]["template"]["spec"]["containers"]
    assert not {"HF_ENDPOINT", "HF_TOKEN"} & {variable["name"] for variable in container["env"]}
