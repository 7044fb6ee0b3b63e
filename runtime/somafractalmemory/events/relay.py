"""The outbox relay: publishes outbox rows to the topic in batches and deletes those the broker acknowledged.

One batch is produced, then flushed once (an idempotent producer keeps each partition in order across
retries); only rows whose delivery was acknowledged are deleted, in the transaction that read them. A broker
that is down leaves the rows in the outbox, and they are published when it is back: nothing is lost and the
API never waits for the broker.
"""

import logging
import threading
from collections.abc import Callable

from confluent_kafka import KafkaError, KafkaException, Message, Producer

from somafractalmemory.adapters.postgres_outbox import OutboxBatch, PostgresOutbox
from somafractalmemory.core.errors import BackendUnavailable
from somafractalmemory.events.kafka_config import DELIVERY_TIMEOUT_MS, producer_config
from somafractalmemory.events.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG, RELAY_FAILURES
from somafractalmemory.events.topics import TopicLayout, ensure_topics

logger = logging.getLogger(__name__)

FLUSH_TIMEOUT_SECONDS = DELIVERY_TIMEOUT_MS / 1000 + 2
MAX_BACKOFF_SECONDS = 5.0


class OutboxRelay:
    def __init__(
        self,
        outbox: PostgresOutbox,
        bootstrap_servers: str,
        topic: str,
        *,
        batch_size: int = 2000,
        idle_wait: float = 0.02,
        topics_to_ensure: list[str] | None = None,
        topic_layout: TopicLayout | None = None,
    ) -> None:
        self._outbox = outbox
        self._bootstrap = bootstrap_servers
        self._topic = topic
        self._batch_size = batch_size
        self._idle_wait = idle_wait
        self._topics = topics_to_ensure or [topic]
        self._topic_layout = topic_layout or TopicLayout()
        self._producer: Producer | None = None
        self._topics_ready = False

    def _ready_producer(self) -> Producer:
        if not self._topics_ready:
            ensure_topics(self._bootstrap, self._topics, self._topic_layout)
            self._topics_ready = True
        if self._producer is None:
            self._producer = Producer(producer_config(self._bootstrap, "soma-outbox-relay"))
        return self._producer

    def publish_batch(self) -> int:
        """Publish the oldest outbox rows once; returns how many the broker acknowledged."""
        with self._outbox.drain(self._batch_size) as batch:
            if not batch.entries:
                return 0
            producer = self._ready_producer()
            try:
                errors = self._produce(producer, batch)
                producer.flush(FLUSH_TIMEOUT_SECONDS)
            except KafkaException:
                # A producer in a fatal state (e.g. its idempotence state lost by a restarted broker:
                # UNKNOWN_PRODUCER_ID) refuses every later produce; only a new one publishes again.
                self._reset(producer)
                raise
            failed = len(batch.entries) - len(batch.delivered)
        EVENTS_PUBLISHED.inc(len(batch.delivered))
        if failed:
            RELAY_FAILURES.inc(failed)
            self._reset(producer)
            first = errors[0] if errors else KafkaError(KafkaError._MSG_TIMED_OUT)
            raise KafkaException(KafkaError(first.code(), f"{failed} events not acknowledged: {first.str()}"))
        return len(batch.delivered)

    def _reset(self, producer: Producer) -> None:
        """Start over with a new producer and check the topics again: the broker may have restarted without
        its topics or its idempotence state, and the rows are published again from the outbox anyway."""
        producer.purge()
        producer.flush(0)
        self._producer = None
        self._topics_ready = False

    def _produce(self, producer: Producer, batch: OutboxBatch) -> list[KafkaError]:
        """Produce every entry; the returned list fills with delivery errors during the flush."""
        errors: list[KafkaError] = []

        def delivered(entry_id: int) -> Callable[[KafkaError | None, Message], None]:
            def report(error: KafkaError | None, _message: Message) -> None:
                if error is None:
                    batch.delivered.add(entry_id)
                else:
                    errors.append(error)

            return report

        for entry in batch.entries:
            while True:
                try:
                    producer.produce(
                        self._topic,
                        value=entry.event,
                        key=entry.key.encode(),
                        on_delivery=delivered(entry.id),
                    )
                    break
                except BufferError:
                    producer.poll(0.1)  # the local queue is full: let deliveries drain
        return errors

    def _record_backlog(self) -> None:
        try:
            OUTBOX_BACKLOG.set(self._outbox.backlog())
        except BackendUnavailable:
            return  # the next successful round records it

    def run(self, stop: threading.Event) -> None:
        """Relay until ``stop`` is set, backing off while PostgreSQL or the broker is unavailable."""
        backoff = 0.0
        while not stop.is_set():
            try:
                published = self.publish_batch()
            except (BackendUnavailable, KafkaException) as error:
                backoff = min(MAX_BACKOFF_SECONDS, backoff * 2 or 0.2)
                logger.warning("outbox relay waiting %.1fs: %s", backoff, error)
                self._record_backlog()
                stop.wait(backoff)
                continue
            backoff = 0.0
            if published:
                self._record_backlog()
            else:
                stop.wait(self._idle_wait)
        if self._producer is not None:
            self._producer.flush(FLUSH_TIMEOUT_SECONDS)
