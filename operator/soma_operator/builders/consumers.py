"""The event consumers of evented mode: they index what the API publishes."""

from __future__ import annotations

from typing import Any

from soma_operator.builders import runtime
from soma_operator.builders.context import CONSUMER_HEALTH_PORT, BuildContext
from soma_operator.builders.pods import http_probe, resources, value_env
from soma_operator.builders.workloads import deployment, pod_template
from soma_operator.spec import Component


def build(ctx: BuildContext) -> list[dict[str, Any]]:
    if not ctx.system.spec.runs_consumers():
        return []
    spec = ctx.system.spec.consumers
    shared = runtime.container(ctx, "consumer", ["soma", "consume"])
    container = {
        **shared,
        # soma consume serves /healthz and /metrics on loopback by default; probes come from the node.
        "env": [
            *shared["env"],
            value_env("SOMA_CONSUMER_METRICS_HOST", "0.0.0.0"),  # noqa: S104 - the pod's own network namespace
            value_env("SOMA_CONSUMER_METRICS_PORT", str(CONSUMER_HEALTH_PORT)),
        ],
        "ports": [{"name": "metrics", "containerPort": CONSUMER_HEALTH_PORT}],
        "resources": resources(spec.resources),
        "startupProbe": runtime.startup_probe("/healthz", CONSUMER_HEALTH_PORT),
        "livenessProbe": http_probe("/healthz", CONSUMER_HEALTH_PORT, period=10, failures=3),
        "readinessProbe": http_probe("/healthz", CONSUMER_HEALTH_PORT, period=5, failures=2),
    }
    template = pod_template(
        ctx,
        Component.CONSUMERS,
        ctx.system.spec.version,
        uid=runtime.RUNTIME_UID,
        containers=[container],
        volumes=runtime.volumes(ctx),
        annotations=runtime.pod_annotations(ctx),
        init_containers=runtime.model_wait(ctx),
    )
    return [deployment(ctx, Component.CONSUMERS, template)]
