"""Redis: cache, rate-limit counters and locks, persisted with the append-only file when asked."""

from __future__ import annotations

from typing import Any

from soma_operator.builders.context import REDIS_CONFIG_KEY, REDIS_PASSWORD_KEY, REDIS_PORT, BuildContext
from soma_operator.builders.labels import image_tag
from soma_operator.builders.pods import empty_dir, exec_probe, mount, resources, secret_env
from soma_operator.builders.workloads import DATA_VOLUME, pod_template, services, statefulset
from soma_operator.spec import Component

REDIS_UID = 999  # the redis user of the official image
# Where the docker-library/redis image's README has a configuration file mounted.
CONFIG_DIR = "/usr/local/etc/redis"
CONFIG_FILE = f"{CONFIG_DIR}/redis.conf"
# Owner root, group fsGroup: readable by the redis user, by no one else.
CONFIG_FILE_MODE = 0o440
# Any reply means the server is up, "-LOADING" included: it is replaying its append-only file.
ALIVE = ["redis-cli", "ping"]
# Only PONG means it serves: -e makes redis-cli exit non-zero on an error reply such as -LOADING.
SERVING = ["redis-cli", "-e", "ping"]


def config_file(password: str) -> str:
    """The configuration file in the generated Secret: the password never reaches a command line."""
    return f"requirepass {password}\n"


def build(ctx: BuildContext) -> list[dict[str, Any]]:
    spec = ctx.system.spec.redis
    if not spec.provisioned:
        return []
    image = ctx.config.redis_image
    container = {
        "name": "redis",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        # No command: the image's docker-entrypoint.sh turns a first argument ending in .conf into
        # `redis-server FILE ARGS` and sets its umask (docker-library/redis docker-entrypoint.sh).
        "args": [CONFIG_FILE, "--dir", "/data", "--appendonly", "yes" if spec.append_only else "no"],
        # redis-cli reads its password from here, so the probes need no shell and no -a.
        "env": [secret_env("REDISCLI_AUTH", ctx.db_credentials_secret_name, REDIS_PASSWORD_KEY)],
        "ports": [{"name": "redis", "containerPort": REDIS_PORT}],
        "resources": resources(spec.resources),
        "startupProbe": exec_probe(ALIVE, period=5, failures=60),
        "livenessProbe": exec_probe(ALIVE, period=20, failures=6),
        "readinessProbe": exec_probe(SERVING, period=5, failures=3),
        "volumeMounts": [
            mount(DATA_VOLUME, "/data"),
            mount("config", CONFIG_DIR, read_only=True),
            mount("tmp", "/tmp"),  # noqa: S108
        ],
    }
    config_volume = {
        "name": "config",
        "secret": {
            "secretName": ctx.db_credentials_secret_name,
            "items": [{"key": REDIS_CONFIG_KEY, "path": "redis.conf"}],
            "defaultMode": CONFIG_FILE_MODE,
        },
    }
    template = pod_template(
        ctx,
        Component.REDIS,
        image_tag(image),
        uid=REDIS_UID,
        containers=[container],
        volumes=[config_volume, empty_dir("tmp")],
    )
    ports = {"redis": REDIS_PORT}
    return [
        *services(ctx, Component.REDIS, image_tag(image), ports, ports),
        statefulset(ctx, Component.REDIS, image, template),
    ]
