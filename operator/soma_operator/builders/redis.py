"""Redis: cache, rate-limit counters and locks, persisted with the append-only file when asked."""

from __future__ import annotations

from typing import Any

from soma_operator.builders.context import REDIS_PASSWORD_KEY, REDIS_PORT, BuildContext
from soma_operator.builders.labels import image_tag
from soma_operator.builders.pods import empty_dir, exec_probe, mount, resources, secret_env
from soma_operator.builders.workloads import DATA_VOLUME, pod_template, services, statefulset
from soma_operator.spec import Component

REDIS_UID = 999  # the redis user of the official image


def build(ctx: BuildContext) -> list[dict[str, Any]]:
    spec = ctx.system.spec.redis
    if not spec.provisioned:
        return []
    image = ctx.config.redis_image
    ping = ["redis-cli", "ping"]
    container = {
        "name": "redis",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "command": ["redis-server"],
        "args": [
            "--dir",
            "/data",
            "--appendonly",
            "yes" if spec.append_only else "no",
            "--requirepass",
            "$(REDIS_PASSWORD)",
        ],
        "env": [
            secret_env("REDIS_PASSWORD", ctx.db_credentials_secret_name, REDIS_PASSWORD_KEY),
            # redis-cli reads its password from here, so the probes need no shell.
            secret_env("REDISCLI_AUTH", ctx.db_credentials_secret_name, REDIS_PASSWORD_KEY),
        ],
        "ports": [{"name": "redis", "containerPort": REDIS_PORT}],
        "resources": resources(spec.resources),
        "livenessProbe": exec_probe(ping, period=20, failures=6),
        "readinessProbe": exec_probe(ping, period=5, failures=3),
        "volumeMounts": [mount(DATA_VOLUME, "/data"), mount("tmp", "/tmp")],  # noqa: S108
    }
    template = pod_template(
        ctx,
        Component.REDIS,
        image_tag(image),
        uid=REDIS_UID,
        containers=[container],
        volumes=[empty_dir("tmp")],
    )
    ports = {"redis": REDIS_PORT}
    return [
        *services(ctx, Component.REDIS, image_tag(image), ports, ports),
        statefulset(ctx, Component.REDIS, image, template),
    ]
