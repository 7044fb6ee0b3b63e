"""The indexing consumer: a consumer-group member that embeds and indexes events, then commits.

Offsets are committed only after the index write of the whole batch, so a consumer that dies mid-batch gets
the batch again, and applying it again changes nothing (deterministic point ids, full-state events). A
backend that is down is waited for (the batch is retried, never skipped); a message that cannot be decoded,
or that keeps failing on its own, goes to the dead-letter topic with its error and source position.
"""

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from confluent_kafka import Consumer, KafkaError, KafkaException, Message, Producer, TopicPartition

from somafractalmemory.adapters.index_events import IndexEvent, decode
from somafractalmemory.core.errors import BackendUnavailable, InvalidInput
from somafractalmemory.events.indexer import EventIndexer
from somafractalmemory.events.kafka_config import DELIVERY_TIMEOUT_MS, consumer_config, producer_config
from somafractalmemory.events.metrics import CONSUMER_LAG, EVENTS_CONSUMED, EVENTS_FAILED, INDEX_LATENCY
from somafractalmemory.events.topics import TopicLayout, ensure_topics

logger = logging.getLogger(__name__)

MAX_BACKOFF_SECONDS = 5.0
LAG_INTERVAL_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class DeadLetter:
    message: Message
    error: str


class StopRequested(Exception):
    """The pipeline is stopping while a batch waits for a backend: leave it uncommitted."""


