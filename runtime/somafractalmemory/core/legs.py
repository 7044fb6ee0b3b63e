"""The two legs of a fused recall, run side by side (issue 15).

The dense leg (the vector index's search) and the lexical leg (the store's word index) need nothing
of each other until the fusion, and each spends its time in native code that runs without Python's
lock (faiss and SQLite in the embedded default, the network with Qdrant and PostgreSQL): the lexical
leg runs on a thread of this module's pool while the caller's thread embeds the query and runs the
dense leg, so a recall waits for the slower leg rather than for both.

A leg handed to another thread costs a little CPU, and it buys nothing once the cores are busy with
other recalls: with every thread of the pool taken, a recall runs both legs in its own thread.
"""

import contextvars
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from typing import TypeVar

A = TypeVar("A")
B = TypeVar("B")

# Legs running beside their recalls at once, at most: a core for each but the one the callers run on.
LEG_THREADS = max(1, (os.cpu_count() or 2) - 1)


class LegsSideBySide:
    def __init__(self, threads: int = LEG_THREADS) -> None:
        self._threads = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="lexical leg")
        self._spare = threads
        self._lock = threading.Lock()

    def run(self, here: Callable[[], A], beside: Callable[[], B]) -> tuple[A, B]:
        """``here`` on this thread while ``beside`` runs on one of the pool's (in this thread's context:
        the audit actor), or after ``here`` on this thread when the pool has no thread spare. Both
        answers once both are done; an error of either is raised here, the other leg having finished
        first, so nothing of the recall runs on after it."""
        with self._lock:
            spare = self._spare > 0
            self._spare -= spare
        if not spare:
            return here(), beside()
        other = self._threads.submit(contextvars.copy_context().run, self._given_back_after, beside)
        try:
            first = here()
        except BaseException:
            wait([other])
            raise
        return first, other.result()

    def _given_back_after(self, leg: Callable[[], B]) -> B:
        """The leg, its thread spare again before its answer is (so the caller's next recall finds it)."""
        try:
            return leg()
        finally:
            with self._lock:
                self._spare += 1


# One pool for the process, whatever the number of services in it: its bound is the host's cores.
LEGS = LegsSideBySide()
