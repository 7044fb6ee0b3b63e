"""Run the real operator (its kopf handlers, unchanged) against the emulator, and watch what it does."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, TypeVar

import kopf
from kube_emulator import CLAIMS, DEPLOYMENTS, MEMORYSYSTEMS, STATEFULSETS, ApiServerEmulator

import soma_operator.handlers  # noqa: F401  registers the operator's handlers in kopf's default registry
from soma_operator.builders.labels import INSTANCE_LABEL
from soma_operator.config import OperatorConfig

T = TypeVar("T")
MEMORYSYSTEMS_URL = "/apis/memory.soma.dev/v1alpha1/namespaces/{namespace}/memorysystems"


@kopf.on.login()
def login_to_the_emulator(memo: kopf.Memo, **_: Any) -> kopf.ConnectionInfo:
    return kopf.ConnectionInfo(server=memo["emulator_url"])


@contextlib.asynccontextmanager
async def running_operator(
    emulator: ApiServerEmulator, recheck_seconds: float = 0.2, namespaces: Sequence[str] = ()
) -> AsyncIterator[None]:
    """The operator, as `soma-operator run --all-namespaces` (or `--namespace NS ...`) runs it, in a thread
    with its own event loop.

    Its own loop, as in production its own process: kopf treats every task born in its loop after its
    start as its own, and would otherwise wait for the emulator's never-ending watch responses on exit.
    """
    ready, stop = threading.Event(), threading.Event()
    memo = kopf.Memo(
        emulator_url=str(emulator.servers[0].url),
        config=OperatorConfig(readiness_recheck_seconds=recheck_seconds),
    )
    settings = kopf.OperatorSettings()
    # A test stops the operator right after its last check: per-object workers that kopf keeps idle for
    # a while would make every stop wait for them.
    settings.queueing.idle_timeout = 0.5
    operator = kopf.operator(
        settings=settings,
        clusterwide=not namespaces,
        namespaces=namespaces,
        standalone=True,
        memo=memo,
        ready_flag=ready,
        stop_flag=stop,
    )
    thread = threading.Thread(target=asyncio.run, args=(operator,), name="soma-operator")
    thread.start()
    try:
        if not await asyncio.to_thread(ready.wait, 10):
            raise AssertionError("the operator did not start within 10 s")
        yield
    finally:
        stop.set()
        await asyncio.to_thread(thread.join, 10)


async def eventually(check: Callable[[], T], what: str, timeout: float = 10.0) -> T:
    """Poll the emulator's state until `check` returns something truthy; fail after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (value := check()):
        if loop.time() > deadline:
            raise AssertionError(f"not reached within {timeout} s: {what}")
        await asyncio.sleep(0.05)
    return value


async def request(
    emulator: ApiServerEmulator,
    method: str,
    url: str,
    body: Any = None,
    content_type: str = "application/json",
) -> dict[str, Any]:
    async with emulator.request(method, url, json=body, headers={"Content-Type": content_type}) as response:
        result: dict[str, Any] = await response.json()
        if response.status >= 400:
            raise AssertionError(f"{method} {url} -> {response.status}: {result}")
        return result


async def create_system(emulator: ApiServerEmulator, body: dict[str, Any]) -> dict[str, Any]:
    namespace = body["metadata"].setdefault("namespace", "default")
    return await request(emulator, "POST", MEMORYSYSTEMS_URL.format(namespace=namespace), body)


async def patch_spec(
    emulator: ApiServerEmulator, name: str, spec: dict[str, Any], namespace: str = "default"
) -> None:
    url = f"{MEMORYSYSTEMS_URL.format(namespace=namespace)}/{name}"
    await request(emulator, "PATCH", url, {"spec": spec}, "application/merge-patch+json")


async def delete_system(emulator: ApiServerEmulator, name: str, namespace: str = "default") -> None:
    await request(emulator, "DELETE", f"{MEMORYSYSTEMS_URL.format(namespace=namespace)}/{name}")


def system_status(emulator: ApiServerEmulator, name: str, namespace: str = "default") -> dict[str, Any]:
    live = emulator.live(MEMORYSYSTEMS, namespace, name) or {}
    status: dict[str, Any] = live.get("status") or {}
    return status


def condition(emulator: ApiServerEmulator, name: str, kind: str) -> dict[str, Any]:
    for entry in system_status(emulator, name).get("conditions", []):
        if entry["type"] == kind:
            found: dict[str, Any] = entry
            return found
    return {}


def workloads_of(emulator: ApiServerEmulator, name: str) -> list[dict[str, Any]]:
    return [
        workload
        for resource in (STATEFULSETS, DEPLOYMENTS)
        for workload in emulator.all_live(resource)
        if workload["metadata"]["labels"].get(INSTANCE_LABEL) == name
    ]


def act_as_workload_controllers(emulator: ApiServerEmulator, name: str) -> None:
    """What the StatefulSet and Deployment controllers would report once every pod is up to date and ready."""
    for workload in workloads_of(emulator, name):
        replicas = workload["spec"]["replicas"]
        status = {
            "observedGeneration": workload["metadata"]["generation"],
            "replicas": replicas,
            "updatedReplicas": replicas,
            "readyReplicas": replicas,
        }
        resource = STATEFULSETS if workload["kind"] == "StatefulSet" else DEPLOYMENTS
        emulator.objects[resource, workload["metadata"]["namespace"], workload["metadata"]["name"]].patch(
            {"status": status}
        )


def act_as_claim_controller(emulator: ApiServerEmulator, name: str) -> list[str]:
    """Create the claims a StatefulSet controller creates from the claim templates, bound at full size."""
    created = []
    for workload in workloads_of(emulator, name):
        for template in workload["spec"].get("volumeClaimTemplates", []):
            for ordinal in range(workload["spec"]["replicas"]):
                claim_name = f"{template['metadata']['name']}-{workload['metadata']['name']}-{ordinal}"
                size = template["spec"]["resources"]["requests"]["storage"]
                emulator.objects[CLAIMS, workload["metadata"]["namespace"], claim_name] = {
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {
                        "name": claim_name,
                        "namespace": workload["metadata"]["namespace"],
                        "labels": template["metadata"]["labels"],
                        "resourceVersion": "1",
                    },
                    "spec": template["spec"],
                    "status": {"phase": "Bound", "capacity": {"storage": size}},
                }
                created.append(claim_name)
    return created


def act_as_volume_expander(emulator: ApiServerEmulator) -> None:
    """What a storage driver does once a claim's request grew: the capacity follows."""
    for claim in emulator.all_live(CLAIMS):
        requested = claim["spec"]["resources"]["requests"]["storage"]
        key = (CLAIMS, claim["metadata"]["namespace"], claim["metadata"]["name"])
        emulator.objects[key].patch({"status": {"capacity": {"storage": requested}}})
