"""Deployments, StatefulSets and Services, assembled the same way for every component."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from soma_operator.builders.context import BuildContext
from soma_operator.builders.labels import image_tag, instance_labels, labels, metadata, selector_labels
from soma_operator.builders.placement import anti_affinity, spread_constraints
from soma_operator.builders.pods import container_security_context, pod_security_context
from soma_operator.spec import DATA_STORES, Component, OnDelete

DATA_VOLUME = "data"


def pod_template(
    ctx: BuildContext,
    component: str,
    version: str,
    *,
    uid: int,
    containers: list[dict[str, Any]],
    volumes: list[dict[str, Any]],
    annotations: Mapping[str, str] | None = None,
    init_containers: list[dict[str, Any]] | None = None,
    termination_grace_seconds: int | None = None,
) -> dict[str, Any]:
    pod_metadata: dict[str, Any] = {"labels": labels(ctx, component, version)}
    if annotations:
        pod_metadata["annotations"] = dict(annotations)
    spec: dict[str, Any] = {
        "serviceAccountName": ctx.service_account_name,
        "automountServiceAccountToken": False,
        "securityContext": pod_security_context(uid),
    }
    if termination_grace_seconds is not None:
        spec["terminationGracePeriodSeconds"] = termination_grace_seconds
    selector = selector_labels(ctx, component)
    spec["topologySpreadConstraints"] = spread_constraints(selector)
    if component in DATA_STORES:
        spec["affinity"] = anti_affinity(selector)
    if init_containers:
        spec["initContainers"] = _secured(init_containers)
    spec["containers"] = _secured(containers)
    spec["volumes"] = volumes
    return {"metadata": pod_metadata, "spec": spec}


def _secured(containers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**c, "securityContext": container_security_context()} for c in containers]


def deployment(ctx: BuildContext, component: Component, template: dict[str, Any]) -> dict[str, Any]:
    version = ctx.system.spec.version
    spec: dict[str, Any] = {}
    # An autoscaler owns the replicas: applying them too would fight it (reconcile hands the field over).
    if not ctx.autoscaled(component):
        spec["replicas"] = ctx.system.spec.workload_replicas()[component]
    spec.update(
        {
            "selector": {"matchLabels": selector_labels(ctx, component)},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}},
            "template": template,
        }
    )
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": metadata(ctx, ctx.child_name(component), component, version),
        "spec": spec,
    }


def headless_service_name(ctx: BuildContext, component: Component) -> str:
    return f"{ctx.child_name(component)}-headless"


def statefulset(
    ctx: BuildContext,
    component: Component,
    image: str,
    template: dict[str, Any],
) -> dict[str, Any]:
    store = ctx.system.spec.data_store(component)
    on_delete = ctx.system.spec.storage_policy.on_delete
    claim_size = ctx.claim_template_sizes.get(component, store.storage.size)
    claim_spec: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": claim_size}},
    }
    if store.storage.storage_class_name:
        claim_spec["storageClassName"] = store.storage.storage_class_name
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": metadata(ctx, ctx.child_name(component), component, image_tag(image)),
        "spec": {
            "replicas": ctx.system.spec.workload_replicas()[component],
            "serviceName": headless_service_name(ctx, component),
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": selector_labels(ctx, component)},
            "persistentVolumeClaimRetentionPolicy": {
                "whenDeleted": "Delete" if on_delete is OnDelete.DELETE else "Retain",
                "whenScaled": "Retain",
            },
            "template": template,
            "volumeClaimTemplates": [
                {
                    # The claims outlive the StatefulSet's labels when retained: label them for cleanup.
                    "metadata": {
                        "name": DATA_VOLUME,
                        "labels": {**instance_labels(ctx.name), **selector_labels(ctx, component)},
                    },
                    "spec": claim_spec,
                }
            ],
        },
    }


def claim_name(ctx: BuildContext, component: Component, ordinal: int) -> str:
    """The StatefulSet controller's name for a claim: TEMPLATE-STATEFULSET-ORDINAL."""
    return f"{DATA_VOLUME}-{ctx.child_name(component)}-{ordinal}"


def services(
    ctx: BuildContext,
    component: Component,
    version: str,
    ports: Mapping[str, int],
    client_ports: Mapping[str, int],
) -> list[dict[str, Any]]:
    """The headless Service that names the pods and the client Service the runtime connects to."""

    def service(name: str, spec: dict[str, Any], exposed: Mapping[str, int]) -> dict[str, Any]:
        return {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": metadata(ctx, name, component, version),
            "spec": {
                **spec,
                "selector": selector_labels(ctx, component),
                "ports": [
                    {"name": port_name, "port": port, "targetPort": port, "protocol": "TCP"}
                    for port_name, port in exposed.items()
                ],
            },
        }

    return [
        service(
            headless_service_name(ctx, component),
            {"clusterIP": "None", "publishNotReadyAddresses": True},
            ports,
        ),
        service(ctx.child_name(component), {"type": "ClusterIP"}, client_ports),
    ]
