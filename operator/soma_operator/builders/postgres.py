"""PostgreSQL: the document store, one StatefulSet with its claim."""

from __future__ import annotations

from typing import Any

from soma_operator.builders import cloudnative_pg
from soma_operator.builders.context import (
    POSTGRES_DATABASE,
    POSTGRES_PASSWORD_KEY,
    POSTGRES_PORT,
    POSTGRES_USER,
    BuildContext,
)
from soma_operator.builders.labels import image_tag
from soma_operator.builders.pods import (
    empty_dir,
    exec_probe,
    memory_dir,
    mount,
    resources,
    secret_env,
    value_env,
)
from soma_operator.builders.workloads import DATA_VOLUME, pod_template, services, statefulset
from soma_operator.spec import Component

POSTGRES_UID = 999  # the postgres user of the official image
DATA_DIR = "/var/lib/postgresql/data"
# Time for a clean shutdown: the shutdown checkpoint writes every dirty buffer. docker-library/postgres
# 17/bookworm/Dockerfile notes that even 90 s may not be enough; cloudnative-pg api/v1/cluster_types.go
# gives an instance stopDelay 1800 by default, which we take.
TERMINATION_GRACE_SECONDS = 1800
# Time to start, crash recovery (WAL replay) included: cloudnative-pg api/v1/cluster_types.go startDelay
# 3600, probed every 10 s (pkg/specs/pods.go StartupProbePeriod) with ceil(3600 / 10) failures.
STARTUP_PERIOD_SECONDS = 10
STARTUP_FAILURES = 360
# A memory-backed /dev/shm for dynamic shared memory (parallel queries), as cloudnative-pg
# pkg/specs/volumes.go mounts; a container runtime's default is only 64 MiB. It counts against the memory
# limit, so it is bounded.
SHM_SIZE_LIMIT = "256Mi"


def build(ctx: BuildContext) -> list[dict[str, Any]]:
    spec = ctx.system.spec.postgres
    if not spec.provisioned:
        return []
    if spec.cloudnative_pg:
        return cloudnative_pg.build(ctx)
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
        "startupProbe": exec_probe(ready_check, period=STARTUP_PERIOD_SECONDS, failures=STARTUP_FAILURES),
        "livenessProbe": exec_probe(ready_check, period=20, failures=6),
        "readinessProbe": exec_probe(ready_check, period=5, failures=3),
        # The kubelet stops with SIGTERM, PostgreSQL's "smart" shutdown, which waits for every client
        # (the runtime's pool) to leave. The image declares STOPSIGNAL SIGINT, the "fast" shutdown
        # (docker-library/postgres 17/bookworm/Dockerfile), which Kubernetes ignores: ask for it here.
        "lifecycle": {"preStop": {"exec": {"command": fast_shutdown()}}},
        "volumeMounts": [
            mount(DATA_VOLUME, DATA_DIR),
            mount("run", "/var/run/postgresql"),
            mount("shm", "/dev/shm"),  # noqa: S108
            mount("tmp", "/tmp"),  # noqa: S108
        ],
    }
    template = pod_template(
        ctx,
        Component.POSTGRES,
        image_tag(image),
        uid=POSTGRES_UID,
        containers=[container],
        volumes=[empty_dir("run"), memory_dir("shm", SHM_SIZE_LIMIT), empty_dir("tmp")],
        termination_grace_seconds=TERMINATION_GRACE_SECONDS,
    )
    ports = {"postgres": POSTGRES_PORT}
    return [
        *services(ctx, Component.POSTGRES, image_tag(image), ports, ports),
        statefulset(ctx, Component.POSTGRES, image, template),
    ]


def fast_shutdown() -> list[str]:
    """pg_ctl (on the image's PATH) stops the server in PGDATA in fast mode and waits for it."""
    return ["pg_ctl", "stop", "--mode=fast", "--wait", f"--timeout={TERMINATION_GRACE_SECONDS}"]