class IndexingConsumer:
    def __init__(
        self,
        indexer: EventIndexer,
        bootstrap_servers: str,
        topic: str,
        dead_letter_topic: str,
        group_id: str,
        *,
        batch_size: int = 2000,
        poll_timeout: float = 0.05,
        max_attempts: int = 3,
        topic_layout: TopicLayout | None = None,
    ) -> None:
        self._indexer = indexer
        self._bootstrap = bootstrap_servers
        self._topic = topic
        self._dead_letter_topic = dead_letter_topic
        self._group_id = group_id
        self._batch_size = batch_size
        self._poll_timeout = poll_timeout
        self._max_attempts = max_attempts
        self._topic_layout = topic_layout or TopicLayout()
        self.last_heartbeat = time.monotonic()
        self._lag_at = 0.0

    # The loop.
    def run(self, stop: threading.Event) -> None:
        self._wait_for_topics(stop)
        if stop.is_set():
            return
        consumer = Consumer(consumer_config(self._bootstrap, self._group_id))
        dead_letters = Producer(producer_config(self._bootstrap, f"{self._group_id}-dead-letters"))
        consumer.subscribe([self._topic])
        logger.info("consuming %s as group %s", self._topic, self._group_id)
        try:
            while not stop.is_set():
                self.last_heartbeat = time.monotonic()
                polled = consumer.consume(self._batch_size, self._poll_timeout)
                messages = [message for message in polled if self._usable(message)]
                if messages:
                    self._handle_batch(consumer, dead_letters, messages, stop)
                self._record_lag(consumer)
        except StopRequested:
            logger.info("stopping with a batch uncommitted: it will be delivered again")
        finally:
            consumer.close()
            dead_letters.flush(DELIVERY_TIMEOUT_MS / 1000)

    def _wait_for_topics(self, stop: threading.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            try:
                ensure_topics(self._bootstrap, [self._topic, self._dead_letter_topic], self._topic_layout)
                return
            except KafkaException as error:
                logger.warning("waiting %.1fs for the broker at %s: %s", backoff, self._bootstrap, error)
                self.last_heartbeat = time.monotonic()
                stop.wait(backoff)
                backoff = min(MAX_BACKOFF_SECONDS, backoff * 2)

    @staticmethod
    def _usable(message: Message) -> bool:
        error = message.error()
        if error is None:
            return True
        if error.code() != KafkaError._PARTITION_EOF:
            logger.warning("consumer: %s", error)
        return False

    def _handle_batch(
        self, consumer: Consumer, dead_letters: Producer, messages: list[Message], stop: threading.Event
    ) -> None:
        try:
            self._process(dead_letters, messages, stop)
        except KafkaException as error:
            logger.warning("dead-letter topic unavailable, the batch will be read again: %s", error)
            self._rewind(consumer, messages)
            stop.wait(1.0)
            return
        try:
            consumer.commit(offsets=_next_offsets(messages), asynchronous=False)
        except KafkaException as error:
            logger.warning("commit failed, the batch may be delivered again (harmless): %s", error)

    # One batch.
    def _process(self, dead_letters: Producer, messages: Sequence[Message], stop: threading.Event) -> None:
        decoded: list[tuple[Message, IndexEvent]] = []
        rejected: list[DeadLetter] = []
        for message in messages:
            try:
                decoded.append((message, decode(message.value() or b"")))
            except InvalidInput as invalid:
                rejected.append(DeadLetter(message, str(invalid)))
        events = [event for _, event in decoded]
        try:
            self._with_backend(lambda: self._indexer.apply(events), stop)
            applied = events
        except StopRequested:
            raise
        except Exception:  # a poison event in the batch: find it by applying each on its own
            logger.exception("batch of %d events failed; applying them one by one", len(events))
            applied = []
            for message, event in decoded:
                failure = self._apply_alone(event, stop)
                if failure is None:
                    applied.append(event)
                else:
                    rejected.append(DeadLetter(message, failure))
        if rejected:
            self._dead_letter(dead_letters, rejected)
        now = time.time()
        for event in applied:
            INDEX_LATENCY.observe(max(0.0, now - event.emitted_at))
        EVENTS_CONSUMED.inc(len(applied))

    def _apply_alone(self, event: IndexEvent, stop: threading.Event) -> str | None:
        """None when applied; the last error after ``max_attempts`` failures otherwise."""
        last_error = ""
        for _ in range(self._max_attempts):
            try:
                self._with_backend(lambda: self._indexer.apply([event]), stop)
                return None
            except StopRequested:
                raise
            except Exception as failure:  # recorded with the dead letter
                last_error = f"{type(failure).__name__}: {failure}"
        return last_error

    def _with_backend(self, operation: Callable[[], None], stop: threading.Event) -> None:
        """Run ``operation``, waiting out index outages with backoff (the batch is never skipped)."""
        backoff = 0.2
        while True:
            try:
                operation()
                return
            except BackendUnavailable as error:
                logger.warning("index unavailable, retrying the batch in %.1fs: %s", backoff, error)
                self.last_heartbeat = time.monotonic()
                if stop.wait(backoff):
                    raise StopRequested from error
                backoff = min(MAX_BACKOFF_SECONDS, backoff * 2)

    def _dead_letter(self, producer: Producer, letters: list[DeadLetter]) -> None:
        failures: list[KafkaError] = []

        def report(error: KafkaError | None, _message: Message) -> None:
            if error is not None:
                failures.append(error)

        for letter in letters:
            source = "/".join(str(part) for part in _position(letter.message))
            logger.error("dead-lettering %s: %s", source, letter.error)
            producer.produce(
                self._dead_letter_topic,
                value=letter.message.value(),
                key=letter.message.key(),
                headers=[("error", letter.error.encode()), ("source", source.encode())],
                on_delivery=report,
            )
        remaining = producer.flush(DELIVERY_TIMEOUT_MS / 1000 + 2)
        if failures or remaining:
            raise KafkaException(failures[0] if failures else KafkaError(KafkaError._MSG_TIMED_OUT))
        EVENTS_FAILED.inc(len(letters))

    @staticmethod
    def _rewind(consumer: Consumer, messages: Sequence[Message]) -> None:
        first: dict[tuple[str, int], int] = {}
        for message in messages:
            topic, partition, offset = _position(message)
            first[(topic, partition)] = min(first.get((topic, partition), offset), offset)
        for (topic, partition), offset in first.items():
            consumer.seek(TopicPartition(topic, partition, offset))

    def _record_lag(self, consumer: Consumer) -> None:
        now = time.monotonic()
        if now - self._lag_at < LAG_INTERVAL_SECONDS:
            return
        self._lag_at = now
        try:
            for position in consumer.position(consumer.assignment()):
                _low, high = consumer.get_watermark_offsets(position, cached=True)  # updated by every fetch
                lag = high - position.offset if position.offset >= 0 else high
                CONSUMER_LAG.labels(partition=str(position.partition)).set(max(0, lag))
        except KafkaException as error:
            logger.debug("lag not measured: %s", error)


def _next_offsets(messages: Sequence[Message]) -> list[TopicPartition]:
    """The offsets to commit: one past the last message of each partition."""
    last: dict[tuple[str, int], int] = {}
    for message in messages:
        topic, partition, offset = _position(message)
        last[(topic, partition)] = max(last.get((topic, partition), offset), offset)
    return [TopicPartition(topic, partition, offset + 1) for (topic, partition), offset in last.items()]


def _position(message: Message) -> tuple[str, int, int]:
    topic, partition, offset = message.topic(), message.partition(), message.offset()
    if topic is None or partition is None or offset is None:
        raise ValueError("a consumed message has no topic, partition or offset")
    return topic, partition, offset
