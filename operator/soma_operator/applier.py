"""Apply rendered manifests and tell which ones changed, so every change becomes an event."""

from __future__ import annotations

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


async def apply_all(client: KubeClient, manifests: Sequence[Mapping[str, Any]]) -> list[Applied]:
    """Apply in order. A server-side apply that changes nothing keeps the resourceVersion."""
    results = []
    for manifest in manifests:
        kind, metadata = manifest["kind"], manifest["metadata"]
        before = await client.get(kind, metadata["namespace"], metadata["name"])
        live = await client.apply(manifest)
        if before is None:
            change = Change.CREATED
        elif before["metadata"].get("resourceVersion") != live["metadata"].get("resourceVersion"):
            change = Change.UPDATED
        else:
            change = Change.UNCHANGED
        results.append(Applied(kind=kind, name=metadata["name"], change=change, live=live))
    return results
