"""Redpanda: the Kafka-protocol event bus of evented mode.

Configured the way redpanda-data/helm-charts charts/redpanda runs it: a ConfigMap holds ``redpanda.yaml``
(node configuration, production mode) and ``.bootstrap.yaml`` (cluster properties for the first start); an
init container copies both into the writable ``/etc/redpanda``, where ``rpk redpanda start`` reads them
and writes back the effective file. Without a ``redpanda.yaml`` rpk falls back to developer mode
(redpanda src/go/rpk/pkg/config/redpanda_yaml.go DevDefault), which bypasses fsync.
"""

from __future__ import annotations

from typing import Any

import yaml

from soma_operator.builders.context import KAFKA_PORT, REDPANDA_ADMIN_PORT, REDPANDA_RPC_PORT, BuildContext
from soma_operator.builders.labels import image_tag, metadata
from soma_operator.builders.pods import checksum_annotation, empty_dir, http_probe, mount, resources
from soma_operator.builders.workloads import (
    DATA_VOLUME,
    headless_service_name,
    pod_template,
    services,
    statefulset,
)
from soma_operator.quantity import storage_bytes
from soma_operator.spec import Component, Resources

REDPANDA_UID = 101  # the redpanda user of the official image
DATA_DIR = "/var/lib/redpanda/data"
CONFIG_DIR = "/etc/redpanda"
# Where the init container sees the ConfigMap (charts/redpanda mounts its base-config there too).
BASE_CONFIG_DIR = "/tmp/base-config"  # noqa: S108
NODE_CONFIG = "redpanda.yaml"
# Read by redpanda next to redpanda.yaml at the cluster's first start (src/v/cluster/config_manager.cc).
BOOTSTRAP_CONFIG = ".bootstrap.yaml"
LISTENER = "internal"
# --memory is this share of the container's memory request (else its limit), --reserve-memory 0:
# charts/redpanda values.yaml "resources" and templates/_values.go.tpl RedpandaResources.memory.
MEMORY_REQUEST_SHARE = 0.9
DEFAULT_MEMORY_MIB = 1024
# charts/redpanda values.yaml statefulset.terminationGracePeriodSeconds: time to hand partition
# leadership over and stop cleanly.
TERMINATION_GRACE_SECONDS = 90
# charts/redpanda values.yaml statefulset.startupProbe: periodSeconds 10, failureThreshold 120.
STARTUP_PERIOD_SECONDS = 10
STARTUP_FAILURES = 120
# charts/redpanda values.yaml config.node.crash_loop_limit.
CRASH_LOOP_LIMIT = 5


def config_map_name(ctx: BuildContext) -> str:
    return ctx.child_name(Component.REDPANDA)


def peers_domain(ctx: BuildContext) -> str:
    return f"{headless_service_name(ctx, Component.REDPANDA)}.{ctx.namespace}.svc"


def node_config(ctx: BuildContext) -> dict[str, Any]:
    """redpanda.yaml: what every broker shares. No pandaproxy or schema_registry section, so neither
    listener starts (redpanda src/v/redpanda/application.cc starts each only when its section exists)."""
    spec = ctx.system.spec.redpanda
    name = ctx.child_name(Component.REDPANDA)
    seeds = [
        {"host": {"address": f"{name}-{ordinal}.{peers_domain(ctx)}", "port": REDPANDA_RPC_PORT}}
        for ordinal in range(spec.replicas)
    ]
    return {
        "redpanda": {
            "data_directory": DATA_DIR,
            "developer_mode": False,
            # Every broker is listed as a seed; together they form the cluster (charts/redpanda does so).
            "empty_seed_starts_cluster": False,
            "seed_servers": seeds,
            "rpc_server": {"address": "0.0.0.0", "port": REDPANDA_RPC_PORT},  # noqa: S104
            "kafka_api": [{"name": LISTENER, "address": "0.0.0.0", "port": KAFKA_PORT}],  # noqa: S104
            "admin": [{"name": LISTENER, "address": "0.0.0.0", "port": REDPANDA_ADMIN_PORT}],  # noqa: S104
            "crash_loop_limit": CRASH_LOOP_LIMIT,
        },
    }


def bootstrap_config(ctx: BuildContext) -> dict[str, Any]:
    """.bootstrap.yaml: cluster properties. Topics are created by the runtime with its own partition count
    and replication, never implicitly by a client's metadata request."""
    spec = ctx.system.spec.redpanda
    return {
        "auto_create_topics_enabled": False,
        "default_topic_partitions": spec.partitions,
        "default_topic_replications": spec.replication_factor,
    }


