"""Builds the production adapters (PostgreSQL, Qdrant, Redis, Kafka) from settings; ``wiring`` picks them
when their settings are present. Start-up waits for the backends a request cannot do without, with backoff,
logging each attempt; Redis is optional (a cache and shared counters) and is never waited for.
"""

import logging
import time

from somafractalmemory.adapters.memory_rate_limiter import MemoryRateLimiter
from somafractalmemory.adapters.postgres_outbox import PostgresOutbox
from somafractalmemory.adapters.postgres_store import PostgresStore
from somafractalmemory.adapters.qdrant_index import QdrantIndex
from somafractalmemory.adapters.redis_cache import RedisCache
from somafractalmemory.adapters.redis_connection import RedisLink
from somafractalmemory.adapters.redis_rate_limiter import RedisRateLimiter
from somafractalmemory.core.errors import BackendUnavailable
from somafractalmemory.core.ports import Backend, DocumentStore, Embedder, VectorIndex
from somafractalmemory.events.consumer import IndexingConsumer
from somafractalmemory.events.indexer import EventIndexer
from somafractalmemory.events.pipeline import EventPipeline
from somafractalmemory.events.relay import OutboxRelay
from somafractalmemory.events.topics import TopicLayout
from somafractalmemory.settings import Settings

log = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 5.0


def wait_for(backend: Backend, timeout: float) -> None:
    """Ping until the backend answers; BackendUnavailable after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    backoff, attempt = 0.2, 1
    while True:
        try:
            backend.ping()
        except BackendUnavailable as error:
            if time.monotonic() + backoff > deadline:
                raise
            log.warning(
                "waiting for %s (attempt %d, next in %.1fs): %s", backend.name, attempt, backoff, error
            )
            time.sleep(backoff)
            backoff, attempt = min(MAX_BACKOFF_SECONDS, backoff * 2), attempt + 1
            continue
        log.info("%s is reachable (attempt %d)", backend.name, attempt)
        return


def postgres_store(url: str, settings: Settings) -> PostgresStore:
    store = PostgresStore.connect(
        url,
        evented=settings.eventing_enabled,
        max_size=settings.postgres_pool_size,
        scan_rows=settings.max_scan_rows,
    )
    wait_for(store, settings.backend_wait_seconds)
    applied = store.migrate()
    log.info("database schema %s", f"migrated: {applied}" if applied else "up to date")
    return store


def qdrant_index(settings: Settings, dimensions: int) -> QdrantIndex:
    index = QdrantIndex.connect(
        url=settings.qdrant_url,
        path=None if settings.qdrant_url else str(settings.qdrant_path),
        api_key=settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key else None,
        dimensions=dimensions,
        replication_factor=settings.qdrant_replication_factor,
        write_consistency_factor=settings.qdrant_write_consistency_factor,
        shard_number=settings.qdrant_shard_number,
    )
    wait_for(index, settings.backend_wait_seconds)
    return index


def redis_link(url: str) -> RedisLink:
    link = RedisLink.from_url(url)
    try:
        link.ping()
    except BackendUnavailable as error:
        log.warning("starting without Redis for now (cache off, local rate limit): %s", error)
    return link


def redis_cache(url: str) -> RedisCache:
    return RedisCache(redis_link(url))


def redis_rate_limiter(url: str) -> RedisRateLimiter:
    return RedisRateLimiter(redis_link(url), MemoryRateLimiter())


def topic_layout(settings: Settings) -> TopicLayout:
    return TopicLayout(settings.kafka_topic_partitions, settings.kafka_topic_replication)


def outbox_relay(settings: Settings, store: DocumentStore) -> OutboxRelay:
    if settings.kafka_bootstrap_servers is None:
        raise ValueError("EVENTING_ENABLED needs KAFKA_BOOTSTRAP_SERVERS")
    if not isinstance(store, PostgresStore):
        raise ValueError("EVENTING_ENABLED needs POSTGRES_URL: the outbox lives in PostgreSQL")
    topics = [settings.kafka_topic, settings.kafka_dead_letter_topic]
    outbox = PostgresOutbox(store.connection)
    return OutboxRelay(
        outbox,
        settings.kafka_bootstrap_servers,
        settings.kafka_topic,
        topics_to_ensure=topics,
        topic_layout=topic_layout(settings),
    )


def indexing_consumer(settings: Settings, index: VectorIndex, embedder: Embedder) -> IndexingConsumer:
    if settings.kafka_bootstrap_servers is None:
        raise ValueError("the indexing consumer needs KAFKA_BOOTSTRAP_SERVERS")
    return IndexingConsumer(
        EventIndexer(index, embedder),
        settings.kafka_bootstrap_servers,
        settings.kafka_topic,
        settings.kafka_dead_letter_topic,
        settings.kafka_consumer_group,
        topic_layout=topic_layout(settings),
    )


def event_pipeline(
    settings: Settings, store: DocumentStore, index: VectorIndex, embedder: Embedder, *, consume: bool
) -> EventPipeline:
    """The API's part of evented mode: the outbox relay and, with ``consume``, the indexing consumer."""
    consumer = indexing_consumer(settings, index, embedder) if consume else None
    return EventPipeline(outbox_relay(settings, store), consumer)
