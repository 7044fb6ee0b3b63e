"""Pure builders: a MemorySystem in, every manifest the operator applies out. No I/O here."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from soma_operator.builders import (
    api,
    autoscaling,
    backup,
    configmap,
    consumers,
    maintenance,
    models,
    networkpolicy,
    pdb,
    postgres,
    qdrant,
    redis,
    redpanda,
    secrets,
    serviceaccount,
)
from soma_operator.builders.context import BuildContext, Capabilities, Credentials

Manifest = dict[str, Any]
Builder = Callable[[BuildContext], list[Manifest]]

# In apply order: what a workload refers to exists before the workload.
BUILDERS: tuple[Builder, ...] = (
    secrets.build,
    configmap.build,
    serviceaccount.build,
    models.build,
    postgres.build,
    redis.build,
    qdrant.build,
    redpanda.build,
    api.build,
    consumers.build,
    backup.build,
    maintenance.build,
    autoscaling.build,
    pdb.build,
    networkpolicy.build,
)


def render(ctx: BuildContext) -> list[Manifest]:
    return [manifest for build in BUILDERS for manifest in build(ctx)]


__all__ = ["BUILDERS", "BuildContext", "Builder", "Capabilities", "Credentials", "Manifest", "render"]
