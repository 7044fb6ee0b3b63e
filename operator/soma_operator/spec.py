"""The MemorySystem custom resource as a typed, validated model.

The CRD's OpenAPI schema and CEL rules refuse most invalid specs at admission. This model repeats the
checks the operator relies on, because a spec can reach the operator without admission (``render``,
an older CRD, a CR re-created over retained volumes) and because its errors become the Failed reason.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.alias_generators import to_camel

from soma_operator.cron import CRON_PATTERN, cron_problem
from soma_operator.quantity import STORAGE_PATTERN, storage_bytes

DNS_LABEL_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN_PATTERN = r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$"
RESOURCE_QUANTITY_PATTERN = r"^[0-9]+(\.[0-9]+)?(m|Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$"
# The longest MemorySystem name whose derived child names ("data-NAME-redpanda-N") stay DNS labels.
MAX_NAME_LENGTH = 40
# Copies of each shard or partition kept by a replicated data store: one per pod, at most three.
MAX_REPLICATION = 3

ResourceQuantity = Annotated[str, Field(pattern=RESOURCE_QUANTITY_PATTERN)]
StorageQuantity = Annotated[str, Field(pattern=STORAGE_PATTERN)]


class SpecError(ValueError):
    """The spec cannot be turned into a memory system; the message is the user-facing reason."""


class _Model(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid", frozen=True)


class Mode(enum.StrEnum):
    EVENTED = "evented"
    DIRECT = "direct"


class EmbeddingProvider(enum.StrEnum):
    """The embedding providers the runtime image carries: it is built without the sentence-transformers
    extra, so that provider is refused until an image carries it. ``onnx`` runs a model the operator
    fetches once into a claim (or finds in ``source``)."""

    HASHING = "hashing"
    ONNX = "onnx"


class AccessMode(enum.StrEnum):
    READ_WRITE_ONCE = "ReadWriteOnce"
    READ_WRITE_MANY = "ReadWriteMany"
    READ_ONLY_MANY = "ReadOnlyMany"
    READ_WRITE_ONCE_POD = "ReadWriteOncePod"


class PostgresProvider(enum.StrEnum):
    """Who runs PostgreSQL. Chosen explicitly and never switched: the database lives on the provider's own
    volumes, so a new provider would start empty (see docs/operations.md, "High availability")."""

    STATEFULSET = "statefulset"
    CLOUDNATIVE_PG = "cloudnative-pg"


class OnDelete(enum.StrEnum):
    RETAIN = "Retain"
    DELETE = "Delete"


class Component(enum.StrEnum):
    """Every workload a MemorySystem may run; the value is the name suffix and the component label."""

    POSTGRES = "postgres"
    REDIS = "redis"
    QDRANT = "qdrant"
    REDPANDA = "redpanda"
    API = "api"
    CONSUMERS = "consumers"


DATA_STORES = (Component.POSTGRES, Component.REDIS, Component.QDRANT, Component.REDPANDA)


class ResourceList(_Model):
    cpu: ResourceQuantity | None = None
    memory: ResourceQuantity | None = None


class Resources(_Model):
    requests: ResourceList = ResourceList()
    limits: ResourceList = ResourceList()


class SecretKeyRef(_Model):
    name: str = Field(min_length=1, max_length=253)
    key: str = Field(default="url", min_length=1)


class TokenSecretRef(_Model):
    name: str = Field(min_length=1, max_length=253)
    key: str = Field(default="token", min_length=1)


class External(_Model):
    secret_ref: SecretKeyRef


class Storage(_Model):
    size: StorageQuantity
    storage_class_name: str | None = None


class RateLimit(_Model):
    requests_per_minute: int = Field(default=6000, ge=1, le=1_000_000)


class Auth(_Model):
    token_secret_ref: TokenSecretRef | None = None


class Autoscaling(_Model):
    """Bounds of a replica count that an autoscaler sets; minReplicas never exceeds maxReplicas."""

    min_replicas: int = Field(default=2, ge=1, le=100)
    max_replicas: int = Field(default=10, ge=1, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> Autoscaling:
        if self.min_replicas > self.max_replicas:
            raise ValueError(f"minReplicas {self.min_replicas} exceeds maxReplicas {self.max_replicas}")
        return self


class ApiAutoscaling(Autoscaling):
    target_cpu_utilization: int = Field(default=70, ge=1, le=100, alias="targetCPUUtilization")


class ConsumerAutoscaling(Autoscaling):
    min_replicas: int = Field(default=1, ge=0, le=100)
    lag_threshold: int = Field(default=1000, ge=1, le=1_000_000)


class ApiSpec(_Model):
    replicas: int = Field(default=2, ge=1, le=50)
    autoscaling: ApiAutoscaling | None = None
    resources: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="256Mi"), limits=ResourceList(memory="1Gi")
    )
    rate_limit: RateLimit = RateLimit()
    auth: Auth = Auth()

    @model_validator(mode="after")
    def _utilization_needs_a_request(self) -> ApiSpec:
        if self.autoscaling is not None and self.resources.requests.cpu is None:
            raise ValueError(
                "autoscaling needs resources.requests.cpu: CPU utilization is measured against the request"
            )
        return self


class ConsumersSpec(_Model):
    replicas: int = Field(default=1, ge=0, le=50)
    autoscaling: ConsumerAutoscaling | None = None
    resources: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="256Mi"), limits=ResourceList(memory="1Gi")
    )


DEFAULT_EMBEDDING_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
HUB_MODEL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$"
MODEL_PATH_PATTERN = r"^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$"


class ModelCache(_Model):
    """The claim the operator creates and the model is fetched into. Every API and consumer pod mounts it
    read-only: pods on several nodes need ReadWriteMany or ReadOnlyMany."""

    size: StorageQuantity = "2Gi"
    storage_class_name: str | None = None
    access_modes: list[AccessMode] = Field(default=[AccessMode.READ_WRITE_ONCE], min_length=1)


class ModelSource(_Model):
    """A claim that already holds the model (air-gapped clusters): nothing is fetched."""

    claim_name: str = Field(min_length=1, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)
    path: str | None = Field(default=None, max_length=253, pattern=MODEL_PATH_PATTERN)


class ModelHub(_Model):
    """Where the fetch Job downloads from instead of huggingface.co (a mirror, a private hub), and the
    Secret key holding its token, for private or gated models."""

    endpoint: str | None = Field(default=None, max_length=2048, pattern=r"^https?://[^\s]+$")
    token_secret_ref: TokenSecretRef | None = None


def model_slug(model: str) -> str:
    """The model's directory under the claim's mount: the hub id with its slash as ``--``."""
    return model.replace("/", "--")


class EmbeddingSpec(_Model):
    provider: EmbeddingProvider = EmbeddingProvider.HASHING
    model: str = Field(default=DEFAULT_EMBEDDING_MODEL, max_length=200, pattern=HUB_MODEL_PATTERN)
    dimensions: int = Field(default=384, ge=8, le=4096)
    model_cache: ModelCache = ModelCache()
    hub: ModelHub = ModelHub()
    source: ModelSource | None = None

    @property
    def neural(self) -> bool:
        return self.provider is EmbeddingProvider.ONNX

    @property
    def fetched(self) -> bool:
        """The operator fetches the model into its own claim (onnx without a source)."""
        return self.neural and self.source is None

    @property
    def model_path(self) -> str:
        """The model directory relative to the claim's root."""
        if self.source is not None and self.source.path is not None:
            return self.source.path
        return model_slug(self.model)

    @property
    def identity(self) -> str:
        """What the vectors depend on: a change of it needs a reindex."""
        if self.neural:
            return f"{self.provider.value}/{self.model}/{self.dimensions}"
        return f"{self.provider.value}/{self.dimensions}"

    @field_validator("provider", mode="before")
    @classmethod
    def _carried_by_the_image(cls, value: object) -> object:
        if value not in set(EmbeddingProvider):
            available = ", ".join(provider.value for provider in EmbeddingProvider)
            raise ValueError(
                f"{value!r} is not available: the runtime image carries no such embedding extra; "
                f"use {available}"
            )
        return value


