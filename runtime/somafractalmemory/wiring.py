"""Builds the memory service and its adapters from settings: the only place that picks adapters."""

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from somafractalmemory.adapters.ann_index import AnnIndex
from somafractalmemory.adapters.memory_cache import MemoryCache
from somafractalmemory.adapters.memory_rate_limiter import MemoryRateLimiter
from somafractalmemory.adapters.sqlite_store import SQLiteStore
from somafractalmemory.collector import pace
from somafractalmemory.core.budget import WorkBudget
from somafractalmemory.core.feedback import feedback_for
from somafractalmemory.core.fusion import fusion_for
from somafractalmemory.core.index_recovery import IndexRecovery
from somafractalmemory.core.index_writer import IndexWriter
from somafractalmemory.core.ports import (
    Backend,
    Cache,
    DocumentStore,
    Embedder,
    IndexJournal,
    RateLimiter,
    VectorIndex,
)
from somafractalmemory.core.service import MemoryService
from somafractalmemory.datadir import private_directory
from somafractalmemory.embedding.hashing import HashingEmbedder
from somafractalmemory.encryption_config import field_encryption
from somafractalmemory.settings import Settings

if TYPE_CHECKING:
    from somafractalmemory.events.pipeline import EventPipeline

log = logging.getLogger(__name__)

DOCUMENT_FILE = "memories.sqlite"
VECTOR_FILE = "vectors.sqlite"


@dataclass
class Runtime:
    """A built service with everything that must be probed for readiness and closed at the end."""

    settings: Settings
    service: MemoryService
    rate_limiter: RateLimiter
    pipeline: "EventPipeline | None" = None  # the relay (and consumer) of evented mode, already started
    recovery: IndexRecovery | None = (
        None  # replays the index journal after an unclean stop, in the background
    )

    @property
    def backends(self) -> list[Backend]:
        return [*self.service.backends(), self.rate_limiter]

    def close(self) -> None:
        if self.recovery is not None:
            self.recovery.stop()
        if self.pipeline is not None:
            self.pipeline.stop()
        self.service.index.settle()  # before the store closes, so it clears the journal of what is indexed
        for backend in self.backends:
            backend.close()


def build_embedder(settings: Settings) -> Embedder:
    if settings.embedding_provider == "onnx":
        from somafractalmemory.core.errors import InvalidInput
        from somafractalmemory.embedding.onnx_embedder import OnnxEmbedder

        if settings.embedding_model_dir is None:
            raise InvalidInput(
                "SOMA_EMBEDDING_PROVIDER=onnx needs SOMA_EMBEDDING_MODEL_DIR: the directory holding "
                "model.onnx and tokenizer.json"
            )
        return OnnxEmbedder(settings.embedding_model_dir, settings.embedding_batch_size)
    if settings.embedding_provider == "sentence-transformers":
        from somafractalmemory.embedding.sentence_transformer import SentenceTransformerEmbedder

        model = settings.embedding_model_dir or settings.embedding_model
        return SentenceTransformerEmbedder(str(model), settings.embedding_batch_size)
    return HashingEmbedder(settings.embedding_dimensions)


# Production adapters are imported only when configured: their client libraries are an optional extra.


def build_store(settings: Settings) -> DocumentStore:
    if settings.postgres_url is not None:
        from somafractalmemory import production_wiring

        return production_wiring.postgres_store(settings.postgres_url.get_secret_value(), settings)
    return SQLiteStore(private_directory(settings.data_dir) / DOCUMENT_FILE, scan_rows=settings.max_scan_rows)


def build_index(settings: Settings, dimensions: int) -> VectorIndex:
    if settings.qdrant_url is not None or settings.qdrant_path is not None:
        from somafractalmemory import production_wiring

        return production_wiring.qdrant_index(settings, dimensions)
    path = private_directory(settings.data_dir) / VECTOR_FILE
    return AnnIndex(path, dimensions, threshold=settings.ann_threshold)


def build_cache(settings: Settings) -> Cache:
    if settings.redis_url is not None:
        from somafractalmemory import production_wiring

        return production_wiring.redis_cache(settings.redis_url.get_secret_value())
    return MemoryCache()


def build_rate_limiter(settings: Settings) -> RateLimiter:
    if settings.redis_url is not None:
        from somafractalmemory import production_wiring

        return production_wiring.redis_rate_limiter(settings.redis_url.get_secret_value())
    return MemoryRateLimiter()


def budget(settings: Settings) -> WorkBudget:
    return WorkBudget(
        bulk_items=settings.max_bulk_items,
        batch_results=settings.max_batch_results,
        scan_rows=settings.max_scan_rows,
    )


def build_runtime(settings: Settings, *, start_recovery: bool = True) -> Runtime:
    """The service and its backends. When the index journal lists writes from before an unclean stop,
    ``Runtime.recovery`` replays them: already running in the background, or, with
    ``start_recovery=False``, when the caller runs it."""
    encryption = field_encryption(settings)  # before any backend: a bad key stops the start at once
    pace()  # the collector's, for bulk writes (collector.py)
    embedder = build_embedder(settings)
    store = build_store(settings)
    index_inline = not settings.eventing_enabled
    journal: IndexJournal | None = store if index_inline and isinstance(store, SQLiteStore) else None
    index: VectorIndex = build_index(settings, embedder.dimensions)
    if journal is not None:  # the embedded store: its index is written behind it, the journal marked by it
        index = IndexWriter(index, journal)
    service = MemoryService(
        store,
        index,
        embedder,
        build_cache(settings),
        index_inline=index_inline,
        max_memories_per_namespace=settings.max_memories_per_namespace,
        max_versions=settings.max_versions,
        audit_retention=settings.audit_retention,
        cache_ttl_seconds=settings.cache_ttl_seconds,
        budget=budget(settings),
        fusion=fusion_for(
            settings.embedding_provider,
            settings.recall_dense_weight,
            settings.recall_lexical_weight,
            settings.recall_rrf_k,
        ),
        encryption=encryption,
        feedback=feedback_for(
            settings.embedding_provider, settings.recall_feedback_depth, settings.recall_feedback_weight
        ),
    )
    log.info(
        "memory service ready: store=%s index=%s cache=%s",
        service.store.name,
        service.index.name,
        service.cache.name if service.cache else "none",
    )
    rate_limiter = build_rate_limiter(settings)
    pipeline = None
    if settings.eventing_enabled:
        from somafractalmemory import production_wiring

        pipeline = production_wiring.event_pipeline(
            settings, service.store, service.index, embedder, consume=settings.consume_in_process
        )
        pipeline.start()
    recovery = None
    if journal is not None:
        recovery = IndexRecovery(service, journal)
        if start_recovery:
            recovery.start()
    return Runtime(settings, service, rate_limiter, pipeline, recovery)
