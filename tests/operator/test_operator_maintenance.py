"""spec.maintenance and spec.encryption through the real operator (its kopf handlers) against the emulated
API server: the CronJob comes and goes with the spec, its runs reach the status, and the generated key
Secret is created once and never written again (a new key would make every encrypted memory unreadable)."""

from __future__ import annotations

import base64
from typing import Any

from kube_emulator import CRONJOBS, DEPLOYMENTS, EVENTS, JOBS, MEMORYSYSTEMS, SECRETS, ApiServerEmulator
from operator_harness import (
    act_as_claim_controller,
    act_as_workload_controllers,
    condition,
    create_system,
    delete_system,
    eventually,
    patch_spec,
    request,
    running_operator,
    system_status,
)

NAME = "kept"
MAINTENANCE = {"schedule": "30 4 * * *", "decay": {"rules": [{"afterSeconds": 86400, "drop": ["scratch"]}]}}
ENCRYPTION = {"fields": ["email"]}
ROTATED_KEY = base64.urlsafe_b64encode(b"r" * 32).decode()


def body(spec: dict[str, Any], name: str = NAME) -> dict[str, Any]:
    return {
        "apiVersion": "memory.soma.dev/v1alpha1",
        "kind": "MemorySystem",
        "metadata": {"name": name},
        "spec": {"mode": "direct", **spec},
    }


async def ready_system(emulator: ApiServerEmulator, spec: dict[str, Any], name: str = NAME) -> None:
    await create_system(emulator, body(spec, name))
    await eventually(lambda: system_status(emulator, name).get("phase") == "Provisioning", "children applied")
    act_as_claim_controller(emulator, name)
    act_as_workload_controllers(emulator, name)
    await eventually(lambda: system_status(emulator, name).get("phase") == "Ready", "phase Ready")


def events(emulator: ApiServerEmulator, name: str = NAME) -> list[tuple[str, str]]:
    return [
        (e["reason"], e["message"]) for e in emulator.all_live(EVENTS) if e["involvedObject"]["name"] == name
    ]


def key_secret(emulator: ApiServerEmulator, name: str = NAME) -> dict[str, Any]:
    return emulator.live(SECRETS, "default", f"{name}-encryption") or {}


def stored_keys(emulator: ApiServerEmulator) -> str:
    return base64.b64decode(key_secret(emulator)["data"]["keys"]).decode()


def maintenance_schedule(emulator: ApiServerEmulator) -> str:
    return str((emulator.live(CRONJOBS, "default", f"{NAME}-maintenance") or {})["spec"]["schedule"])


async def test_maintenance_and_encryption_get_their_cronjob_and_a_generated_key(
    emulator: ApiServerEmulator,
) -> None:
    async with running_operator(emulator):
        await ready_system(emulator, {"maintenance": MAINTENANCE, "encryption": ENCRYPTION})
        cronjob = emulator.live(CRONJOBS, "default", f"{NAME}-maintenance") or {}
        assert cronjob["spec"]["schedule"] == "30 4 * * *"
        assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
        [container] = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["soma", "maintain"]
        assert {
            "name": "SOMA_DECAY_RULES",
            "value": '[{"after_seconds":86400,"drop":["scratch"]}]',
        } in container["env"]
        assert {
            "name": "encryption-keys",
            "mountPath": "/etc/soma/encryption",
            "readOnly": True,
        } in container["volumeMounts"]
        secret = key_secret(emulator)
        [owner] = secret["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"]) == ("MemorySystem", NAME)
        [key] = stored_keys(emulator).splitlines()
        assert len(key) == 44
        assert len(base64.urlsafe_b64decode(key)) == 32
        # kopf posts events in the background: they may follow the objects they report.
        created = [
            ("Created", f"Secret {NAME}-encryption with a new encryption key"),
            ("Created", f"CronJob {NAME}-maintenance"),
        ]
        await eventually(lambda: all(e in events(emulator) for e in created), "the events")
        assert condition(emulator, NAME, "MaintenanceSucceeded") == {}


