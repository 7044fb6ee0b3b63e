"""The real operator inside kopf, against the emulated API server: create, ready, change, refuse,
pause, delete, fail. Controllers the emulator lacks (StatefulSet, Deployment, volumes) are played
by the test, by writing what they would write."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from kube_emulator import (
    CLAIMS,
    DECLARED,
    DEPLOYMENTS,
    EVENTS,
    MEMORYSYSTEMS,
    STATEFULSETS,
    ApiServerEmulator,
)
from operator_harness import (
    act_as_claim_controller,
    act_as_volume_expander,
    act_as_workload_controllers,
    condition,
    create_system,
    delete_system,
    eventually,
    patch_spec,
    running_operator,
    system_status,
)

from conftest import SAMPLES, build_context, load_sample
from soma_operator.builders import render
from soma_operator.builders.labels import INSTANCE_LABEL, MANAGED_BY_LABEL

MINIMAL = next(path for path in SAMPLES if path.stem == "minimal")
CHILD_KINDS = [kind for kind in DECLARED if kind not in ("MemorySystem", "Namespace", "Event")]


def children(emulator: ApiServerEmulator, name: str) -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for kind in CHILD_KINDS:
        for obj in emulator.all_live(DECLARED[kind][0]):
            if any(owner["name"] == name for owner in obj["metadata"].get("ownerReferences", [])):
                found[kind, obj["metadata"]["name"]] = obj
    return found


def deployment(emulator: ApiServerEmulator, name: str) -> dict[str, Any]:
    return emulator.live(DEPLOYMENTS, "default", name) or {}


def claim(emulator: ApiServerEmulator, name: str) -> dict[str, Any]:
    return emulator.live(CLAIMS, "default", name) or {}


def phase_is(emulator: ApiServerEmulator, name: str, phase: str) -> bool:
    return system_status(emulator, name).get("phase") == phase


async def ready_system(emulator: ApiServerEmulator, spec: dict[str, Any] | None = None) -> str:
    """A MemorySystem whose children, claims included, all exist and are ready."""
    body = load_sample(MINIMAL)
    body["spec"] = spec or {}
    await create_system(emulator, body)
    await eventually(lambda: phase_is(emulator, "minimal", "Provisioning"), "children applied")
    act_as_claim_controller(emulator, "minimal")
    act_as_workload_controllers(emulator, "minimal")
    await eventually(lambda: phase_is(emulator, "minimal", "Ready"), "phase Ready")
    return "minimal"


async def test_a_new_system_gets_every_child_owned_and_labelled(emulator: ApiServerEmulator) -> None:
    async with running_operator(emulator):
        await create_system(emulator, load_sample(MINIMAL))
        await eventually(lambda: phase_is(emulator, "minimal", "Provisioning"), "phase Provisioning")

        system = emulator.live(MEMORYSYSTEMS, "default", "minimal") or {}
        expected = render(build_context(load_sample(MINIMAL)))
        found = children(emulator, "minimal")
        assert set(found) == {(m["kind"], m["metadata"]["name"]) for m in expected}
        for obj in found.values():
            [owner] = obj["metadata"]["ownerReferences"]
            assert owner["uid"] == system["metadata"]["uid"]
            assert owner["controller"] is True
            assert obj["metadata"]["labels"][INSTANCE_LABEL] == "minimal"
            assert obj["metadata"]["labels"][MANAGED_BY_LABEL] == "soma-operator"
        assert condition(emulator, "minimal", "Ready")["status"] == "False"
        assert condition(emulator, "minimal", "Progressing")["status"] == "True"

        def events() -> set[tuple[str, str]]:
            return {
                (e["reason"], e["message"])
                for e in emulator.all_live(EVENTS)
                if e["involvedObject"]["name"] == "minimal"
            }

        expected_events = {
            ("Created", "StatefulSet minimal-postgres"),
            ("Created", "Deployment minimal-api"),
            ("PhaseChanged", "unset -> Provisioning"),
        }
        await eventually(lambda: expected_events <= events(), "an event per change")


async def test_ready_children_make_the_system_ready_with_its_endpoint(emulator: ApiServerEmulator) -> None:
    async with running_operator(emulator):
        await ready_system(emulator)
        status = system_status(emulator, "minimal")
        assert status["endpoint"] == "http://minimal-api.default.svc:9595"
        assert status["observedGeneration"] == 1
        for kind in ("Ready", "PostgresReady", "RedpandaReady", "ApiReady", "ConsumersReady"):
            assert condition(emulator, "minimal", kind)["status"] == "True"
        assert condition(emulator, "minimal", "Degraded")["status"] == "False"


async def test_spec_changes_roll_out_and_storage_grows_through_the_claims(
    emulator: ApiServerEmulator,
) -> None:
    async with running_operator(emulator):
        await ready_system(emulator)
        secrets_before = {
            key: obj["data"] for key, obj in children(emulator, "minimal").items() if key[0] == "Secret"
        }

        await patch_spec(
            emulator,
            "minimal",
            {"version": "0.2.0", "api": {"replicas": 3}, "postgres": {"storage": {"size": "20Gi"}}},
        )

        def image(name: str) -> str:
            return str(deployment(emulator, name)["spec"]["template"]["spec"]["containers"][0]["image"])

        def rolled_out() -> bool:
            # one pass applies the children one after another: wait for the consumers too
            return (
                deployment(emulator, "minimal-api")["spec"]["replicas"] == 3
                and image("minimal-api").endswith(":0.2.0")
                and image("minimal-consumers").endswith(":0.2.0")
            )

        await eventually(rolled_out, "the API Deployment at 3 replicas of 0.2.0, and the consumers at 0.2.0")
        assert image("minimal-consumers") == image("minimal-api")
        await eventually(
            lambda: (
                claim(emulator, "data-minimal-postgres-0")["spec"]["resources"]["requests"]["storage"]
                == "20Gi"
            ),
            "the postgres claim asked to grow",
        )
        postgres = emulator.live(STATEFULSETS, "default", "minimal-postgres") or {}
        [template] = postgres["spec"]["volumeClaimTemplates"]
        assert template["spec"]["resources"]["requests"]["storage"] == "10Gi", "claim templates are immutable"
        await eventually(
            lambda: condition(emulator, "minimal", "Progressing").get("reason") == "StorageResizing",
            "resize progress reported",
        )
        assert condition(emulator, "minimal", "Progressing")["message"] == "postgres: 0/1 claims at 20Gi"

        act_as_volume_expander(emulator)
        act_as_workload_controllers(emulator, "minimal")
        await eventually(lambda: phase_is(emulator, "minimal", "Ready"), "Ready again")
        assert system_status(emulator, "minimal")["observedGeneration"] == 2
        secrets_after = {
            key: obj["data"] for key, obj in children(emulator, "minimal").items() if key[0] == "Secret"
        }
        assert secrets_after == secrets_before, "generated credentials are stable across reconciles"
        token = base64.b64decode(secrets_after["Secret", "minimal-api-token"]["token"]).decode()
        assert token not in repr(system_status(emulator, "minimal"))


async def test_a_storage_shrink_is_refused_and_nothing_is_patched(emulator: ApiServerEmulator) -> None:
    async with running_operator(emulator):
        await ready_system(emulator)
        await patch_spec(
            emulator, "minimal", {"api": {"replicas": 4}, "postgres": {"storage": {"size": "5Gi"}}}
        )

        refused = await eventually(
            lambda: (
                condition(emulator, "minimal", "Progressing").get("reason") == "StorageShrinkRefused"
                and condition(emulator, "minimal", "Progressing")
            ),
            "the shrink refused",
        )
        assert "postgres: storage cannot shrink from 10Gi to 5Gi" in refused["message"]
        assert refused["status"] == "False"
        assert deployment(emulator, "minimal-api")["spec"]["replicas"] == 2
        assert (
            claim(emulator, "data-minimal-postgres-0")["spec"]["resources"]["requests"]["storage"] == "10Gi"
        )


async def test_a_paused_system_changes_nothing_until_resumed(emulator: ApiServerEmulator) -> None:
    async with running_operator(emulator):
        await ready_system(emulator)
        await patch_spec(emulator, "minimal", {"paused": True, "api": {"replicas": 5}})
        await eventually(
            lambda: condition(emulator, "minimal", "Progressing").get("reason") == "Paused",
            "pause acknowledged",
        )
        assert deployment(emulator, "minimal-api")["spec"]["replicas"] == 2

        await patch_spec(emulator, "minimal", {"paused": False})
        await eventually(
            lambda: deployment(emulator, "minimal-api")["spec"]["replicas"] == 5, "resumed rollout"
        )


@pytest.mark.parametrize(("policy", "claims_left"), [("Retain", True), ("Delete", False)])
async def test_deletion_keeps_or_removes_the_claims(
    emulator: ApiServerEmulator, policy: str, claims_left: bool
) -> None:
    async with running_operator(emulator):
        await ready_system(emulator, {"storagePolicy": {"onDelete": policy}})
        claims = {c["metadata"]["name"] for c in emulator.all_live(CLAIMS)}
        assert claims == {f"data-minimal-{store}-0" for store in ("postgres", "redis", "qdrant", "redpanda")}
        unrelated = {"metadata": {"name": "data-other-postgres-0", "namespace": "default", "labels": {}}}
        emulator.objects[CLAIMS, "default", "data-other-postgres-0"] = unrelated

        await delete_system(emulator, "minimal")
        await eventually(
            lambda: emulator.live(MEMORYSYSTEMS, "default", "minimal") is None, "finalizer released"
        )

        left = {c["metadata"]["name"] for c in emulator.all_live(CLAIMS)}
        assert left == (claims | {"data-other-postgres-0"} if claims_left else {"data-other-postgres-0"})


def deleted_events(emulator: ApiServerEmulator, kind: str) -> list[int]:
    """The resourceVersions of the Deleted events for objects of the kind, in the order they were posted."""
    return sorted(
        int(e["metadata"]["resourceVersion"])
        for e in emulator.all_live(EVENTS)
        if e["reason"] == "Deleted" and e["message"].startswith(f"{kind} ")
    )


async def test_delete_stops_the_statefulsets_first_and_deletes_a_claim_they_recreated(
    emulator: ApiServerEmulator,
) -> None:
    async with running_operator(emulator):
        await ready_system(emulator, {"storagePolicy": {"onDelete": "Delete"}})
        sets = {s["metadata"]["name"] for s in emulator.all_live(STATEFULSETS)}
        assert sets == {f"minimal-{store}" for store in ("postgres", "redis", "qdrant", "redpanda")}
        other = {"metadata": {"name": "other-postgres", "namespace": "default", "labels": {}}}
        emulator.objects[STATEFULSETS, "default", "other-postgres"] = other
        claim_labels = claim(emulator, "data-minimal-postgres-0")["metadata"]["labels"]

        await delete_system(emulator, "minimal")
        # kopf posts events from a queue of its own, after the deletes they announce: wait for those too.
        await eventually(
            lambda: (
                not emulator.all_live(CLAIMS) and len(deleted_events(emulator, "PersistentVolumeClaim")) == 4
            ),
            "the sets and claims of the first pass deleted, and their events posted",
        )
        assert {s["metadata"]["name"] for s in emulator.all_live(STATEFULSETS)} == {"other-postgres"}
        assert max(deleted_events(emulator, "StatefulSet")) < min(
            deleted_events(emulator, "PersistentVolumeClaim")
        )
        # The finalizer stays for a second pass, which finds what a StatefulSet sync under way re-created.
        assert emulator.live(MEMORYSYSTEMS, "default", "minimal") is not None
        recreated = {
            "metadata": {"name": "data-minimal-postgres-0", "namespace": "default", "labels": claim_labels}
        }
        emulator.objects[CLAIMS, "default", "data-minimal-postgres-0"] = recreated

        await eventually(
            lambda: emulator.live(MEMORYSYSTEMS, "default", "minimal") is None, "finalizer released"
        )
        assert emulator.all_live(CLAIMS) == []
        assert len(deleted_events(emulator, "PersistentVolumeClaim")) == 5


async def test_an_invalid_spec_ends_failed_with_its_reason(emulator: ApiServerEmulator) -> None:
    async with running_operator(emulator):
        body = load_sample(MINIMAL)
        body["spec"] = {
            "api": {"replicas": 0},
            "postgres": {"external": {"secretRef": {"name": "pg"}}, "storage": {"size": "1Gi"}},
        }
        await create_system(emulator, body)
        await eventually(lambda: phase_is(emulator, "minimal", "Failed"), "phase Failed")
        ready = condition(emulator, "minimal", "Ready")
        assert ready["reason"] == "InvalidSpec"
        assert "spec.api.replicas" in ready["message"]
        assert "external and provisioned settings are exclusive" in ready["message"]
        assert children(emulator, "minimal") == {}


async def test_a_restarted_operator_resumes_and_repairs_drift(emulator: ApiServerEmulator) -> None:
    async with running_operator(emulator):
        await ready_system(emulator)
    del emulator.objects[DEPLOYMENTS, "default", "minimal-api"]  # lost while no operator was running

    async with running_operator(emulator):
        await eventually(lambda: deployment(emulator, "minimal-api"), "the API Deployment re-applied")
        await eventually(lambda: phase_is(emulator, "minimal", "Provisioning"), "the loss reported")


async def test_a_namespace_scoped_operator_leaves_other_namespaces_alone(emulator: ApiServerEmulator) -> None:
    async with running_operator(emulator, namespaces=["team-a"]):
        for namespace in ("team-b", "team-a"):
            body = load_sample(MINIMAL)
            body["metadata"]["namespace"] = namespace
            await create_system(emulator, body)
        await eventually(lambda: emulator.live(DEPLOYMENTS, "team-a", "minimal-api"), "team-a provisioned")
        assert emulator.live(DEPLOYMENTS, "team-b", "minimal-api") is None
        assert "phase" not in (emulator.live(MEMORYSYSTEMS, "team-b", "minimal") or {}).get("status", {})
