"""Qdrant: the vector index; more than one replica forms a Qdrant cluster seeded by pod 0."""

from __future__ import annotations

from typing import Any

from soma_operator.builders.context import QDRANT_GRPC_PORT, QDRANT_HTTP_PORT, QDRANT_P2P_PORT, BuildContext
from soma_operator.builders.labels import image_tag
from soma_operator.builders.pods import empty_dir, http_probe, mount, resources, value_env
from soma_operator.builders.workloads import (
    DATA_VOLUME,
    headless_service_name,
    pod_template,
    services,
    statefulset,
)
from soma_operator.spec import Component

QDRANT_UID = 1000
STORAGE_DIR = "/qdrant/storage"
# Qdrant writes a marker here once started (qdrant src/startup.rs; tools/entrypoint.sh reads it to choose
# recovery mode). Its default is the working directory, read-only here: qdrant/qdrant-helm
# charts/qdrant/templates/statefulset.yaml points it into an emptyDir, as we do.
INIT_DIR = "/qdrant/init"
INIT_FILE = f"{INIT_DIR}/.qdrant-initialized"
# Qdrant loads every collection from disk before it answers HTTP: allow it ten minutes before liveness
# counts (qdrant-helm's startupProbe, 5 s x 30, is off by default there and so is its liveness probe).
STARTUP_PERIOD_SECONDS = 10
STARTUP_FAILURES = 60


def build(ctx: BuildContext) -> list[dict[str, Any]]:
    spec = ctx.system.spec.qdrant
    if not spec.provisioned:
        return []
    image = ctx.config.qdrant_image
    env = [
        value_env("QDRANT__SERVICE__HTTP_PORT", str(QDRANT_HTTP_PORT)),
        value_env("QDRANT__SERVICE__GRPC_PORT", str(QDRANT_GRPC_PORT)),
        value_env("QDRANT__STORAGE__STORAGE_PATH", STORAGE_DIR),
        value_env("QDRANT__STORAGE__SNAPSHOTS_PATH", f"{STORAGE_DIR}/snapshots"),
        value_env("QDRANT__TELEMETRY_DISABLED", "true"),
        value_env("QDRANT_INIT_FILE_PATH", INIT_FILE),
    ]
    container: dict[str, Any] = {
        "name": "qdrant",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "ports": [
            {"name": "http", "containerPort": QDRANT_HTTP_PORT},
            {"name": "grpc", "containerPort": QDRANT_GRPC_PORT},
            {"name": "p2p", "containerPort": QDRANT_P2P_PORT},
        ],
        "resources": resources(spec.resources),
        "startupProbe": http_probe(
            "/livez", QDRANT_HTTP_PORT, period=STARTUP_PERIOD_SECONDS, failures=STARTUP_FAILURES
        ),
        "livenessProbe": http_probe("/livez", QDRANT_HTTP_PORT, period=20, failures=6),
        "readinessProbe": http_probe("/readyz", QDRANT_HTTP_PORT, period=5, failures=3),
        "volumeMounts": [
            mount(DATA_VOLUME, STORAGE_DIR),
            mount("init", INIT_DIR),
            mount("tmp", "/tmp"),  # noqa: S108
        ],
    }
    if spec.replicas > 1:
        env.append(value_env("QDRANT__CLUSTER__ENABLED", "true"))
        peers = f"{headless_service_name(ctx, Component.QDRANT)}.{ctx.namespace}.svc"
        seed = f"http://{ctx.child_name(Component.QDRANT)}-0.{peers}:{QDRANT_P2P_PORT}"
        own = f"http://$(POD_NAME).{peers}:{QDRANT_P2P_PORT}"
        env.insert(0, {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
        container["command"] = ["/bin/sh", "-c"]
        container["args"] = [
            f'if [ "$POD_NAME" = "{ctx.child_name(Component.QDRANT)}-0" ]; '
            f"then exec ./entrypoint.sh --uri {own}; "
            f"else exec ./entrypoint.sh --bootstrap {seed} --uri {own}; fi"
        ]
    container["env"] = env
    template = pod_template(
        ctx,
        Component.QDRANT,
        image_tag(image),
        uid=QDRANT_UID,
        containers=[container],
        volumes=[empty_dir("init"), empty_dir("tmp")],
    )
    return [
        *services(
            ctx,
            Component.QDRANT,
            image_tag(image),
            {"http": QDRANT_HTTP_PORT, "grpc": QDRANT_GRPC_PORT, "p2p": QDRANT_P2P_PORT},
            {"http": QDRANT_HTTP_PORT, "grpc": QDRANT_GRPC_PORT},
        ),
        statefulset(ctx, Component.QDRANT, image, template),
    ]
