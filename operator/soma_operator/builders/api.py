"""The HTTP API: a Deployment behind the Service whose address is the MemorySystem's endpoint."""

from __future__ import annotations

from typing import Any

from soma_operator.builders import runtime
from soma_operator.builders.context import API_PORT, BuildContext
from soma_operator.builders.labels import metadata, selector_labels
from soma_operator.builders.pods import http_probe, resources
from soma_operator.builders.workloads import deployment, pod_template
from soma_operator.spec import Component


def endpoint(ctx: BuildContext) -> str:
    return f"http://{ctx.service_host(Component.API)}:{API_PORT}"


def build(ctx: BuildContext) -> list[dict[str, Any]]:
    spec = ctx.system.spec.api
    version = ctx.system.spec.version
    container = {
        **runtime.container(ctx, "api", ["soma", "serve", "--host", "0.0.0.0", "--port", str(API_PORT)]),  # noqa: S104
        "ports": [{"name": "http", "containerPort": API_PORT}],
        "resources": resources(spec.resources),
        "startupProbe": runtime.startup_probe("/healthz", API_PORT),
        "livenessProbe": http_probe("/healthz", API_PORT, period=10, failures=3),
        "readinessProbe": http_probe("/readyz", API_PORT, period=5, failures=2),
    }
    template = pod_template(
        ctx,
        Component.API,
        version,
        uid=runtime.RUNTIME_UID,
        containers=[container],
        volumes=runtime.volumes(ctx),
        annotations=runtime.pod_annotations(ctx),
        init_containers=runtime.model_wait(ctx),
    )
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": metadata(ctx, ctx.child_name(Component.API), Component.API, version),
        "spec": {
            "type": "ClusterIP",
            "selector": selector_labels(ctx, Component.API),
            "ports": [{"name": "http", "port": API_PORT, "targetPort": API_PORT, "protocol": "TCP"}],
        },
    }
    return [service, deployment(ctx, Component.API, template)]
