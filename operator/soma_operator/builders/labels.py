"""Labels and ownership shared by every child."""

from __future__ import annotations

from typing import Any

from soma_operator.builders.context import BuildContext
from soma_operator.constants import API_VERSION, KIND, MANAGED_BY, PART_OF

NAME_LABEL = "app.kubernetes.io/name"
INSTANCE_LABEL = "app.kubernetes.io/instance"
COMPONENT_LABEL = "app.kubernetes.io/component"
PART_OF_LABEL = "app.kubernetes.io/part-of"
MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
VERSION_LABEL = "app.kubernetes.io/version"


def instance_labels(system_name: str) -> dict[str, str]:
    """The labels every child of one MemorySystem carries, and nothing else does."""
    return {INSTANCE_LABEL: system_name, MANAGED_BY_LABEL: MANAGED_BY}


def selector_labels(ctx: BuildContext, component: str) -> dict[str, str]:
    """Stable labels for selectors: never the version, selectors are immutable."""
    return {NAME_LABEL: PART_OF, INSTANCE_LABEL: ctx.name, COMPONENT_LABEL: str(component)}


def labels(ctx: BuildContext, component: str, version: str) -> dict[str, str]:
    return {
        **selector_labels(ctx, component),
        PART_OF_LABEL: PART_OF,
        MANAGED_BY_LABEL: MANAGED_BY,
        VERSION_LABEL: version,
    }


def owner_reference(ctx: BuildContext) -> dict[str, Any]:
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "name": ctx.name,
        "uid": ctx.system.uid,
        "controller": True,
        "blockOwnerDeletion": True,
    }


def metadata(ctx: BuildContext, name: str, component: str, version: str) -> dict[str, Any]:
    return {
        "name": name,
        "namespace": ctx.namespace,
        "labels": labels(ctx, component, version),
        "ownerReferences": [owner_reference(ctx)],
    }


def image_tag(image: str) -> str:
    """The tag of an image reference, used as the version label of the component running it."""
    name = image.rsplit("/", 1)[-1]
    return name.rsplit(":", 1)[1] if ":" in name else "latest"
