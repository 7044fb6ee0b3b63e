"""All runtime configuration in one place, from the environment (and ``soma`` flags).

The reference service's variable names are kept where they exist (POSTGRES_URL, REDIS_URL, QDRANT_URL,
KAFKA_BOOTSTRAP_SERVERS, EVENTING_ENABLED, SOMA_API_TOKEN); everything else is SOMA_*.
"""

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, IPvAnyNetwork, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from somafractalmemory.core.audit import DEFAULT_AUDIT_RETENTION
from somafractalmemory.core.budget import DEFAULT_BATCH_RESULTS, DEFAULT_BULK_ITEMS, DEFAULT_SCAN_ROWS
from somafractalmemory.core.consolidation import DEFAULT_MIN_MEMORIES, Consolidating
from somafractalmemory.core.decay import (
    DEFAULT_FORGET_AFTER_SECONDS,
    DecayRule,
    Forgetting,
    parse_decay_rules,
)
from somafractalmemory.core.maintenance import MaintenancePolicy
from somafractalmemory.core.versions import DEFAULT_MAX_VERSIONS

DEFAULT_PORT = 9595


def default_data_dir() -> Path:
    """The per-user data directory: $XDG_DATA_HOME/soma, else ~/.local/share/soma."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "soma"


def _alias(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SOMA_", populate_by_name=True, extra="ignore")

    # --- serving --------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = Field(DEFAULT_PORT, ge=1, le=65535)
    data_dir: Path = Field(default_factory=default_data_dir)
    namespace: str = Field("default", min_length=1, description="namespace of the compatibility endpoints")
    api_token: SecretStr | None = Field(None, validation_alias=_alias("SOMA_API_TOKEN", "api_token"))
    api_token_file: Path | None = Field(
        None, validation_alias=_alias("SOMA_API_TOKEN_FILE", "api_token_file")
    )
    rate_limit_per_minute: int = Field(6000, ge=0, description="per client (token or address); 0 disables")
    max_body_bytes: int = Field(5 * 1024 * 1024, ge=1024)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list, description="comma-separated")
    log_format: Literal["plain", "json"] = "plain"
    log_level: str = "INFO"

    # --- limits at the server, who a client is, what is exposed (issue 9) -----------------------
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = Field(
        default_factory=list,
        description="comma-separated addresses or CIDRs whose X-Forwarded-For / Forwarded are believed",
    )
    max_import_bytes: int = Field(256 * 1024 * 1024, ge=1024, description="total body of one NDJSON import")
    max_header_bytes: int = Field(16 * 1024, ge=1024, description="request line and headers of one request")
    max_connections: int = Field(512, ge=1, description="open connections; more are answered 503 and closed")
    header_timeout_seconds: float = Field(10.0, gt=0, description="to send a request's line and headers")
    body_timeout_seconds: float = Field(30.0, gt=0, description="longest wait for the next piece of a body")
    keepalive_timeout_seconds: int = Field(5, ge=1, description="an idle keep-alive connection is closed")
    metrics_namespaces: bool = Field(False, description="label soma_memories with namespace names")
    metrics_require_token: bool = Field(False, description="/metrics asks for the bearer token")

    # --- memory core ----------------------------------------------------------------------------
    embedding_provider: Literal["hashing", "onnx", "sentence-transformers"] = "hashing"
    embedding_dimensions: int = Field(384, ge=8, le=4096)
    ann_threshold: int = Field(
        20_000,
        ge=0,
        description="points of a namespace from which the embedded index searches its IVF index "
        "(below it, an exact scan; docs/vector-index.md)",
    )
    embedding_model: str = "all-MiniLM-L6-v2"
    embedding_model_dir: Path | None = Field(
        None,
        description="directory of the model's files (a volume): model.onnx and tokenizer.json for onnx; "
        "for sentence-transformers, a model directory used instead of embedding_model",
    )
    embedding_batch_size: int = Field(32, ge=1, le=4096, description="texts in one call of a neural model")
    max_memories_per_namespace: int | None = Field(None, ge=1)
    max_versions: int = Field(
        DEFAULT_MAX_VERSIONS,
        ge=0,
        description="earlier versions kept per memory (each replace keeps one; the oldest go); 0 keeps none",
    )
    audit_retention: int = Field(
        DEFAULT_AUDIT_RETENTION,
        ge=0,
        description="entries the audit log keeps, over all namespaces (the oldest go); 0 keeps no log",
    )
    cache_ttl_seconds: int = Field(300, ge=1)
    # Fused recall: unset, each takes the embedding provider's default (core/fusion.py, docs/retrieval.md).
    recall_dense_weight: float | None = Field(
        None, ge=0, description="weight of the dense leg in fused recall"
    )
    recall_lexical_weight: float | None = Field(
        None, ge=0, description="weight of the lexical leg in fused recall"
    )
    recall_rrf_k: int | None = Field(None, ge=1, description="reciprocal rank fusion's k")
    recall_feedback_depth: int | None = Field(
        None,
        ge=0,
        le=100,
        description="memories of the first fused ranking fed back to the dense leg (0: off)",
    )
    recall_feedback_weight: float | None = Field(
        None, ge=0, le=100, description="weight of the fed-back memories' mean vector (0: off)"
    )

    # --- encryption at rest of chosen payload fields (docs/encryption.md) -----------------------
    encrypted_fields: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="comma-separated top-level payload keys encrypted at rest"
    )
    encryption_keys: SecretStr | None = Field(
        None, description="comma-separated Fernet keys: the first encrypts, every one decrypts"
    )
    encryption_keys_file: Path | None = Field(
        None, description="a file of Fernet keys, one a line (instead of SOMA_ENCRYPTION_KEYS)"
    )

    # --- work budgets: the most one request may ask (400 beyond, before anything is written) ----
    max_bulk_items: int = Field(
        DEFAULT_BULK_ITEMS, ge=1, description="memories in one /store_bulk or /v1 bulk request"
    )
    max_batch_results: int = Field(
        DEFAULT_BATCH_RESULTS, ge=1, description="queries x top_k of one /recall_batch request"
    )
    max_scan_rows: int = Field(
        DEFAULT_SCAN_ROWS,
        ge=100,
        description="rows one keyword search examines (most important first), one coordinate range "
        "may hold, or one shortest-path search may follow",
    )

    # --- maintenance: decay, forgetting, consolidation (soma maintain; docs/lifecycle.md) -------
    decay_rules: Annotated[tuple[DecayRule, ...], NoDecode] = Field(
        (),
        description='JSON list of {"after_seconds": N, "drop": [payload keys]}: from that age on, '
        "the keys are dropped; empty: no field decay",
    )
    forget_below_importance: float | None = Field(
        None, ge=0, le=1, description="memories less important than this (and old enough) are deleted"
    )
    forget_after_seconds: float = Field(
        DEFAULT_FORGET_AFTER_SECONDS, ge=0, description="only memories at least this old are forgotten"
    )
    consolidation_window_seconds: float = Field(
        0, ge=0, description="episodic memories of one window of this length become one semantic; 0: off"
    )
    consolidation_min_memories: int = Field(
        DEFAULT_MIN_MEMORIES, ge=1, description="the fewest memories of a window that are consolidated"
    )

    @field_validator("decay_rules", mode="before")
    @classmethod
    def _decay_rules(cls, value: object) -> tuple[DecayRule, ...]:
        return parse_decay_rules(value)

    def maintenance_policy(self) -> MaintenancePolicy:
        """What ``soma maintain`` and the maintain route do, from these settings."""
        forgetting = None
        if self.forget_below_importance is not None:
            forgetting = Forgetting(self.forget_below_importance, self.forget_after_seconds)
        consolidating = None
        if self.consolidation_window_seconds > 0:
            consolidating = Consolidating(self.consolidation_window_seconds, self.consolidation_min_memories)
        return MaintenancePolicy(self.decay_rules, forgetting, consolidating)

    # --- production backends (empty: the embedded default) ------------------------------------
    postgres_url: SecretStr | None = Field(None, validation_alias=_alias("POSTGRES_URL", "postgres_url"))
    redis_url: SecretStr | None = Field(None, validation_alias=_alias("REDIS_URL", "redis_url"))
    qdrant_url: str | None = Field(None, validation_alias=_alias("QDRANT_URL", "qdrant_url"))
    qdrant_path: Path | None = Field(None, validation_alias=_alias("QDRANT_PATH", "qdrant_path"))
    kafka_bootstrap_servers: str | None = Field(
        None, validation_alias=_alias("KAFKA_BOOTSTRAP_SERVERS", "kafka_bootstrap_servers")
    )
    eventing_enabled: bool = Field(False, validation_alias=_alias("EVENTING_ENABLED", "eventing_enabled"))
    kafka_topic: str = "soma.memories"
    kafka_dead_letter_topic: str = "soma.memories.dlq"
    kafka_consumer_group: str = "soma-indexer"
    # How the runtime lays out what it creates; the operator sets them from the MemorySystem's data stores.
    kafka_topic_partitions: int = Field(4, ge=1, le=10_000, description="partitions of the topics created")
    kafka_topic_replication: int = Field(1, ge=1, le=9, description="replicas of each partition created")
    qdrant_replication_factor: int = Field(1, ge=1, le=9, description="copies of each collection shard")
    qdrant_write_consistency_factor: int = Field(
        1, ge=1, le=9, description="copies that must apply a write before it is acknowledged"
    )
    qdrant_shard_number: int | None = Field(
        None, ge=1, le=64, description="shards of each collection created (unset: Qdrant's default)"
    )

    # --- production backends: tuning and the event pipeline's process (issue 3) -----------------
    qdrant_api_key: SecretStr | None = Field(
        None, validation_alias=_alias("QDRANT_API_KEY", "qdrant_api_key")
    )
    postgres_pool_size: int = Field(10, ge=1, le=1000)
    backend_wait_seconds: float = Field(60.0, ge=0, description="start-up wait for PostgreSQL and Qdrant")
    consume_in_process: bool = Field(False, description="run the indexing consumer inside the API process")
    consumer_metrics_host: str = "127.0.0.1"
    consumer_metrics_port: int = Field(9596, ge=0, le=65535, description="soma consume's /healthz, /metrics")

    @field_validator("cors_origins", "trusted_proxies", "encrypted_fields", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @property
    def embedded(self) -> bool:
        """Every backend lives in this process: the embedded default, no network I/O."""
        return not (
            self.postgres_url
            or self.redis_url
            or self.qdrant_url
            or self.qdrant_path
            or self.eventing_enabled
        )
