"""What every builder renders from: the MemorySystem, the images, and the few facts read from the cluster."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

from soma_operator.config import OperatorConfig
from soma_operator.spec import Component, MemorySystem

API_PORT = 9595
CONSUMER_HEALTH_PORT = 9596
POSTGRES_PORT = 5432
REDIS_PORT = 6379
QDRANT_HTTP_PORT = 6333
QDRANT_GRPC_PORT = 6334
QDRANT_P2P_PORT = 6335
KAFKA_PORT = 9092
REDPANDA_RPC_PORT = 33145
REDPANDA_ADMIN_PORT = 9644

POSTGRES_USER = "soma"
POSTGRES_DATABASE = "soma"

# Keys (not values) of the generated Secrets.
API_TOKEN_KEY = "token"  # noqa: S105
POSTGRES_PASSWORD_KEY = "postgres-password"  # noqa: S105
REDIS_PASSWORD_KEY = "redis-password"  # noqa: S105
REDIS_CONFIG_KEY = "redis.conf"


def _random_secret() -> str:
    # URL-safe, so a password can sit in a connection URL without escaping.
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Credentials:
    """The generated secret values. Generated once; afterwards read back from the cluster."""

    api_token: str = field(default_factory=_random_secret, repr=False)
    postgres_password: str = field(default_factory=_random_secret, repr=False)
    redis_password: str = field(default_factory=_random_secret, repr=False)


@dataclass(frozen=True)
class Capabilities:
    """The operators a cluster runs beside ours, found through API discovery (which needs no RBAC)."""

    cloudnative_pg: bool = False
    keda: bool = False


@dataclass(frozen=True)
class SecretDigests:
    """Digests of the secret files the runtime reads at start only (the encryption keys, the API token):
    on the pod templates, so a change of one rolls the pods. Never the values themselves."""

    encryption_keys: str | None = None
    api_token: str | None = None


@dataclass(frozen=True)
class BuildContext:
    system: MemorySystem
    config: OperatorConfig
    credentials: Credentials
    # Claim template sizes of StatefulSets that exist already: templates are immutable, so they keep them.
    claim_template_sizes: Mapping[Component, str] = field(default_factory=dict)
    capabilities: Capabilities = Capabilities()
    digests: SecretDigests = SecretDigests()

    @property
    def name(self) -> str:
        return self.system.name

    @property
    def namespace(self) -> str:
        return self.system.namespace

    def child_name(self, component: str) -> str:
        return f"{self.system.name}-{component}"

    def service_host(self, component: Component) -> str:
        return f"{self.child_name(component)}.{self.namespace}.svc"

    @property
    def api_token_secret_name(self) -> str:
        ref = self.system.spec.api.auth.token_secret_ref
        return ref.name if ref is not None else self.child_name("api-token")

    @property
    def api_token_secret_key(self) -> str:
        ref = self.system.spec.api.auth.token_secret_ref
        return ref.key if ref is not None else API_TOKEN_KEY

    @property
    def db_credentials_secret_name(self) -> str:
        return self.child_name("db-credentials")

    @property
    def config_map_name(self) -> str:
        return self.child_name("config")

    @property
    def service_account_name(self) -> str:
        return self.child_name("runtime")

    def autoscaled(self, component: Component) -> bool:
        """Whether an autoscaler, not the operator, sets the replicas of a Deployment."""
        spec = self.system.spec
        if component is Component.API:
            return spec.api.autoscaling is not None
        if component is Component.CONSUMERS:
            return spec.runs_consumers() and spec.consumers.autoscaling is not None and self.capabilities.keda
        return False

    def runtime_image(self) -> str:
        return f"{self.config.runtime_image}:{self.system.spec.version}"