async def test_the_key_is_never_regenerated_and_a_rotation_stays(emulator: ApiServerEmulator) -> None:
    async with running_operator(emulator):
        await ready_system(emulator, {"maintenance": MAINTENANCE, "encryption": ENCRYPTION})
        first = key_secret(emulator)["data"]["keys"]
        await patch_spec(emulator, NAME, {"maintenance": {"schedule": "0 5 * * *"}})
        await eventually(lambda: maintenance_schedule(emulator) == "0 5 * * *", "the new schedule applied")
        assert key_secret(emulator)["data"]["keys"] == first

        # The user rotates: a new key first, the old one kept to read what it encrypted.
        rotated = base64.b64encode(f"{ROTATED_KEY}\n{stored_keys(emulator)}".encode()).decode()
        emulator.objects[SECRETS, "default", f"{NAME}-encryption"].patch({"data": {"keys": rotated}})
        await patch_spec(
            emulator,
            NAME,
            {"maintenance": {"schedule": "0 6 * * *"}, "encryption": {"fields": ["email", "pin"]}},
        )
        await eventually(lambda: maintenance_schedule(emulator) == "0 6 * * *", "the next schedule applied")
        assert key_secret(emulator)["data"]["keys"] == rotated
        assert stored_keys(emulator).splitlines()[0] == ROTATED_KEY
        created = [
            e
            for e in events(emulator)
            if e == ("Created", f"Secret {NAME}-encryption with a new encryption key")
        ]
        assert len(created) == 1


async def test_a_keys_secret_ref_is_used_and_nothing_is_generated(emulator: ApiServerEmulator) -> None:
    keys = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "my-keys"}, "data": {"keys": "eA=="}}
    await request(emulator, "POST", "/api/v1/namespaces/default/secrets", keys)
    async with running_operator(emulator):
        await ready_system(emulator, {"encryption": {**ENCRYPTION, "keysSecretRef": {"name": "my-keys"}}})
        assert key_secret(emulator) == {}
        deployment = emulator.live(DEPLOYMENTS, "default", f"{NAME}-api") or {}
        volumes = deployment["spec"]["template"]["spec"]["volumes"]
        assert {
            "name": "encryption-keys",
            "secret": {
                "secretName": "my-keys",
                "items": [{"key": "keys", "path": "keys"}],
                "defaultMode": 0o440,
            },
        } in volumes


async def test_dropping_maintenance_deletes_the_cronjob(emulator: ApiServerEmulator) -> None:
    async with running_operator(emulator):
        await ready_system(emulator, {"maintenance": MAINTENANCE})
        await patch_spec(emulator, NAME, {"maintenance": None})
        await eventually(
            lambda: emulator.live(CRONJOBS, "default", f"{NAME}-maintenance") is None, "CronJob deleted"
        )
        await eventually(
            lambda: ("Deleted", f"CronJob {NAME}-maintenance") in events(emulator),
            "an event for the deletion",
        )


def finish_maintenance_job(emulator: ApiServerEmulator, job: str, outcome: str, at: str) -> None:
    """What the CronJob and Job controllers leave once a maintenance Job ended."""
    cronjob = emulator.live(CRONJOBS, "default", f"{NAME}-maintenance") or {}
    template = cronjob["spec"]["jobTemplate"]
    emulator.objects[JOBS, "default", job] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": job,
            "namespace": "default",
            "labels": template["metadata"]["labels"],
            "resourceVersion": "1",
        },
        "spec": template["spec"],
        "status": {"conditions": [{"type": outcome, "status": "True", "lastTransitionTime": at}]},
    }
    times = {"lastScheduleTime": "2026-11-27T04:30:00Z"}
    if outcome == "Complete":
        times["lastSuccessfulTime"] = at
    emulator.objects[CRONJOBS, "default", f"{NAME}-maintenance"].patch({"status": times})


