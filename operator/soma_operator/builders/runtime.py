"""How the runtime containers (API and consumers) are configured: the contract with the runtime.

Plain settings live in the ConfigMap; connection URLs that carry a password are assembled in the
container env from Secret keys, so no password is ever written into a ConfigMap.
"""

from __future__ import annotations

from typing import Any

from soma_operator.builders import autoscaling, cloudnative_pg, encryption, secret_digests
from soma_operator.builders.context import (
    KAFKA_PORT,
    POSTGRES_DATABASE,
    POSTGRES_PASSWORD_KEY,
    POSTGRES_PORT,
    POSTGRES_USER,
    QDRANT_HTTP_PORT,
    REDIS_PASSWORD_KEY,
    REDIS_PORT,
    BuildContext,
)
from soma_operator.builders.pods import (
    checksum_annotation,
    empty_dir,
    http_probe,
    mount,
    secret_env,
    value_env,
)
from soma_operator.spec import Component

RUNTIME_UID = 65532
TOKEN_DIR = "/var/run/secrets/soma/api-token"  # noqa: S105
TOKEN_FILE = f"{TOKEN_DIR}/token"
# Before it binds, a runtime process waits up to this long for PostgreSQL and then as long again for Qdrant
# (the runtime's SOMA_BACKEND_WAIT_SECONDS). The ConfigMap sets it, so the startup probe is sized from it.
BACKEND_WAIT_SECONDS = 60
WAITED_BACKENDS = 2
# Beyond the waits: the schema migration, the first collection and topic checks, and the bind.
STARTUP_MARGIN_SECONDS = 60
STARTUP_PERIOD_SECONDS = 5

MODELS_DIR = "/models"
MODELS_VOLUME = "models"
MODELS_COMPONENT = "models"
# What `soma models fetch` writes last into a model directory (the runtime's cli/models.py MANIFEST): its
# presence means the copy is complete.
MODEL_MANIFEST = "soma-model.json"
WAIT_FOR_MODEL = """import pathlib, sys, time
while not pathlib.Path(sys.argv[1]).is_file():
    time.sleep(2)
"""
WAIT_RESOURCES = {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}}

_URL_VARIABLES = {
    Component.POSTGRES: "POSTGRES_URL",
    Component.REDIS: "REDIS_URL",
    Component.QDRANT: "QDRANT_URL",
    Component.REDPANDA: "KAFKA_BOOTSTRAP_SERVERS",
}


def config_data(ctx: BuildContext) -> dict[str, str]:
    """The runtime settings that are not secret; every runtime container reads them as env."""
    spec = ctx.system.spec
    data = {
        "SOMA_NAMESPACE": "default",
        "SOMA_API_TOKEN_FILE": TOKEN_FILE,
        "EVENTING_ENABLED": "true" if spec.evented else "false",
        "SOMA_EMBEDDING_PROVIDER": spec.embedding.provider.value,
        "SOMA_EMBEDDING_DIMENSIONS": str(spec.embedding.dimensions),
        **({"SOMA_EMBEDDING_MODEL_DIR": model_dir(ctx)} if spec.embedding.neural else {}),
        "SOMA_RATE_LIMIT_PER_MINUTE": str(spec.api.rate_limit.requests_per_minute),
        "SOMA_LOG_FORMAT": "json",
        "SOMA_BACKEND_WAIT_SECONDS": str(BACKEND_WAIT_SECONDS),
        **encryption.config_data(ctx),
    }
    if spec.evented:
        # Named here, not left to the runtime's defaults: KEDA's trigger watches this topic and group.
        data["SOMA_KAFKA_TOPIC"] = autoscaling.TOPIC
        data["SOMA_KAFKA_CONSUMER_GROUP"] = autoscaling.CONSUMER_GROUP
    provisioned = spec.provisioned_data_stores()
    if Component.QDRANT in provisioned:
        data["QDRANT_URL"] = f"http://{ctx.service_host(Component.QDRANT)}:{QDRANT_HTTP_PORT}"
        # The runtime creates the collections: replicated only if it is told how.
        data["SOMA_QDRANT_REPLICATION_FACTOR"] = str(spec.qdrant.replication_factor)
        data["SOMA_QDRANT_WRITE_CONSISTENCY_FACTOR"] = str(spec.qdrant.write_consistency_factor)
        data["SOMA_QDRANT_SHARD_NUMBER"] = str(spec.qdrant.shard_number)
    if Component.REDPANDA in provisioned:
        data["KAFKA_BOOTSTRAP_SERVERS"] = f"{ctx.service_host(Component.REDPANDA)}:{KAFKA_PORT}"
        # The runtime creates the topics: with the spec's partitions and the brokers' replication.
        data["SOMA_KAFKA_TOPIC_PARTITIONS"] = str(spec.redpanda.partitions)
        data["SOMA_KAFKA_TOPIC_REPLICATION"] = str(spec.redpanda.replication_factor)
    return data


