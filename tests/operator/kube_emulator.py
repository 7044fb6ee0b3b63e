"""kmock's Kubernetes emulator with the few API server behaviours the operator and kopf rely on.

kmock 0.8 stores objects as plain JSON and merges every write. A real API server also stamps
``resourceVersion``/``uid``/``creationTimestamp``/``generation`` (kopf checks resourceVersion),
creates an object on a server-side apply to a missing name, and filters lists by label selector.
``generateName`` is honoured too (kopf's Events use it). This subclass adds exactly those, minimally;
everything else is kmock's own behaviour.
"""

from __future__ import annotations

import copy
import datetime
import itertools
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

import aiohttp.web
import attrs
import kmock
from kmock._internal import dicts, enums, rendering

APPLY_CONTENT_TYPE = "application/apply-patch+yaml"

MEMORYSYSTEMS = kmock.resource("memory.soma.dev", "v1alpha1", "memorysystems")
SECRETS = kmock.resource("", "v1", "secrets")
CLAIMS = kmock.resource("", "v1", "persistentvolumeclaims")
STATEFULSETS = kmock.resource("apps", "v1", "statefulsets")
DEPLOYMENTS = kmock.resource("apps", "v1", "deployments")
EVENTS = kmock.resource("", "v1", "events")
CRONJOBS = kmock.resource("batch", "v1", "cronjobs")
JOBS = kmock.resource("batch", "v1", "jobs")
PODS = kmock.resource("", "v1", "pods")

DECLARED: Mapping[str, tuple[kmock.resource, str]] = {
    "MemorySystem": (MEMORYSYSTEMS, "memorysystem"),
    "Namespace": (kmock.resource("", "v1", "namespaces"), "namespace"),
    "Event": (EVENTS, "event"),
    "Secret": (SECRETS, "secret"),
    "ConfigMap": (kmock.resource("", "v1", "configmaps"), "configmap"),
    "ServiceAccount": (kmock.resource("", "v1", "serviceaccounts"), "serviceaccount"),
    "Service": (kmock.resource("", "v1", "services"), "service"),
    "PersistentVolumeClaim": (CLAIMS, "persistentvolumeclaim"),
    "StatefulSet": (STATEFULSETS, "statefulset"),
    "Deployment": (DEPLOYMENTS, "deployment"),
    "PodDisruptionBudget": (kmock.resource("policy", "v1", "poddisruptionbudgets"), "poddisruptionbudget"),
    "NetworkPolicy": (kmock.resource("networking.k8s.io", "v1", "networkpolicies"), "networkpolicy"),
    "CronJob": (CRONJOBS, "cronjob"),
    "Job": (JOBS, "job"),
    "Pod": (PODS, "pod"),
}
ALL_VERBS = {"get", "list", "watch", "create", "patch", "update", "delete"}


def _now() -> str:
    return datetime.datetime.now(tz=datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@attrs.define(kw_only=True)
class ApiServerEmulator(kmock.KubernetesEmulator):
    _versions: Iterator[int] = attrs.field(factory=lambda: itertools.count(1), init=False)

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        for kind, (resource, singular) in DECLARED.items():
            self.resources[resource] = kmock.ResourceInfo(
                kind=kind,
                singular=singular,
                namespaced=kind != "Namespace",
                verbs=ALL_VERBS,
                subresources={"status"} if kind == "MemorySystem" else set(),
            )

    def live(
        self, resource: kmock.resource, namespace: str | None, name: str | None
    ) -> dict[str, Any] | None:
        key = (resource, namespace, name)
        if key not in self.objects or self.objects[key].deleted:
            return None
        raw: dict[str, Any] = self.objects[key].raw
        return raw

    def all_live(self, resource: kmock.resource) -> list[dict[str, Any]]:
        return [obj.raw for (res, _, _), obj in self.objects.items() if res == resource and not obj.deleted]

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        if request.resource is not None and isinstance(request.data, dict):
            existing = (
                self.live(request.resource, request.namespace, request.name)
                if request.namespace is not None and request.name is not None
                else None
            )
            is_apply = request.headers.get("Content-Type", "").startswith(APPLY_CONTENT_TYPE)
            if request.action == enums.action.UPDATE and is_apply and existing is None:
                # Apply creates what is missing; the request then proceeds as a no-op patch of it.
                existing = await self._create_applied(request)
            elif request.action == enums.action.CREATE:
                self._stamp_created(request.data)
            elif request.action == enums.action.UPDATE and existing is not None:
                self._stamp_updated(request, existing)
        elif request.action == enums.action.DELETE and request.resource is not None and request.name:
            existing = self.live(request.resource, request.namespace or "", request.name)
            if existing is not None and existing["metadata"].get("finalizers"):
                # Marking for deletion is a write: it gets a new version like any other.
                key = (request.resource, request.namespace, request.name)
                self.objects[key].patch({"metadata": {"resourceVersion": str(next(self._versions))}})
        try:
            return await super()._handle(request)
        finally:
            # kmock keeps every request for assertions and matches each new one against all of them,
            # which grows quadratically over an operator's chatter; these tests assert on objects.
            self._requests.remove(request)

    async def _create_applied(self, request: rendering.Request) -> dict[str, Any]:
        assert request.resource is not None
        created = copy.deepcopy(request.data)
        self._stamp_created(created)
        async with self._lock:
            self.objects[request.resource, request.namespace, request.name] = created
            await self._buses[request.resource].put({"type": "ADDED", "object": created})
        return created

    def _stamp_created(self, data: dict[str, Any]) -> None:
        metadata = data.setdefault("metadata", {})
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = f"{metadata['generateName']}{uuid.uuid4().hex[:5]}"
        metadata.update(
            uid=str(uuid.uuid4()),
            resourceVersion=str(next(self._versions)),
            creationTimestamp=_now(),
            generation=1,
        )

    def _stamp_updated(self, request: rendering.Request, existing: dict[str, Any]) -> None:
        merged = dicts.patch_dict(existing, request.data)
        if merged == existing:
            return  # a write that changes nothing keeps the version, as the API server does
        metadata = request.data.setdefault("metadata", {})
        metadata["resourceVersion"] = str(next(self._versions))
        if request.subresource is None and merged.get("spec") != existing.get("spec"):
            metadata["generation"] = existing["metadata"].get("generation", 0) + 1

    # kmock finds an object by scanning all of them; a keyed lookup keeps big benchmarks fast.
    async def _serve_fetch(self, request: rendering.Request) -> rendering.Payload:
        live = self.live(request.resource, request.namespace, request.name) if request.resource else None
        if live is None:
            raise kmock.KubernetesObjectNotFoundError()
        return live

    async def _serve_update(self, request: rendering.Request) -> rendering.Payload:
        raw: dict[str, Any] = self.objects[request.resource, request.namespace, request.name].last.raw
        return raw

    async def _serve_list(self, request: rendering.Request) -> rendering.Payload:
        listing = await super()._serve_list(request)
        selector = request.params.get("labelSelector")
        if not selector or not isinstance(listing, dict):
            return listing
        wanted = dict(term.split("=", 1) for term in selector.split(","))
        items = [
            item
            for item in listing["items"]
            if wanted.items() <= (item.get("metadata", {}).get("labels") or {}).items()
        ]
        return {**listing, "items": items}
