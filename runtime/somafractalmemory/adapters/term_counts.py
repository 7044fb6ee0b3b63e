"""The document frequencies a store counted for its lexical leg, remembered per namespace for a short time.

Counting a term's texts (up to the leg's budget) visits each of them: milliseconds a term on PostgreSQL,
on every query. A store remembers each count for ``ttl`` seconds instead. A count only weighs a term (its
inverse document frequency) and decides whether it is rare or common (``core.terms.by_rarity``), and a
document frequency moves slowly, so a count up to ``ttl`` seconds old ranks about as the exact one. A term
in no text is never remembered: a write may add it at any moment, and the memory just written must be
found by its words at once. The namespace's number of memories, the ``N`` of the frequencies, is
remembered alike: a lexical leg whose terms and ``N`` are all remembered makes no counting round trip.

A **common** term's count (more texts than the leg scores: the count stopped at its cap) only says that
the term is common, which thousands of writes or deletes would change: it is remembered for
``common_ttl`` seconds (5 minutes), each for a share of it between a half and all of it, so that the terms
one query counted together are not all counted again by one later query.
"""

import random
import time
from collections.abc import Callable

DEFAULT_TTL_SECONDS = 30.0
DEFAULT_ENTRIES = 10_000
DEFAULT_COMMON_TTL_SECONDS = 300.0


class TermCounts:
    def __init__(
        self,
        ttl: float = DEFAULT_TTL_SECONDS,
        entries: int = DEFAULT_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
        common_ttl: float = DEFAULT_COMMON_TTL_SECONDS,
        spread: Callable[[], float] = random.random,
    ) -> None:
        self._ttl = ttl
        self._common_ttl = common_ttl
        self._spread = spread
        self._entries = entries
        self._clock = clock
        self._counts: dict[tuple[str, str], tuple[float, int]] = {}
        self._totals: dict[str, tuple[float, int]] = {}

    def get(self, namespace: str, term: str) -> int | None:
        """The term's count in ``namespace`` if counted less than ``ttl`` seconds ago."""
        entry = self._counts.get((namespace, term))
        return entry[1] if entry is not None and self._clock() < entry[0] else None

    def remember(self, namespace: str, term: str, count: int, *, common: bool = False) -> None:
        """Keep a count for ``ttl`` seconds, a ``common`` one for a half to all of ``common_ttl``; a
        count of 0 is not kept."""
        if count <= 0:
            return
        if len(self._counts) >= self._entries:
            self._counts.clear()  # bounded: start over rather than track an order
        ttl = self._common_ttl * (1 + self._spread()) / 2 if common else self._ttl
        self._counts[(namespace, term)] = (self._clock() + ttl, count)

    def total(self, namespace: str) -> int | None:
        """The namespace's memories if counted less than ``ttl`` seconds ago."""
        entry = self._totals.get(namespace)
        return entry[1] if entry is not None and self._clock() < entry[0] else None

    def remember_total(self, namespace: str, total: int) -> None:
        """Keep the namespace's count of memories for ``ttl`` seconds."""
        if len(self._totals) >= self._entries:
            self._totals.clear()
        self._totals[namespace] = (self._clock() + self._ttl, total)
