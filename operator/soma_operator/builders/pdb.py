"""PodDisruptionBudgets: a node drain takes at most one pod of a replicated workload at a time."""

from __future__ import annotations

from typing import Any

from soma_operator.builders.context import BuildContext
from soma_operator.builders.labels import metadata, selector_labels


def build(ctx: BuildContext) -> list[dict[str, Any]]:
    # A single-replica workload gets none: a budget of zero disruptions would block every node drain.
    return [
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": metadata(ctx, ctx.child_name(component), component, ctx.system.spec.version),
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": selector_labels(ctx, component)}},
        }
        for component, replicas in ctx.system.spec.workload_replicas().items()
        if replicas > 1
    ]