async def test_maintenance_runs_reach_the_status_conditions_and_events(emulator: ApiServerEmulator) -> None:
    async with running_operator(emulator):
        await ready_system(emulator, {"maintenance": MAINTENANCE})
        finish_maintenance_job(emulator, f"{NAME}-maintenance-1", "Complete", "2026-11-27T04:31:00Z")
        await patch_spec(emulator, NAME, {"maintenance": {"suspend": True}})
        await eventually(
            lambda: "job" in system_status(emulator, NAME).get("lastMaintenance", {}), "reported"
        )
        assert system_status(emulator, NAME)["lastMaintenance"] == {
            "lastScheduleTime": "2026-11-27T04:30:00Z",
            "lastSuccessfulTime": "2026-11-27T04:31:00Z",
            "job": f"{NAME}-maintenance-1",
            "result": "Succeeded",
            "time": "2026-11-27T04:31:00Z",
            "message": "soma maintain completed",
        }
        done = condition(emulator, NAME, "MaintenanceSucceeded")
        assert (done["status"], done["reason"]) == ("True", "MaintenanceCompleted")
        message = f"Job {NAME}-maintenance-1: soma maintain completed"
        assert done["message"] == message
        await eventually(lambda: ("MaintenanceCompleted", message) in events(emulator), "an event")

        finish_maintenance_job(emulator, f"{NAME}-maintenance-2", "Failed", "2026-11-28T04:30:40Z")
        await patch_spec(emulator, NAME, {"maintenance": {"suspend": False}})
        await eventually(
            lambda: condition(emulator, NAME, "MaintenanceSucceeded").get("status") == "False", "the failure"
        )
        last = system_status(emulator, NAME)["lastMaintenance"]
        assert (last["job"], last["result"], last["message"]) == (f"{NAME}-maintenance-2", "Failed", "Failed")
        assert last["lastSuccessfulTime"] == "2026-11-27T04:31:00Z"
        assert condition(emulator, NAME, "MaintenanceSucceeded")["reason"] == "MaintenanceFailed"
        assert system_status(emulator, NAME)["phase"] == "Ready"


async def test_with_retain_the_generated_key_outlives_the_system_and_is_adopted_again(
    emulator: ApiServerEmulator,
) -> None:
    async with running_operator(emulator):
        await ready_system(emulator, {"encryption": ENCRYPTION})
        keys = key_secret(emulator)["data"]["keys"]
        await delete_system(emulator, NAME)
        await eventually(lambda: emulator.live(MEMORYSYSTEMS, "default", NAME) is None, "finalizer released")
        assert not key_secret(emulator)["metadata"].get("ownerReferences")
        retained = (
            "EncryptionKeyRetained",
            f"Secret {NAME}-encryption kept with the data: the encrypted fields need it",
        )
        await eventually(lambda: retained in events(emulator), "the event")

        await create_system(emulator, body({"encryption": ENCRYPTION}))
        await eventually(lambda: key_secret(emulator)["metadata"].get("ownerReferences"), "adopted again")
        new_uid = (emulator.live(MEMORYSYSTEMS, "default", NAME) or {})["metadata"]["uid"]
        assert key_secret(emulator)["metadata"]["ownerReferences"][0]["uid"] == new_uid
        assert key_secret(emulator)["data"]["keys"] == keys


async def test_with_delete_the_generated_key_goes_with_the_system(emulator: ApiServerEmulator) -> None:
    async with running_operator(emulator):
        await ready_system(emulator, {"encryption": ENCRYPTION, "storagePolicy": {"onDelete": "Delete"}})
        await delete_system(emulator, NAME)
        await eventually(lambda: emulator.live(MEMORYSYSTEMS, "default", NAME) is None, "finalizer released")
        # Still owned: the garbage collector (not run by the emulator) deletes it with its owner.
        [owner] = key_secret(emulator)["metadata"]["ownerReferences"]
        assert owner["name"] == NAME
