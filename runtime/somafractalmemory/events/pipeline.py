"""The event pipeline as one object with start() and stop(): the outbox relay and/or the indexing consumer,
each on its own thread. ``soma consume`` runs the consumer; ``soma serve --consume`` runs both inside the API.
"""

import logging
import threading
import time

from somafractalmemory.events.consumer import IndexingConsumer
from somafractalmemory.events.relay import OutboxRelay

logger = logging.getLogger(__name__)

# A consumer loop that has not turned for this long is reported unhealthy.
STALL_SECONDS = 60.0


class EventPipeline:
    def __init__(self, relay: OutboxRelay | None = None, consumer: IndexingConsumer | None = None) -> None:
        if relay is None and consumer is None:
            raise ValueError("an event pipeline needs a relay, a consumer or both")
        self._relay = relay
        self._consumer = consumer
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        self._stop.clear()
        runners = [("soma-outbox-relay", self._relay), ("soma-indexing-consumer", self._consumer)]
        self._threads = [
            threading.Thread(target=runner.run, args=(self._stop,), name=name, daemon=True)
            for name, runner in runners
            if runner is not None
        ]
        for thread in self._threads:
            thread.start()
        logger.info("event pipeline started: %s", ", ".join(thread.name for thread in self._threads))

    def stop(self, timeout: float = 20.0) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("%s did not stop within %.0fs", thread.name, timeout)
        self._threads = []

    def healthy(self) -> bool:
        """Every thread alive, and the consumer's loop turning."""
        if not self._threads or not all(thread.is_alive() for thread in self._threads):
            return False
        return self._consumer is None or time.monotonic() - self._consumer.last_heartbeat < STALL_SECONDS