def config_files(ctx: BuildContext) -> dict[str, str]:
    return {
        NODE_CONFIG: yaml.safe_dump(node_config(ctx), sort_keys=False),
        BOOTSTRAP_CONFIG: yaml.safe_dump(bootstrap_config(ctx), sort_keys=False),
    }


def start_args(ctx: BuildContext) -> list[str]:
    """Flags of `rpk redpanda start`, each one token `--flag=value`; never `--set`, which rpk only
    understands as `--set` followed by a separate `key=value` (rpk cli/redpanda/start.go parseConfigKvs)
    and otherwise hands to the redpanda binary, which exits on it."""
    spec = ctx.system.spec.redpanda
    peers = peers_domain(ctx)
    return [
        "--smp=1",
        f"--memory={memory_mib(spec.resources)}M",
        "--reserve-memory=0M",
        "--overprovisioned",
        "--default-log-level=info",
        f"--advertise-kafka-addr={LISTENER}://$(POD_NAME).{peers}:{KAFKA_PORT}",
        f"--advertise-rpc-addr=$(POD_NAME).{peers}:{REDPANDA_RPC_PORT}",
    ]


def memory_mib(spec: Resources) -> int:
    """Seastar's memory: within the container's request, so the node's scheduling promise holds."""
    quantity = spec.requests.memory or spec.limits.memory
    if quantity is None:
        return DEFAULT_MEMORY_MIB
    return int(storage_bytes(quantity) * MEMORY_REQUEST_SHARE) // 2**20


def build(ctx: BuildContext) -> list[dict[str, Any]]:
    spec = ctx.system.spec.redpanda
    if Component.REDPANDA not in ctx.system.spec.provisioned_data_stores():
        return []
    image = ctx.config.redpanda_image
    version = image_tag(image)
    files = config_files(ctx)
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata(ctx, config_map_name(ctx), Component.REDPANDA, version),
        "data": files,
    }
    copy_config = {
        "name": "config",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        # rpk rewrites redpanda.yaml at start: it needs a writable copy, not the read-only ConfigMap.
        "command": ["cp", *(f"{BASE_CONFIG_DIR}/{file}" for file in files), f"{CONFIG_DIR}/"],
        "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}, "limits": {"memory": "64Mi"}},
        "volumeMounts": [mount("base-config", BASE_CONFIG_DIR, read_only=True), mount("config", CONFIG_DIR)],
    }
    container = {
        "name": "redpanda",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["rpk", "redpanda", "start"],
        "args": start_args(ctx),
        "env": [{"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "ports": [
            {"name": "kafka", "containerPort": KAFKA_PORT},
            {"name": "rpc", "containerPort": REDPANDA_RPC_PORT},
            {"name": "admin", "containerPort": REDPANDA_ADMIN_PORT},
        ],
        "resources": resources(spec.resources),
        "startupProbe": http_probe(
            "/v1/status/ready", REDPANDA_ADMIN_PORT, period=STARTUP_PERIOD_SECONDS, failures=STARTUP_FAILURES
        ),
        "livenessProbe": http_probe("/v1/status/ready", REDPANDA_ADMIN_PORT, period=20, failures=6),
        "readinessProbe": http_probe("/v1/status/ready", REDPANDA_ADMIN_PORT, period=5, failures=3),
        "volumeMounts": [
            mount(DATA_VOLUME, DATA_DIR),
            mount("config", CONFIG_DIR),
            mount("tmp", "/tmp"),  # noqa: S108
        ],
    }
    template = pod_template(
        ctx,
        Component.REDPANDA,
        version,
        uid=REDPANDA_UID,
        containers=[container],
        init_containers=[copy_config],
        volumes=[
            {"name": "base-config", "configMap": {"name": config_map_name(ctx)}},
            empty_dir("config"),
            empty_dir("tmp"),
        ],
        # A changed redpanda.yaml reaches a broker only through a new pod.
        annotations=checksum_annotation(files),
        termination_grace_seconds=TERMINATION_GRACE_SECONDS,
    )
    return [
        config_map,
        *services(
            ctx,
            Component.REDPANDA,
            version,
            {"kafka": KAFKA_PORT, "rpc": REDPANDA_RPC_PORT, "admin": REDPANDA_ADMIN_PORT},
            {"kafka": KAFKA_PORT},
        ),
        statefulset(ctx, Component.REDPANDA, image, template),
    ]
