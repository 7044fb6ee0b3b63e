"""Start-up recovery: bring the vector index back in step with the document store after a crash.

The store's journal lists the writes the index may have missed (a crash between the two). Each is
replayed from the store's current state, in both directions: a memory the store holds is embedded and
upserted, a key the store no longer holds is deleted from the index. Replaying is idempotent, so an
entry the index had in fact applied costs a little time and changes nothing. A clean start finds the
journal empty and does nothing. Only the ports are used, so any index adapter is recovered the same way.
"""

import logging
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.indexing import vector_points
from somafractalmemory.core.ports import IndexJournal, PendingWrite
from somafractalmemory.core.service import MemoryService

log = logging.getLogger(__name__)

CHUNK = 64  # memories replayed under one hold of the write lock: a few milliseconds
PROGRESS_EVERY = 10_000  # memories between two progress lines in the log


class RecoveryState(StrEnum):
    IDLE = "idle"  # nothing to recover
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class RecoveryStatus:
    state: RecoveryState
    replayed: int  # keys replayed so far
    entries_left: int
    error: str | None = None

    @property
    def ready(self) -> bool:
        return self.state in (RecoveryState.IDLE, RecoveryState.DONE)

    def describe(self) -> str:
        if self.state is RecoveryState.FAILED:
            return f"index recovery failed: {self.error}"
        return (
            f"recovering the vector index after an unclean stop: {self.replayed:,} memories replayed, "
            f"{self.entries_left:,} journal entries left"
        )


class IndexRecovery:
    """Replays the journal in a background thread (``start``) or the caller's (``run``)."""

    def __init__(self, service: MemoryService, journal: IndexJournal) -> None:
        self._service = service
        self._journal = journal
        self._pending = journal.pending()
        self._lock = threading.Lock()
        self._status = RecoveryStatus(
            RecoveryState.RUNNING if self._pending else RecoveryState.IDLE, 0, len(self._pending)
        )
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def status(self) -> RecoveryStatus:
        with self._lock:
            return self._status

    def start(self) -> None:
        if self._pending:
            self._thread = threading.Thread(target=self.run, name="soma-index-recovery", daemon=True)
            self._thread.start()

    def wait(self) -> None:
        """Until the background replay is over."""
        if self._thread is not None:
            self._thread.join()

    def stop(self) -> None:
        """Stop between chunks (what is left stays in the journal for the next start)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()

    def run(self) -> None:
        if not self._pending:
            return
        log.warning(
            "the vector index may have missed %d writes before an unclean stop: replaying them",
            len(self._pending),
        )
        replayed = 0
        try:
            for left, entry in zip(range(len(self._pending) - 1, -1, -1), self._pending, strict=True):
                for chunk in self._chunks(entry):
                    if self._stopping.is_set():
                        return
                    self._replay(entry.namespace, chunk)
                    replayed += len(chunk)
                    self._set(RecoveryStatus(RecoveryState.RUNNING, replayed, left + 1))
                    if replayed % PROGRESS_EVERY < len(chunk):
                        log.info("index recovery: %d memories replayed so far", replayed)
                self._service.index.settle()  # an index written behind the store holds the replay first
                self._journal.resolve(entry.entry)
                log.info("index recovery: %d memories replayed, %d journal entries left", replayed, left)
        except Exception as error:
            log.exception("index recovery failed; the journal keeps what is left for the next start")
            self._set(RecoveryStatus(RecoveryState.FAILED, replayed, len(self._pending), str(error)))
            return
        self._set(RecoveryStatus(RecoveryState.DONE, replayed, 0))
        log.info("index recovery done: %d memories replayed", replayed)

    def _set(self, status: RecoveryStatus) -> None:
        with self._lock:
            self._status = status

    def _chunks(self, entry: PendingWrite) -> Iterator[Sequence[Coordinate]]:
        if entry.coordinates is not None:
            for start in range(0, len(entry.coordinates), CHUNK):
                yield entry.coordinates[start : start + CHUNK]
            return
        chunk: list[Coordinate] = []
        for memory in self._service.store.iter_memories(entry.namespace):
            chunk.append(memory.coordinate)
            if len(chunk) == CHUNK:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _replay(self, namespace: str, coordinates: Sequence[Coordinate]) -> None:
        """Under the service's write lock, so a write that lands meanwhile is not overtaken."""
        service = self._service
        with service.writing:
            found = service.store.get_many(namespace, coordinates)
            if found:
                service.index.upsert(vector_points(service.embedder, list(found.values())))
            gone = [c for c in coordinates if c not in found]
            if gone:
                service.index.delete(namespace, gone)
