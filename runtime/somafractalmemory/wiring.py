"""Builds the memory service and its adapters from settings: the only place that picks adapters."""

import logging
from dataclasses import dataclass

from somafractalmemory.adapters.memory_cache import MemoryCache
from somafractalmemory.adapters.memory_rate_limiter import MemoryRateLimiter
from somafractalmemory.adapters.numpy_index import NumpyIndex
from somafractalmemory.adapters.sqlite_store import SQLiteStore
from somafractalmemory.core.ports import Backend, Cache, DocumentStore, Embedder, RateLimiter, VectorIndex
from somafractalmemory.core.service import MemoryService
from somafractalmemory.embedding.hashing import HashingEmbedder
from somafractalmemory.settings import Settings

log = logging.getLogger(__name__)

DOCUMENT_FILE = "memories.sqlite"
VECTOR_FILE = "vectors.sqlite"


@dataclass
class Runtime:
    """A built service with everything that must be probed for readiness and closed at the end."""

    settings: Settings
    service: MemoryService
    rate_limiter: RateLimiter

    @property
    def backends(self) -> list[Backend]:
        return [*self.service.backends(), self.rate_limiter]

    def close(self) -> None:
        for backend in self.backends:
            backend.close()


def build_embedder(settings: Settings) -> Embedder:
    if settings.embedding_provider == "sentence-transformers":
        from somafractalmemory.embedding.sentence_transformer import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(settings.embedding_model)
    return HashingEmbedder(settings.embedding_dimensions)


def build_store(settings: Settings) -> DocumentStore:
    return SQLiteStore(settings.data_dir / DOCUMENT_FILE)


def build_index(settings: Settings, dimensions: int) -> VectorIndex:
    return NumpyIndex(settings.data_dir / VECTOR_FILE, dimensions)


def build_cache(settings: Settings) -> Cache:
    return MemoryCache()


def build_rate_limiter(settings: Settings) -> RateLimiter:
    return MemoryRateLimiter()


def build_runtime(settings: Settings) -> Runtime:
    embedder = build_embedder(settings)
    service = MemoryService(
        build_store(settings),
        build_index(settings, embedder.dimensions),
        embedder,
        build_cache(settings),
        index_inline=not settings.eventing_enabled,
        max_memories_per_namespace=settings.max_memories_per_namespace,
        cache_ttl_seconds=settings.cache_ttl_seconds,
    )
    log.info(
        "memory service ready: store=%s index=%s cache=%s",
        service.store.name,
        service.index.name,
        service.cache.name if service.cache else "none",
    )
    return Runtime(settings, service, build_rate_limiter(settings))
