"""PostgreSQL: the document store, one StatefulSet with its claim."""

from __future__ import annotations

from typing import Any

from soma_operator.builders.context import (
    POSTGRES_DATABASE,
    POSTGRES_PASSWORD_KEY,
    POSTGRES_PORT,
    POSTGRES_USER,
    BuildContext,
)
from soma_operator.builders.labels import image_tag
from soma_operator.builders.pods import empty_dir, exec_probe, mount, resources, secret_env, value_env
from soma_operator.builders.workloads import DATA_VOLUME, pod_template, services, statefulset
from soma_operator.spec import Component

POSTGRES_UID = 999  # the postgres user of the official image
DATA_DIR = "/var/lib/postgresql/data"


def build(ctx: BuildContext) -> list[dict[str, Any]]:
    spec = ctx.system.spec.postgres
    if not spec.provisioned:
        return []
    image = ctx.config.postgres_image
    ready_check = [
        "pg_isready",
        "--host=127.0.0.1",
        f"--username={POSTGRES_USER}",
        f"--dbname={POSTGRES_DATABASE}",
    ]
    container = {
        "name": "postgres",
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "env": [
            value_env("POSTGRES_USER", POSTGRES_USER),
            value_env("POSTGRES_DB", POSTGRES_DATABASE),
            secret_env("POSTGRES_PASSWORD", ctx.db_credentials_secret_name, POSTGRES_PASSWORD_KEY),
            # A subdirectory: the volume's root may hold lost+found, which initdb refuses.
            value_env("PGDATA", f"{DATA_DIR}/pgdata"),
        ],
        "ports": [{"name": "postgres", "containerPort": POSTGRES_PORT}],
        "resources": resources(spec.resources),
        "livenessProbe": exec_probe(ready_check, period=20, failures=6),
        "readinessProbe": exec_probe(ready_check, period=5, failures=3),
        "volumeMounts": [
            mount(DATA_VOLUME, DATA_DIR),
            mount("run", "/var/run/postgresql"),
            mount("tmp", "/tmp"),  # noqa: S108
        ],
    }
    template = pod_template(
        ctx,
        Component.POSTGRES,
        image_tag(image),
        uid=POSTGRES_UID,
        containers=[container],
        volumes=[empty_dir("run"), empty_dir("tmp")],
    )
    ports = {"postgres": POSTGRES_PORT}
    return [
        *services(ctx, Component.POSTGRES, image_tag(image), ports, ports),
        statefulset(ctx, Component.POSTGRES, image, template),
    ]
