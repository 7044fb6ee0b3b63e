"""spec.embedding through the real operator (its kopf handlers) against the emulated API server: the
model fetch Job gates Ready (ModelReady), a change of the embedding runs a reindex Job (Reindexed).

The emulator runs no Job controller: the test writes a Job's Complete condition as the controller would,
and the workload controllers' status after each rollout."""

from __future__ import annotations

from typing import Any

from kube_emulator import CLAIMS, DEPLOYMENTS, EVENTS, JOBS, ApiServerEmulator
from operator_harness import (
    act_as_claim_controller,
    act_as_workload_controllers,
    condition,
    create_system,
    eventually,
    patch_spec,
    running_operator,
    system_status,
)

from soma_operator.builders.labels import COMPONENT_LABEL

NAME = "neural"
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
OTHER = "sentence-transformers/paraphrase-MiniLM-L3-v2"
SLUG = "sentence-transformers--all-MiniLM-L6-v2"
WAITING = "the reindex from hashing/384 to hashing/256 starts once every component runs the new embedder"


def job(emulator: ApiServerEmulator, name: str) -> dict[str, Any] | None:
    return emulator.live(JOBS, "default", name)


def end_job(emulator: ApiServerEmulator, name: str, outcome: str, **why: str) -> None:
    """What the Job controller writes once the Job's pod ended."""
    condition = {"type": outcome, "status": "True", "lastTransitionTime": "2026-11-27T04:00:00Z", **why}
    emulator.objects[JOBS, "default", name].patch({"status": {"conditions": [condition]}})


def events(emulator: ApiServerEmulator) -> list[tuple[str, str]]:
    return [
        (e["reason"], e["message"]) for e in emulator.all_live(EVENTS) if e["involvedObject"]["name"] == NAME
    ]


def command(found: dict[str, Any] | None) -> list[str]:
    [container] = (found or {})["spec"]["template"]["spec"]["containers"]
    value: list[str] = container["command"]
    return value


async def create(emulator: ApiServerEmulator, embedding: dict[str, Any]) -> None:
    body = {"apiVersion": "memory.soma.dev/v1alpha1", "kind": "MemorySystem", "metadata": {"name": NAME}}
    await create_system(emulator, {**body, "spec": {"mode": "direct", "embedding": embedding}})
    await eventually(lambda: system_status(emulator, NAME).get("phase") == "Provisioning", "children applied")
    act_as_claim_controller(emulator, NAME)
    act_as_workload_controllers(emulator, NAME)


async def test_an_onnx_system_is_ready_once_its_model_is_fetched(emulator: ApiServerEmulator) -> None:
    async with running_operator(emulator):
        await create(emulator, {"provider": "onnx"})
        await eventually(lambda: job(emulator, f"{NAME}-models") is not None, "the fetch Job")
        fetch = job(emulator, f"{NAME}-models")
        assert command(fetch) == [
            "soma", "models", "fetch", "--model", MODEL, "--to", f"/models/{SLUG}", "--quiet",
        ]  # fmt: skip
        assert (fetch or {})["metadata"]["labels"][COMPONENT_LABEL] == "models"
        claim = emulator.live(CLAIMS, "default", f"{NAME}-models") or {}
        assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
        await eventually(
            lambda: condition(emulator, NAME, "ModelReady").get("reason") == "FetchingModel", "fetching"
        )
        assert condition(emulator, NAME, "ModelReady")["message"] == f"Job {NAME}-models is fetching {MODEL}"
        fetching = f"Job {NAME}-models is fetching {MODEL}"
        await eventually(lambda: condition(emulator, NAME, "Ready").get("message") == fetching, "Ready waits")
        assert condition(emulator, NAME, "Ready")["status"] == "False"
        assert system_status(emulator, NAME)["indexedEmbedding"] == f"onnx/{MODEL}/384"

        end_job(emulator, f"{NAME}-models", "Complete")
        await eventually(lambda: system_status(emulator, NAME).get("phase") == "Ready", "phase Ready")
        model = condition(emulator, NAME, "ModelReady")
        fetched = f"Job {NAME}-models fetched {MODEL} into claim {NAME}-models"
        assert (model["status"], model["reason"], model["message"]) == ("True", "ModelFetched", fetched)
        await eventually(lambda: ("ModelFetched", fetched) in events(emulator), "a ModelFetched event")
        assert condition(emulator, NAME, "Reindexed") == {}  # a new system has nothing to reindex


