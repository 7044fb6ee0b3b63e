"""PodDisruptionBudgets: a node drain never takes more pods than the component can lose and keep serving.

A replicated data store may lose as many pods as its replication tolerates (spec.py
``tolerated_disruptions``): Qdrant as many as leave every shard its write consistency factor of copies,
Redpanda as many as leave every partition its Raft majority. Stateless workloads lose one pod at a time.
CloudNativePG keeps its own budgets for its instances (``enablePDB``).
"""

from __future__ import annotations

from typing import Any

from soma_operator.builders.context import BuildContext
from soma_operator.builders.labels import metadata, selector_labels
from soma_operator.spec import Component, MemorySystemSpec


def max_unavailable(spec: MemorySystemSpec, component: Component) -> int:
    if component is Component.QDRANT:
        return spec.qdrant.tolerated_disruptions
    if component is Component.REDPANDA:
        # Two brokers keep one copy of each partition (Raft wants an odd count): no drain is safe, so the
        # budget allows none. Use one broker, or three and more.
        return spec.redpanda.tolerated_disruptions
    return 1


def budgeted(spec: MemorySystemSpec) -> dict[Component, int]:
    """The components that get a budget, with the pods a drain may take at once."""
    workloads = spec.workload_replicas()
    if spec.postgres.cloudnative_pg:
        workloads.pop(Component.POSTGRES, None)
    # A single-replica workload gets none: a budget of zero disruptions would block every node drain.
    return {c: max_unavailable(spec, c) for c, replicas in workloads.items() if replicas > 1}


def build(ctx: BuildContext) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": metadata(ctx, ctx.child_name(component), component, ctx.system.spec.version),
            "spec": {
                "maxUnavailable": unavailable,
                "selector": {"matchLabels": selector_labels(ctx, component)},
            },
        }
        for component, unavailable in budgeted(ctx.system.spec).items()
    ]
