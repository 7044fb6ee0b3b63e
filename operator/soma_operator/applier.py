"""Apply rendered manifests and tell which ones changed, so every change becomes an event."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from soma_operator.kube import KubeClient


class Change(enum.StrEnum):
    CREATED = "Created"
    UPDATED = "Updated"
    UNCHANGED = "Unchanged"


@dataclass(frozen=True)
class Applied:
    kind: str
    name: str
    change: Change
    live: Mapping[str, Any]  # the object as the server answered the apply, status included


# What pods refer to by name: applied first, so no pod ever starts before its Secret or ConfigMap.
REFERENCED_KINDS = frozenset({"Secret", "ConfigMap", "ServiceAccount"})


async def apply_one(client: KubeClient, manifest: Mapping[str, Any]) -> Applied:
    """Server-side apply; a change is told by the resourceVersion, which a no-op apply keeps."""
    kind, metadata = manifest["kind"], manifest["metadata"]
    before = await client.get(kind, metadata["namespace"], metadata["name"])
    live = await client.apply(manifest)
    if before is None:
        change = Change.CREATED
    elif before["metadata"].get("resourceVersion") != live["metadata"].get("resourceVersion"):
        change = Change.UPDATED
    else:
        change = Change.UNCHANGED
    return Applied(kind=kind, name=metadata["name"], change=change, live=live)


async def apply_all(client: KubeClient, manifests: Sequence[Mapping[str, Any]]) -> list[Applied]:
    """Apply in two concurrent waves: the referenced objects, then the rest. Results keep the input order."""
    referenced = [m for m in manifests if m["kind"] in REFERENCED_KINDS]
    others = [m for m in manifests if m["kind"] not in REFERENCED_KINDS]
    applied = await asyncio.gather(*(apply_one(client, m) for m in referenced))
    applied += await asyncio.gather(*(apply_one(client, m) for m in others))
    by_identity = {(a.kind, a.name): a for a in applied}
    return [by_identity[m["kind"], m["metadata"]["name"]] for m in manifests]
