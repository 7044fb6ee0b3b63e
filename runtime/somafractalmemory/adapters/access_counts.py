"""Access counts gathered in process and written in batches, so that a recall never waits for them.

A recall adds one to the access count of each memory it returns. Writing that at once costs each recall
a round trip and a write transaction; instead ``AccessCounts`` adds the increments up in memory and a
background thread hands them to ``write`` every ``interval`` seconds, or sooner when ``entries``
memories are waiting, and once more on ``close``. The store adds the increments not yet written to the
counts it reads (``pending``), so one process reads its own recalls' counts at once; another process
sees them up to ``interval`` seconds late. Increments whose write fails are kept for the next one.
"""

import contextlib
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 0.2
DEFAULT_ENTRIES = 1000

Key = tuple[str, str]  # (namespace, coordinate key)


class AccessCounts:
    def __init__(
        self,
        write: Callable[[Mapping[Key, int]], None],
        *,
        interval: float = DEFAULT_INTERVAL_SECONDS,
        entries: int = DEFAULT_ENTRIES,
    ) -> None:
        self._write = write
        self._interval = interval
        self._entries = entries
        self._lock = threading.Lock()
        self._waiting: Counter[Key] = Counter()  # not yet handed to ``write``
        self._writing: Counter[Key] = Counter()  # handed to ``write``, not yet written
        self._flushing = threading.Lock()  # one write at a time, in the order taken
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None

    def add(self, keys: Iterable[Key]) -> None:
        """One access for each key; the background writer starts with the first."""
        with self._lock:
            self._waiting.update(keys)
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._run, name="soma-access-counts", daemon=True)
                self._thread.start()
            if len(self._waiting) >= self._entries:
                self._wake.set()

    def pending(self, key: Key) -> int:
        """The increments of ``key`` not yet written."""
        with self._lock:
            return self._waiting[key] + self._writing[key]

    def flush(self) -> None:
        """Write what is waiting now; on failure it waits again for the next flush."""
        with self._flushing:
            with self._lock:
                batch, self._waiting = self._waiting, Counter()
                self._writing.update(batch)
            if not batch:
                return
            try:
                self._write(batch)
            except Exception:
                logger.warning("access counts of %d memories not written, kept", len(batch), exc_info=True)
                with self._lock:
                    self._waiting.update(batch)
                    self._writing.subtract(batch)
                    self._writing = +self._writing
                raise
            with self._lock:
                self._writing.subtract(batch)
                self._writing = +self._writing

    def close(self) -> None:
        """Stop the writer and write what is left."""
        with self._lock:
            self._closed = True
            thread = self._thread
        self._wake.set()
        if thread is not None:
            thread.join()
        try:
            self.flush()
        except Exception:
            with self._lock:
                lost = len(self._waiting)
            logger.error("closing: access counts of %d memories could not be written", lost)

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._closed:
                return
            with contextlib.suppress(Exception):  # logged by flush; the increments wait for the next
                self.flush()
