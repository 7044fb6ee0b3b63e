"""The operator's own configuration: images and timings, read once from the environment."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class OperatorConfig(BaseSettings):
    """Every default image and timing of the operator, overridable by ``SOMA_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="SOMA_", frozen=True)

    # Fully qualified: a node that enforces short-name resolution (CRI-O, podman) refuses "postgres:17.2".
    runtime_image: str = "ghcr.io/soma-platform/soma-runtime"
    postgres_image: str = "docker.io/library/postgres:17.2"
    redis_image: str = "docker.io/library/redis:7.4.1"
    qdrant_image: str = "docker.io/qdrant/qdrant:v1.12.5"
    redpanda_image: str = "docker.redpanda.com/redpandadata/redpanda:v24.2.13"
    # The PostgreSQL operand image of CloudNativePG (github.com/cloudnative-pg/postgres-containers), of the
    # major version of postgres_image; the docker-library image lacks what CloudNativePG's instances need.
    cloudnative_pg_image: str = "ghcr.io/cloudnative-pg/postgresql:17.2"
    # How long kopf waits before re-checking children that are not ready yet.
    readiness_recheck_seconds: float = Field(default=10.0, gt=0)
    # How often a MemorySystem's status is re-read without a spec change: what catches a data-store pod that
    # stops being ready (no event of ours announces it). Read once, when the handlers are registered.
    status_refresh_seconds: float = Field(default=60.0, gt=0)