async def test_a_failed_fetch_stops_progress_with_its_reason(emulator: ApiServerEmulator) -> None:
    async with running_operator(emulator):
        await create(emulator, {"provider": "onnx"})
        await eventually(lambda: job(emulator, f"{NAME}-models") is not None, "the fetch Job")
        end_job(
            emulator, f"{NAME}-models", "Failed", reason="BackoffLimitExceeded", message="too many failures"
        )
        await eventually(
            lambda: condition(emulator, NAME, "Progressing").get("reason") == "ModelFetchFailed",
            "the failure",
        )
        progressing = condition(emulator, NAME, "Progressing")
        assert (progressing["status"], progressing["message"]) == (
            "False",
            f"Job {NAME}-models: BackoffLimitExceeded: too many failures",
        )
        assert system_status(emulator, NAME)["phase"] == "Provisioning"


async def test_a_change_of_the_embedding_runs_a_reindex_job(emulator: ApiServerEmulator) -> None:
    async with running_operator(emulator):
        await create(emulator, {"dimensions": 384})
        await eventually(lambda: system_status(emulator, NAME).get("phase") == "Ready", "phase Ready")
        assert system_status(emulator, NAME)["indexedEmbedding"] == "hashing/384"

        await patch_spec(emulator, NAME, {"embedding": {"dimensions": 256}})
        await eventually(
            lambda: condition(emulator, NAME, "Reindexed").get("message") == WAITING,
            "the reindex waiting for the rollout",
        )
        assert [j["metadata"]["name"] for j in emulator.all_live(JOBS)] == []
        api = emulator.live(DEPLOYMENTS, "default", f"{NAME}-api") or {}
        assert api["spec"]["template"]["metadata"]["annotations"]  # the settings' checksum rolls the pods

        act_as_workload_controllers(emulator, NAME)
        [reindex] = await eventually(lambda: emulator.all_live(JOBS), "the reindex Job")
        name = reindex["metadata"]["name"]
        assert name.startswith(f"{NAME}-reindex-") and len(name) == len(f"{NAME}-reindex-") + 10
        assert command(reindex) == ["soma", "reindex", "--quiet"]
        assert system_status(emulator, NAME)["indexedEmbedding"] == "hashing/384"
        message = f"Job {name} re-embeds every memory from hashing/384 to hashing/256"
        await eventually(
            lambda: condition(emulator, NAME, "Progressing").get("message") == message, "reindexing"
        )
        progressing = condition(emulator, NAME, "Progressing")
        assert (progressing["status"], progressing["reason"]) == ("True", "RollingOut")
        assert condition(emulator, NAME, "Ready")["status"] == "False"  # Ready waits for the reindex

        end_job(emulator, name, "Complete")
        await eventually(lambda: system_status(emulator, NAME).get("phase") == "Ready", "phase Ready")
        assert system_status(emulator, NAME)["indexedEmbedding"] == "hashing/256"
        done = f"Job {name} re-embedded every memory from hashing/384 to hashing/256"
        assert condition(emulator, NAME, "Reindexed")["message"] == done
        await eventually(lambda: ("ReindexCompleted", done) in events(emulator), "a ReindexCompleted event")

        # Once: the next reconcile neither re-runs it nor forgets it.
        await patch_spec(emulator, NAME, {"api": {"replicas": 3}})
        await eventually(lambda: system_status(emulator, NAME).get("observedGeneration") == 3, "reconciled")
        assert [j["metadata"]["name"] for j in emulator.all_live(JOBS)] == [name]
        assert condition(emulator, NAME, "Reindexed")["status"] == "True"


async def test_another_model_replaces_the_fetch_job_then_reindexes(emulator: ApiServerEmulator) -> None:
    async with running_operator(emulator):
        await create(emulator, {"provider": "onnx"})
        await eventually(lambda: job(emulator, f"{NAME}-models") is not None, "the fetch Job")
        end_job(emulator, f"{NAME}-models", "Complete")
        await eventually(lambda: system_status(emulator, NAME).get("phase") == "Ready", "phase Ready")

        await patch_spec(emulator, NAME, {"embedding": {"model": OTHER}})
        await eventually(
            lambda: (
                (job(emulator, f"{NAME}-models") or {}).get("metadata", {}).get("annotations")
                == {"memory.soma.dev/model": OTHER}
            ),
            "the fetch Job of the other model",
        )
        # kopf posts events in the background: they may follow the objects they report.
        deleted = ("Deleted", f"Job {NAME}-models (another model)")
        await eventually(lambda: deleted in events(emulator), "the event of the deleted Job")
        act_as_workload_controllers(emulator, NAME)
        await eventually(
            lambda: condition(emulator, NAME, "Reindexed").get("reason") == "WaitingForModel",
            "waiting for the model",
        )
        assert [j["metadata"]["name"] for j in emulator.all_live(JOBS)] == [f"{NAME}-models"]
        end_job(emulator, f"{NAME}-models", "Complete")
        await eventually(lambda: len(emulator.all_live(JOBS)) == 2, "the reindex Job")
        assert system_status(emulator, NAME)["indexedEmbedding"] == f"onnx/{MODEL}/384"
