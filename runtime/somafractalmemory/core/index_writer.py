"""The vector index written behind the store, on a thread of its own (the embedded default, issue 15).

A write returns once the store committed it, and the next write's store work runs while the index takes
this one: the two share the cores (SQLite and the vector search run without the GIL). Nothing a caller
sees changes:

- every read of the index first waits for the writes handed over before it, so a recall sees every
  memory stored before it was asked, and a delete is never overtaken by an earlier upsert;
- writes reach the index in the order they were handed over;
- the store's journal is marked applied only through the last write the index holds: a crash before the
  index took a write leaves it in the journal, and start-up recovery replays it;
- at most ``WRITES_AHEAD`` writes wait, after which a writer waits for the index;
- a write of fewer than ``THREADED_AT`` memories (a single store) is made in the caller's thread once
  the writes before it are in: handing it over would cost more than it saves.

When the index refuses a write, the writer logs it, the journal is no longer marked applied (every write
from then on is replayed at the next start), and ``ping`` reports the failure, so readiness says the
index is behind.
"""

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence

from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.errors import BackendUnavailable
from somafractalmemory.core.filters import MemoryFilter
from somafractalmemory.core.indexing import THREADED_AT
from somafractalmemory.core.models import MemoryType, VectorHit, VectorPoint
from somafractalmemory.core.ports import IndexJournal, VectorIndex, Vectors

log = logging.getLogger(__name__)

WRITES_AHEAD = 2  # writes handed over and not yet in the index, at most
# How long a read (or a writer finding two writes waiting) waits for the index before it gives up with
# BackendUnavailable: far beyond what a write takes (a bulk of 10,000 and the IVF training, seconds), so
# only an index that stopped taking writes reaches it.
WAIT_SECONDS = 60.0


class IndexWriter:
    def __init__(self, index: VectorIndex, journal: IndexJournal) -> None:
        self.inner = index
        self._journal = journal
        self._waiting: deque[tuple[Callable[[], None], int]] = deque()
        self._changed = threading.Condition()
        self._handed = self._applied = 0  # writes handed over, writes the index took (or refused)
        self._failure: str | None = None
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="index writer", daemon=True)
        self._thread.start()

    @property
    def name(self) -> str:
        return self.inner.name

    # --- writes -------------------------------------------------------------------------------

    def upsert(self, points: Sequence[VectorPoint]) -> None:
        self._hand(lambda: self.inner.upsert(points), len(points))

    def delete(self, namespace: str, coordinates: Sequence[Coordinate]) -> None:
        self._hand(lambda: self.inner.delete(namespace, coordinates), len(coordinates))

    def _hand(self, write: Callable[[], None], size: int) -> None:
        """Queue a write, or make a small one here once the ones before it are in; the caller holds the
        service's write lock, so the journal's last entry is the one of this write."""
        through = self._journal.recorded()
        if size < THREADED_AT:
            self.settle()
            self._apply(write, through)
            return
        with self._changed:
            if self._closing:
                raise BackendUnavailable(self.name, "the index is closed")
            if not self._changed.wait_for(lambda: len(self._waiting) < WRITES_AHEAD, WAIT_SECONDS):
                raise self._stalled()
            self._waiting.append((write, through))
            self._handed += 1
            self._changed.notify_all()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._waiting and not self._closing:
                    self._changed.wait()
                if not self._waiting:
                    return
                write, through = self._waiting[0]
            self._apply(write, through)
            with self._changed:
                self._waiting.popleft()
                self._applied += 1
                self._changed.notify_all()

    def _apply(self, write: Callable[[], None], through: int) -> None:
        try:
            write()
        except Exception as error:
            log.exception(
                "the vector index refused a write; it is replayed from the journal at the next start"
            )
            with self._changed:
                self._failure = f"a write failed ({error}); restart to replay it from the journal"
            return
        if self._failure is None:
            self._journal.applied(through)

    # --- reads --------------------------------------------------------------------------------

    def settle(self) -> None:
        """Returns once the index holds every write handed over before this call."""
        with self._changed:
            target = self._handed
            if not self._changed.wait_for(lambda: self._applied >= target, WAIT_SECONDS):
                raise self._stalled()

    def _stalled(self) -> BackendUnavailable:
        return BackendUnavailable(self.name, f"the vector index took no write for {WAIT_SECONDS:.0f} s")

    def search(
        self,
        namespace: str,
        vector: Vectors,
        *,
        top_k: int,
        memory_type: MemoryType | None,
        conditions: MemoryFilter,
    ) -> list[VectorHit]:
        self.settle()
        return self.inner.search(
            namespace, vector, top_k=top_k, memory_type=memory_type, conditions=conditions
        )

    def vectors(self, namespace: str, coordinates: Sequence[Coordinate]) -> Vectors:
        self.settle()
        return self.inner.vectors(namespace, coordinates)

    # --- lifecycle ----------------------------------------------------------------------------

    def ping(self) -> None:
        if self._failure is not None:
            raise BackendUnavailable(self.name, self._failure)
        self.inner.ping()

    def close(self) -> None:
        """Every write handed over goes in first."""
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._thread.join()
        self.inner.close()
