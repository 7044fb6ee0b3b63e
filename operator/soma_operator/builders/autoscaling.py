"""Autoscalers: a HorizontalPodAutoscaler for the API (CPU), KEDA's ScaledObject for the consumers (lag).

Where an autoscaler runs, the Deployment is applied without ``replicas`` (workloads.deployment), so the
operator never undoes what the autoscaler decided.
"""

from __future__ import annotations

from typing import Any

from soma_operator.builders.context import KAFKA_PORT, BuildContext
from soma_operator.builders.labels import metadata
from soma_operator.spec import Component

HPA_API_VERSION = "autoscaling/v2"
# KEDA's ScaledObject (kedacore/keda v2.20.2 apis/keda/v1alpha1/scaledobject_types.go); discovery of this
# group and version says KEDA is installed.
KEDA_API_VERSION = "keda.sh/v1alpha1"
KEDA_PLURAL = "scaledobjects"
# What the runtime's ConfigMap names (builders/runtime.py config_data), so the trigger watches the real lag.
TOPIC = "soma.memories"
CONSUMER_GROUP = "soma-indexer"
BOOTSTRAP_ENV = "KAFKA_BOOTSTRAP_SERVERS"
# The consumers start from the earliest offset when their group has none (events/kafka_config.py): the lag
# KEDA computes must too (pkg/scalers/kafka_scaler.go offsetResetPolicy, default "latest").
OFFSET_RESET_POLICY = "earliest"


def _target(ctx: BuildContext, component: Component) -> dict[str, str]:
    return {"apiVersion": "apps/v1", "kind": "Deployment", "name": ctx.child_name(component)}


def api_autoscaler(ctx: BuildContext) -> list[dict[str, Any]]:
    autoscaling = ctx.system.spec.api.autoscaling
    if autoscaling is None:
        return []
    return [
        {
            "apiVersion": HPA_API_VERSION,
            "kind": "HorizontalPodAutoscaler",
            "metadata": metadata(ctx, ctx.child_name(Component.API), Component.API, ctx.system.spec.version),
            "spec": {
                "scaleTargetRef": _target(ctx, Component.API),
                "minReplicas": autoscaling.min_replicas,
                "maxReplicas": autoscaling.max_replicas,
                "metrics": [
                    {
                        "type": "Resource",
                        "resource": {
                            "name": "cpu",
                            "target": {
                                "type": "Utilization",
                                "averageUtilization": autoscaling.target_cpu_utilization,
                            },
                        },
                    }
                ],
            },
        }
    ]


def kafka_trigger(ctx: BuildContext, lag_threshold: int) -> dict[str, Any]:
    """KEDA's kafka scaler: lag of the consumer group on the memories topic, per replica."""
    spec = ctx.system.spec
    trigger: dict[str, str] = {}
    if spec.redpanda.provisioned:
        trigger["bootstrapServers"] = f"{ctx.service_host(Component.REDPANDA)}:{KAFKA_PORT}"
    else:  # the address is in the user's Secret: KEDA reads it from the consumer container's env
        trigger["bootstrapServersFromEnv"] = BOOTSTRAP_ENV
    trigger.update(
        {
            "consumerGroup": CONSUMER_GROUP,
            "topic": TOPIC,
            "lagThreshold": str(lag_threshold),
            "offsetResetPolicy": OFFSET_RESET_POLICY,
        }
    )
    return {"type": "kafka", "metadata": trigger}


def max_consumers(ctx: BuildContext, wanted: int) -> int:
    """A consumer beyond the partition count would idle: its group gives it no partition."""
    redpanda = ctx.system.spec.redpanda
    return min(wanted, redpanda.partitions) if redpanda.provisioned else wanted


def consumer_autoscaler(ctx: BuildContext) -> list[dict[str, Any]]:
    autoscaling = ctx.system.spec.consumers.autoscaling
    if autoscaling is None or not ctx.autoscaled(Component.CONSUMERS):
        return []
    component = Component.CONSUMERS
    return [
        {
            "apiVersion": KEDA_API_VERSION,
            "kind": "ScaledObject",
            "metadata": metadata(ctx, ctx.child_name(component), component, ctx.system.spec.version),
            "spec": {
                "scaleTargetRef": _target(ctx, component),
                "minReplicaCount": autoscaling.min_replicas,
                "maxReplicaCount": max_consumers(ctx, autoscaling.max_replicas),
                "triggers": [kafka_trigger(ctx, autoscaling.lag_threshold)],
            },
        }
    ]


def build(ctx: BuildContext) -> list[dict[str, Any]]:
    return [*api_autoscaler(ctx), *consumer_autoscaler(ctx)]
