"""Redpanda: the Kafka-protocol event bus of evented mode."""

from __future__ import annotations

from typing import Any

from soma_operator.builders.context import KAFKA_PORT, REDPANDA_ADMIN_PORT, REDPANDA_RPC_PORT, BuildContext
from soma_operator.builders.labels import image_tag
from soma_operator.builders.pods import empty_dir, http_probe, mount, resources
from soma_operator.builders.workloads import (
    DATA_VOLUME,
    headless_service_name,
    pod_template,
    services,
    statefulset,
)
from soma_operator.quantity import storage_bytes
from soma_operator.spec import Component

REDPANDA_UID = 101  # the redpanda user of the official image
DEFAULT_MEMORY_MIB = 1024
# Seastar needs headroom above its own allocation inside the container's memory limit.
MEMORY_LIMIT_SHARE = 0.8


def build(ctx: BuildContext) -> list[dict[str, Any]]:
    spec = ctx.system.spec.redpanda
    if Component.REDPANDA not in ctx.system.spec.provisioned_data_stores():
        return []
    image = ctx.config.redpanda_image
    name = ctx.child_name(Component.REDPANDA)
    peers = f"{headless_service_name(ctx, Component.REDPANDA)}.{ctx.namespace}.svc"
    seeds = ",".join(f"{name}-{ordinal}.{peers}:{REDPANDA_RPC_PORT}" for ordinal in range(spec.replicas))
    container = {
        "name": "redpanda",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["rpk", "redpanda", "start"],
        "args": [
            "--overprovisioned",
            "--smp=1",
            f"--memory={_memory_mib(spec.resources.limits.memory)}M",
            "--reserve-memory=0M",
            "--default-log-level=info",
            f"--kafka-addr=internal://0.0.0.0:{KAFKA_PORT}",
            f"--advertise-kafka-addr=internal://$(POD_NAME).{peers}:{KAFKA_PORT}",
            f"--rpc-addr=0.0.0.0:{REDPANDA_RPC_PORT}",
            f"--advertise-rpc-addr=$(POD_NAME).{peers}:{REDPANDA_RPC_PORT}",
            f"--seeds={seeds}",
            "--set=redpanda.auto_create_topics_enabled=true",
            f"--set=redpanda.default_topic_partitions={spec.partitions}",
            f"--set=redpanda.default_topic_replications={min(spec.replicas, 3)}",
        ],
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "ports": [
            {"name": "kafka", "containerPort": KAFKA_PORT},
            {"name": "rpc", "containerPort": REDPANDA_RPC_PORT},
            {"name": "admin", "containerPort": REDPANDA_ADMIN_PORT},
        ],
        "resources": resources(spec.resources),
        "livenessProbe": http_probe("/v1/status/ready", REDPANDA_ADMIN_PORT, period=20, failures=6),
        "readinessProbe": http_probe("/v1/status/ready", REDPANDA_ADMIN_PORT, period=5, failures=3),
        "volumeMounts": [
            mount(DATA_VOLUME, "/var/lib/redpanda/data"),
            # rpk writes the effective configuration here at start.
            mount("config", "/etc/redpanda"),
            mount("tmp", "/tmp"),  # noqa: S108
        ],
    }
    template = pod_template(
        ctx,
        Component.REDPANDA,
        image_tag(image),
        uid=REDPANDA_UID,
        containers=[container],
        volumes=[empty_dir("config"), empty_dir("tmp")],
    )
    return [
        *services(
            ctx,
            Component.REDPANDA,
            image_tag(image),
            {"kafka": KAFKA_PORT, "rpc": REDPANDA_RPC_PORT, "admin": REDPANDA_ADMIN_PORT},
            {"kafka": KAFKA_PORT},
        ),
        statefulset(ctx, Component.REDPANDA, image, template),
    ]


def _memory_mib(limit: str | None) -> int:
    if limit is None:
        return DEFAULT_MEMORY_MIB
    return int(storage_bytes(limit) * MEMORY_LIMIT_SHARE) // 2**20