def model_claim(ctx: BuildContext) -> str | None:
    """The claim holding the embedding model: the source's, else the one the operator fetches into;
    None when the embedder needs no model."""
    embedding = ctx.system.spec.embedding
    if not embedding.neural:
        return None
    if embedding.source is not None:
        return embedding.source.claim_name
    return ctx.child_name(MODELS_COMPONENT)


def model_dir(ctx: BuildContext) -> str:
    """SOMA_EMBEDDING_MODEL_DIR: the model's directory in the runtime containers."""
    return f"{MODELS_DIR}/{ctx.system.spec.embedding.model_path}"


def model_wait(ctx: BuildContext) -> list[dict[str, Any]]:
    """An init container that holds a runtime pod until the model the operator fetches is complete, so the
    pod starts once it is there instead of failing and backing off (up to five minutes) meanwhile. None for
    a source claim: its model is there already, with or without a manifest."""
    if not ctx.system.spec.embedding.fetched:
        return []
    return [
        {
            "name": "wait-for-model",
            "image": ctx.runtime_image(),
            "imagePullPolicy": "IfNotPresent",
            "command": ["python", "-c", WAIT_FOR_MODEL, f"{model_dir(ctx)}/{MODEL_MANIFEST}"],
            "volumeMounts": [mount(MODELS_VOLUME, MODELS_DIR, read_only=True)],
            "resources": WAIT_RESOURCES,
        }
    ]


def startup_probe(path: str, port: int) -> dict[str, Any]:
    """Holds off liveness while the process waits for its backends, so a fresh system is not killed
    into CrashLoopBackOff before PostgreSQL and Qdrant answer."""
    budget = WAITED_BACKENDS * BACKEND_WAIT_SECONDS + STARTUP_MARGIN_SECONDS
    return http_probe(path, port, period=STARTUP_PERIOD_SECONDS, failures=budget // STARTUP_PERIOD_SECONDS)


def pod_annotations(ctx: BuildContext) -> dict[str, str]:
    """A change of the settings, of the encryption keys or of the API token rolls the runtime pods."""
    return {**checksum_annotation(config_data(ctx)), **secret_digests.digest_annotations(ctx.digests)}


def connection_env(ctx: BuildContext) -> list[dict[str, Any]]:
    """Env for the connections that need a secret: passwords first, so the URLs can interpolate them."""
    spec = ctx.system.spec
    env: list[dict[str, Any]] = []
    for component in spec.used_data_stores():
        external = spec.data_store(component).external
        variable = _URL_VARIABLES[component]
        if external is not None:
            env.append(secret_env(variable, external.secret_ref.name, external.secret_ref.key))
        elif component is Component.POSTGRES and spec.postgres.cloudnative_pg:
            # CloudNativePG's application Secret holds the whole URL of its read-write Service.
            env.append(
                secret_env(variable, cloudnative_pg.app_secret(ctx), cloudnative_pg.APP_SECRET_URI_KEY)
            )
        elif component is Component.POSTGRES:
            env.append(secret_env("POSTGRES_PASSWORD", ctx.db_credentials_secret_name, POSTGRES_PASSWORD_KEY))
            host = ctx.service_host(Component.POSTGRES)
            env.append(
                value_env(
                    variable,
                    f"postgresql://{POSTGRES_USER}:$(POSTGRES_PASSWORD)@{host}:{POSTGRES_PORT}/{POSTGRES_DATABASE}",
                )
            )
        elif component is Component.REDIS:
            env.append(secret_env("REDIS_PASSWORD", ctx.db_credentials_secret_name, REDIS_PASSWORD_KEY))
            host = ctx.service_host(Component.REDIS)
            env.append(value_env(variable, f"redis://:$(REDIS_PASSWORD)@{host}:{REDIS_PORT}/0"))
    return env


def container(ctx: BuildContext, name: str, command: list[str]) -> dict[str, Any]:
    """The parts of a runtime container that every runtime pod shares (API, consumers, Jobs)."""
    return {
        "name": name,
        "image": ctx.runtime_image(),
        "imagePullPolicy": "IfNotPresent",
        "command": command,
        "envFrom": [{"configMapRef": {"name": ctx.config_map_name}}],
        "env": connection_env(ctx),
        "volumeMounts": [
            mount("api-token", TOKEN_DIR, read_only=True),
            mount("tmp", "/tmp"),  # noqa: S108
            *([mount(MODELS_VOLUME, MODELS_DIR, read_only=True)] if model_claim(ctx) else []),
            *encryption.mounts(ctx),
        ],
    }


def volumes(ctx: BuildContext) -> list[dict[str, Any]]:
    claim = model_claim(ctx)
    models = [{"name": MODELS_VOLUME, "persistentVolumeClaim": {"claimName": claim, "readOnly": True}}]
    return [
        {
            "name": "api-token",
            "secret": {
                "secretName": ctx.api_token_secret_name,
                "items": [{"key": ctx.api_token_secret_key, "path": "token"}],
            },
        },
        empty_dir("tmp"),
        *(models if claim else []),
        *encryption.volumes(ctx),
    ]