class DataStoreSpec(_Model):
    """Settings shared by the data stores: either ``external`` or the provisioned settings, never both."""

    external: External | None = None
    storage: Storage = Storage(size="10Gi")
    resources: Resources = Resources()

    @property
    def provisioned(self) -> bool:
        return self.external is None

    @model_validator(mode="after")
    def _external_excludes_provisioned(self) -> DataStoreSpec:
        provisioned_only = set(type(self).model_fields) - {"external"}
        given = sorted(to_camel(field) for field in self.model_fields_set & provisioned_only)
        if self.external is not None and given:
            raise ValueError(f"external and provisioned settings are exclusive: remove {', '.join(given)}")
        return self


class PostgresSpec(DataStoreSpec):
    provider: PostgresProvider = PostgresProvider.STATEFULSET
    instances: int = Field(default=1, ge=1, le=9)
    synchronous_replicas: int = Field(default=1, ge=0, le=8)
    resources: Resources = Resources(
        requests=ResourceList(cpu="250m", memory="512Mi"), limits=ResourceList(memory="2Gi")
    )

    @model_validator(mode="after")
    def _replicas_need_cloudnative_pg(self) -> PostgresSpec:
        if self.instances > 1 and self.provider is PostgresProvider.STATEFULSET:
            raise ValueError(
                f"instances {self.instances} needs provider cloudnative-pg: the statefulset provider runs "
                "one PostgreSQL without replicas; install CloudNativePG and set provider: cloudnative-pg"
            )
        return self

    @property
    def cloudnative_pg(self) -> bool:
        return self.provisioned and self.provider is PostgresProvider.CLOUDNATIVE_PG

    @property
    def synchronous_standbys(self) -> int:
        """Standbys that confirm each commit before it is acknowledged: at most every standby there is."""
        return min(self.synchronous_replicas, self.instances - 1)


