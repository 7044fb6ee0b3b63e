"""NetworkPolicies: only the runtime's pods (API, consumers, backup, restore and maintenance) reach a data
store; store peers reach each other."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from soma_operator.builders import backup, maintenance, restore
from soma_operator.builders.context import (
    KAFKA_PORT,
    POSTGRES_PORT,
    QDRANT_GRPC_PORT,
    QDRANT_HTTP_PORT,
    QDRANT_P2P_PORT,
    REDIS_PORT,
    REDPANDA_ADMIN_PORT,
    REDPANDA_RPC_PORT,
    BuildContext,
)
from soma_operator.builders.labels import metadata, selector_labels
from soma_operator.spec import Component

CLIENT_PORTS: Mapping[Component, tuple[int, ...]] = {
    Component.POSTGRES: (POSTGRES_PORT,),
    Component.REDIS: (REDIS_PORT,),
    Component.QDRANT: (QDRANT_HTTP_PORT, QDRANT_GRPC_PORT),
    Component.REDPANDA: (KAFKA_PORT,),
}
PEER_PORTS: Mapping[Component, tuple[int, ...]] = {
    Component.QDRANT: (QDRANT_P2P_PORT,),
    Component.REDPANDA: (KAFKA_PORT, REDPANDA_RPC_PORT, REDPANDA_ADMIN_PORT),
}


def _ports(numbers: tuple[int, ...]) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": number} for number in numbers]


def build(ctx: BuildContext) -> list[dict[str, Any]]:
    # The runtime's pods: the API, the consumers and the pods of the Jobs the spec asks for.
    runtime_components = [str(Component.API), str(Component.CONSUMERS)]
    if ctx.system.spec.backup is not None:
        runtime_components.append(backup.COMPONENT)
    if ctx.system.spec.restore is not None:
        runtime_components.append(restore.COMPONENT)
    if ctx.system.spec.maintenance is not None:
        runtime_components.append(maintenance.COMPONENT)
    clients = [
        {"podSelector": {"matchLabels": selector_labels(ctx, component)}} for component in runtime_components
    ]
    policies = []
    # CloudNativePG's instances talk to each other and to its operator (status port 8000): its pods are
    # not ours to fence; its documentation describes the policies it needs.
    for store in ctx.system.spec.statefulset_data_stores():
        ingress = [{"from": clients, "ports": _ports(CLIENT_PORTS[store])}]
        if store in PEER_PORTS:
            peers = [{"podSelector": {"matchLabels": selector_labels(ctx, store)}}]
            ingress.append({"from": peers, "ports": _ports(PEER_PORTS[store])})
        policies.append(
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": metadata(ctx, ctx.child_name(store), store, ctx.system.spec.version),
                "spec": {
                    "podSelector": {"matchLabels": selector_labels(ctx, store)},
                    "policyTypes": ["Ingress"],
                    "ingress": ingress,
                },
            }
        )
    return policies