class RedisSpec(DataStoreSpec):
    storage: Storage = Storage(size="1Gi")
    append_only: bool = True
    resources: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="256Mi"), limits=ResourceList(memory="1Gi")
    )


class QdrantSpec(DataStoreSpec):
    replicas: int = Field(default=1, ge=1, le=9)
    shards: int | None = Field(default=None, ge=1, le=64)
    resources: Resources = Resources(
        requests=ResourceList(cpu="250m", memory="1Gi"), limits=ResourceList(memory="4Gi")
    )

    @property
    def replication_factor(self) -> int:
        """Copies of each collection shard (qdrant config/config.yaml defaults to 1: no redundancy)."""
        return min(self.replicas, MAX_REPLICATION)

    @property
    def write_consistency_factor(self) -> int:
        """Copies that must apply a write: a majority, yet never all, so one pod can be drained."""
        return (self.replication_factor + 1) // 2

    @property
    def shard_number(self) -> int:
        """Shards of a collection: the spec's, else one per pod, so each pod leads one."""
        return self.shards if self.shards is not None else self.replicas

    @property
    def tolerated_disruptions(self) -> int:
        """Pods a drain may take at once while every shard keeps enough copies to accept writes."""
        return self.replication_factor - self.write_consistency_factor


class RedpandaSpec(DataStoreSpec):
    replicas: int = Field(default=1, ge=1, le=9)
    partitions: int = Field(default=6, ge=1, le=1024)
    resources: Resources = Resources(
        requests=ResourceList(cpu="500m", memory="1536Mi"), limits=ResourceList(memory="2Gi")
    )

    @property
    def replication_factor(self) -> int:
        """Copies of each partition: Raft wants an odd count, so two brokers still replicate once."""
        factor = min(self.replicas, MAX_REPLICATION)
        return factor if factor % 2 else factor - 1

    @property
    def tolerated_disruptions(self) -> int:
        """Brokers a drain may take at once while every partition keeps its Raft majority."""
        return self.replication_factor - (self.replication_factor // 2 + 1)


class BackupRetention(_Model):
    """Which backups the backup command keeps: the newest ``count``, and none older than ``maxAgeDays``."""

    count: int = Field(default=7, ge=1, le=1000)
    max_age_days: int | None = Field(default=None, ge=1, le=3650)


class BackupVolume(_Model):
    """The claim backups go to: an existing one (``claimName``) or one the operator creates."""

    claim_name: str | None = Field(default=None, max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)
    size: StorageQuantity = "10Gi"
    storage_class_name: str | None = Field(default=None, max_length=253)

    @model_validator(mode="after")
    def _existing_or_created(self) -> BackupVolume:
        given = sorted(to_camel(f) for f in self.model_fields_set & {"size", "storage_class_name"})
        if self.claim_name is not None and given:
            raise ValueError(
                f"claimName names an existing claim: remove {', '.join(given)}, which only describe a claim "
                "the operator creates"
            )
        return self


class SecretNameRef(_Model):
    name: str = Field(min_length=1, max_length=253)


class BackupS3(_Model):
    """S3-compatible object storage; the Secret holds AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."""

    endpoint: str = Field(min_length=1, max_length=2048, pattern=r"^https?://[^\s]+$")
    bucket: str = Field(min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]*[a-z0-9]$")
    prefix: str = Field(default="", max_length=1024, pattern=r"^[^\s]*$")
    region: str | None = Field(default=None, min_length=1, max_length=64)
    credentials_secret: SecretNameRef


class BackupDestination(_Model):
    """Where backups go: exactly one of ``volume`` and ``s3``."""

    volume: BackupVolume | None = None
    s3: BackupS3 | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> BackupDestination:
        if (self.volume is None) == (self.s3 is None):
            raise ValueError("set exactly one of volume and s3")
        return self


class _Scheduled(_Model):
    """Work a CronJob runs on a cron schedule, unless suspended."""

    schedule: str = Field(max_length=100, pattern=CRON_PATTERN)
    suspend: bool = False

    @field_validator("schedule", mode="before")
    @classmethod
    def _valid_cron(cls, value: object) -> object:
        # Before the pattern check, so a wrong shape gets this message rather than the bare pattern.
        if isinstance(value, str) and (problem := cron_problem(value)) is not None:
            raise ValueError(f"{value!r} is not a cron schedule: {problem}")
        return value


class BackupSpec(_Scheduled):
    retention: BackupRetention = BackupRetention()
    destination: BackupDestination


PayloadKey = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[^,\s]+$")]


class DecayRule(_Model):
    """Once a memory is older than ``afterSeconds``, the payload keys in ``drop`` are removed from it."""

    after_seconds: int = Field(ge=1)
    drop: list[PayloadKey] = Field(min_length=1, max_length=100)


class Decay(_Model):
    rules: list[DecayRule] = Field(default_factory=list, max_length=100)
    forget_below_importance: float | None = Field(default=None, ge=0, le=1)
    forget_after_seconds: int | None = Field(default=None, ge=0)


class Consolidation(_Model):
    """Episodic memories within one window become a semantic memory linking them, from minMemories on."""

    window_seconds: int = Field(ge=1)
    min_memories: int = Field(default=2, ge=2)


class MaintenanceSpec(_Scheduled):
    """Scheduled ``soma maintain``: decay and consolidation, idempotent, so a repeated run changes nothing."""

    decay: Decay | None = None
    consolidation: Consolidation | None = None
    resources: Resources = Resources(
        requests=ResourceList(cpu="100m", memory="256Mi"), limits=ResourceList(memory="1Gi")
    )


class EncryptionSpec(_Model):
    """Payload fields encrypted at rest; the keys come from a Secret (the operator generates one unless
    ``keysSecretRef`` names the user's own)."""

    fields: list[PayloadKey] = Field(min_length=1, max_length=100)
    keys_secret_ref: SecretNameRef | None = None

    @field_validator("fields")
    @classmethod
    def _fields_distinct(cls, value: list[str]) -> list[str]:
        repeated = sorted({field for field in value if value.count(field) > 1})
        if repeated:
            raise ValueError(f"listed more than once: {', '.join(repeated)}")
        return value


class RestoreVolume(_Model):
    claim_name: str = Field(max_length=253, pattern=DNS_SUBDOMAIN_PATTERN)


class RestoreSource(_Model):
    """Where the backup to restore is: exactly one of ``volume`` (an existing claim) and ``s3``."""

    volume: RestoreVolume | None = None
    s3: BackupS3 | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> RestoreSource:
        if (self.volume is None) == (self.s3 is None):
            raise ValueError("set exactly one of volume and s3")
        return self


class RestoreSpec(_Model):
    """Start a new system from a backup: restored once, when the data stores are first ready."""

    source: RestoreSource
    backup: str = Field(default="latest", pattern=r"^(latest|[0-9]{8}T[0-9]{6}Z)$")
    namespaces: list[Annotated[str, Field(min_length=1, max_length=253)]] = Field(default_factory=list)


class StoragePolicy(_Model):
    on_delete: OnDelete = OnDelete.RETAIN


class MemorySystemSpec(_Model):
    version: str = Field(default="0.1.0", pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
    mode: Mode = Mode.EVENTED
    api: ApiSpec = ApiSpec()
    consumers: ConsumersSpec = ConsumersSpec()
    embedding: EmbeddingSpec = EmbeddingSpec()
    postgres: PostgresSpec = PostgresSpec()
    redis: RedisSpec = RedisSpec()
    qdrant: QdrantSpec = QdrantSpec()
    redpanda: RedpandaSpec = RedpandaSpec()
    storage_policy: StoragePolicy = StoragePolicy()
    backup: BackupSpec | None = None
    restore: RestoreSpec | None = None
    maintenance: MaintenanceSpec | None = None
    encryption: EncryptionSpec | None = None
    paused: bool = False

    @property
    def evented(self) -> bool:
        return self.mode is Mode.EVENTED

    def data_store(self, component: Component) -> DataStoreSpec:
        stores: dict[Component, DataStoreSpec] = {
            Component.POSTGRES: self.postgres,
            Component.REDIS: self.redis,
            Component.QDRANT: self.qdrant,
            Component.REDPANDA: self.redpanda,
        }
        return stores[component]

    def used_data_stores(self) -> tuple[Component, ...]:
        """The data stores this system connects to: the broker only in evented mode."""
        return tuple(c for c in DATA_STORES if self.evented or c is not Component.REDPANDA)

    def provisioned_data_stores(self) -> tuple[Component, ...]:
        return tuple(c for c in self.used_data_stores() if self.data_store(c).provisioned)

    def runs_consumers(self) -> bool:
        return self.evented

    def statefulset_data_stores(self) -> tuple[Component, ...]:
        """The provisioned stores that run as a StatefulSet of ours (CloudNativePG runs its own pods)."""
        return tuple(
            c
            for c in self.provisioned_data_stores()
            if c is not Component.POSTGRES or not self.postgres.cloudnative_pg
        )

    def workload_kind(self, component: Component) -> str:
        """The kind of the object that runs a component's pods."""
        if component is Component.POSTGRES and self.postgres.cloudnative_pg:
            return "Cluster"
        return "StatefulSet" if component in DATA_STORES else "Deployment"

    def workload_replicas(self) -> dict[Component, int]:
        """Every workload this spec runs, with its desired replica count (an autoscaled one: its minimum)."""
        store_replicas = {
            Component.POSTGRES: self.postgres.instances,
            Component.REDIS: 1,
            Component.QDRANT: self.qdrant.replicas,
            Component.REDPANDA: self.redpanda.replicas,
        }
        workloads = {component: store_replicas[component] for component in self.provisioned_data_stores()}
        autoscaling = self.api.autoscaling
        workloads[Component.API] = autoscaling.min_replicas if autoscaling else self.api.replicas
        if self.runs_consumers():
            workloads[Component.CONSUMERS] = self.consumers.replicas
        return workloads


class MemorySystem(_Model):
    """One MemorySystem as the builders need it: identity plus validated spec."""

    name: str = Field(max_length=MAX_NAME_LENGTH, pattern=DNS_LABEL_PATTERN)
    namespace: str
    uid: str
    spec: MemorySystemSpec

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> MemorySystem:
        """Parse a MemorySystem object; SpecError carries every problem in one readable line."""
        metadata = body.get("metadata") or {}
        try:
            spec = MemorySystemSpec.model_validate(body.get("spec") or {})
        except ValidationError as error:
            raise SpecError(_describe(error, prefix="spec")) from None
        try:
            return cls(
                name=metadata.get("name", ""),
                namespace=metadata.get("namespace") or "default",
                uid=metadata.get("uid", ""),
                spec=spec,
            )
        except ValidationError as error:
            raise SpecError(_describe(error, prefix="metadata")) from None


def _describe(error: ValidationError, prefix: str) -> str:
    problems = []
    for detail in error.errors():
        location = ".".join([prefix, *(str(part) for part in detail["loc"])])
        message = detail["msg"].removeprefix("Value error, ")
        problems.append(f"{location}: {message}")
    return "; ".join(problems)


def shrink_errors(current_sizes: Mapping[Component, str], spec: MemorySystemSpec) -> list[str]:
    """Why the spec's storage is refused: a requested size below what a component already has.

    The same rule as the CRD's CEL transition rule, checked against the real claims, because a
    MemorySystem re-created over retained claims never passes through that rule.
    """
    errors = []
    for component, current in current_sizes.items():
        desired = spec.data_store(component).storage.size
        if storage_bytes(desired) < storage_bytes(current):
            errors.append(
                f"{component}: storage cannot shrink from {current} to {desired}; "
                f"volumes only grow, set spec.{component}.storage.size to at least {current}"
            )
    return errors
