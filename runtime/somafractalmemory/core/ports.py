"""The ports the core talks through. Each has an embedded adapter and a production adapter.

Adapters raise ``BackendUnavailable`` when their backend cannot be reached, and ``ping`` raises it too:
the API turns it into 503 and readiness names the backend.
"""

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from somafractalmemory.core.audit import AuditEntry, AuditTrail
from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.filters import MemoryFilter
from somafractalmemory.core.importance import MemoryOrder
from somafractalmemory.core.models import (
    Link,
    Memory,
    MemoryType,
    MemoryVersion,
    ScoredMemory,
    Stats,
    StoredVersion,
    VectorHit,
    VectorPoint,
)

Vectors = NDArray[np.float32]


class Backend(Protocol):
    """What every adapter has: a name for readiness and metrics, a liveness probe, and a close."""

    @property
    def name(self) -> str: ...

    def ping(self) -> None: ...

    def close(self) -> None: ...


class DocumentStore(Backend, Protocol):
    """The source of truth for memories, links, per-namespace counters (and, in evented mode, the outbox).

    An adapter built for evented mode writes an outbox event in the same transaction as every
    ``put_many`` and ``delete``; the core does not need to know.
    """

    def put_many(
        self,
        memories: Sequence[Memory],
        *,
        keep_versions: int = 0,
        audit: AuditTrail | None = None,
        before_commit: Callable[[], object] | None = None,
    ) -> None:
        """Insert or replace, keeping created_at and access_count of a replaced memory, in one transaction.
        With ``keep_versions`` > 0, the content each replace overwrites becomes the memory's next version
        (``replaced_at``: the new memory's ``updated_at``) and only the newest ``keep_versions`` versions
        of it stay, in the same transaction, as do the ``audit`` entries (the log keeping its newest
        ``audit.keep``). ``before_commit`` is called in the transaction after its writes: when it raises,
        nothing is written."""

    def put_if_unchanged(
        self,
        namespace: str,
        memories: Sequence[Memory],
        read: Mapping[Coordinate, float],
        *,
        keep_versions: int = 0,
        audit: AuditTrail | None = None,
        before_commit: Callable[[], object] | None = None,
    ) -> list[Coordinate]:
        """``put_many`` of the namespace's ``memories`` on one condition, checked in the same transaction
        (so against every process and connection): each memory of ``read`` is still stored with the
        ``updated_at`` it had when it was read (every write stamps its own). Answers the coordinates of
        ``read`` that were written in between or deleted; when there are any, nothing is written."""

    def versions(self, namespace: str, coordinate: Coordinate) -> list[MemoryVersion]:
        """The kept versions of a memory, newest first; [] when it has none."""

    def add_versions(self, versions: Sequence[StoredVersion]) -> int:
        """Write versions as they are, numbers included (a restore); a version whose memory already has
        that number is left as stored. Answers how many were written."""

    def ordered(
        self, namespace: str, order: MemoryOrder, limit: int, memory_type: MemoryType | None
    ) -> list[Memory]:
        """The first ``limit`` memories (of the type) in ``order``: recent is last written first;
        important is most important first, then last written."""

    def get(self, namespace: str, coordinate: Coordinate) -> Memory | None: ...

    def get_many(self, namespace: str, coordinates: Sequence[Coordinate]) -> dict[Coordinate, Memory]:
        """The memories that exist among ``coordinates``; missing ones are simply absent."""

    def existing(self, namespace: str, coordinates: Sequence[Coordinate]) -> set[Coordinate]:
        """Those of ``coordinates`` that are stored, read from the key index alone (no memory is read):
        what a fused recall asks of its dense leg's candidates, of which it shows only a few."""

    def delete(
        self,
        namespace: str,
        coordinate: Coordinate,
        *,
        audit: AuditTrail | None = None,
        if_updated_at: float | None = None,
    ) -> bool:
        """Remove a memory, its versions and every link that touches it; False when there was nothing to
        remove (and then nothing is audited). The ``audit`` entries go in the same transaction. With
        ``if_updated_at``, only a memory still stored with that ``updated_at`` is removed (checked in the
        transaction): False when it was written since."""

    def audit_entries(
        self, namespace: str, coordinate: Coordinate | None, limit: int, before: int | None
    ) -> list[AuditEntry]:
        """The namespace's audit entries (of one memory), newest first, older than entry ``before``."""

    def record_access(self, namespace: str, coordinates: Sequence[Coordinate]) -> None: ...

    def keyword_search(
        self,
        namespace: str,
        term: str,
        *,
        exact: bool,
        case_sensitive: bool,
        memory_type: MemoryType | None,
        limit: int,
    ) -> list[Memory]:
        """exact: some string value of the payload equals the term; otherwise some value contains it.
        The matches come most relevant to the term first (the lexical index's ranking), then most
        important and most recent."""

    def lexical_search(
        self,
        namespace: str,
        terms: Sequence[str],
        *,
        memory_type: MemoryType | None,
        conditions: MemoryFilter,
        limit: int,
    ) -> list[ScoredMemory]:
        """The memories whose words hold any of ``terms`` (each a word or a phrase), ranked by the
        store's lexical relevance (higher is better), among those of the type that pass the conditions;
        at most ``limit``. Read from a word index kept in the same transaction as every write."""

    def coordinate_range(
        self, namespace: str, low: Coordinate, high: Coordinate, memory_type: MemoryType | None
    ) -> list[Coordinate]:
        """Coordinates of the same dimension as ``low``/``high`` lying inside the box, both ends included."""

    def stats(self, namespace: str) -> Stats:
        """From counters kept on write, never a scan."""

    def all_stats(self) -> dict[str, Stats]:
        """The counters of every namespace that has memories (for metrics), never a scan of memories."""

    def least_important(self, namespace: str, count: int) -> list[Coordinate]:
        """The ``count`` memories first in line for eviction: lowest importance, then oldest."""

    def iter_memories(self, namespace: str) -> Iterator[Memory]: ...

    def mark_embedder(self, namespace: str, coordinates: Sequence[Coordinate], embedder: str) -> None:
        """Record that these memories' vectors are now ``embedder``'s (nothing else of them changes)."""

    def embedder_counts(self, namespace: str) -> dict[str | None, int]:
        """How many memories of the namespace each embedder id embedded (None: unknown)."""

    def add_link(self, link: Link, *, audit: AuditTrail | None = None) -> None:
        """Insert or replace the edge (namespace, source, target, link_type), and append the ``audit``
        entries in the same transaction."""

    def add_links(self, links: Sequence[Link], *, audit: AuditTrail | None = None) -> None:
        """``add_link`` of many links in one transaction (with the ``audit`` entries)."""

    def neighbors(
        self, namespace: str, coordinate: Coordinate, link_type: str | None, limit: int | None
    ) -> list[Link]:
        """Outgoing links of a node, strongest first."""

    def iter_links(self, namespace: str) -> Iterator[Link]: ...

    def replace_version_payloads(
        self, namespace: str, coordinate: Coordinate, payloads: dict[int, dict[str, Any]]
    ) -> None:
        """Rewrite kept versions' payloads in place, by version number (their re-encryption): nothing
        else of them, nor the memory, changes."""


@dataclass(frozen=True, slots=True)
class PendingWrite:
    """One write to the document store that the vector index may not have: its keys, or None for
    every memory of the namespace (a store written before the journal existed)."""

    entry: int
    namespace: str
    coordinates: tuple[Coordinate, ...] | None


class IndexJournal(Protocol):
    """The embedded store's record of writes the vector index may not have yet.

    The store records the keys of every ``put_many`` and ``delete`` in the same transaction as the
    write; the service calls ``applied`` once the index holds every write recorded so far. A crash in
    between leaves entries pending, and start-up recovery replays them from the store's current state.
    """

    def recorded(self) -> int:
        """The entry of the last write recorded."""

    def applied(self, through: int | None = None) -> None:
        """Every write recorded through entry ``through`` (None: so far) is in the index (the caller
        serialises writes)."""

    def pending(self) -> list[PendingWrite]: ...

    def resolve(self, entry: int) -> None:
        """Recovery replayed this entry: forget it."""


class VectorIndex(Backend, Protocol):
    """Vectors keyed by (namespace, coordinate); a re-upsert replaces, a delete removes."""

    def upsert(self, points: Sequence[VectorPoint]) -> None: ...

    def delete(self, namespace: str, coordinates: Sequence[Coordinate]) -> None: ...

    def search(
        self,
        namespace: str,
        vector: Vectors,
        *,
        top_k: int,
        memory_type: MemoryType | None,
        conditions: MemoryFilter,
    ) -> list[VectorHit]:
        """Best ``top_k`` by cosine similarity among points that pass the type and the conditions."""

    def vectors(self, namespace: str, coordinates: Sequence[Coordinate]) -> Vectors:
        """The vectors held for those of ``coordinates`` the namespace has, in that order (the others are
        left out)."""

    def settle(self) -> None:
        """Returns once the index holds every write made before the call (at once for an index that
        writes in the caller's thread)."""


class Embedder(Protocol):
    @property
    def dimensions(self) -> int: ...

    @property
    def identity(self) -> str:
        """Names the vectors it makes (provider, model, dimensions): equal ids, comparable vectors."""

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised float32 row per text."""


class Cache(Backend, Protocol):
    """A best-effort cache: a cache that is down makes reads slower, never wrong and never failing."""

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None: ...

    def delete(self, *keys: str) -> None: ...


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    remaining: int
    retry_after_seconds: float


class RateLimiter(Backend, Protocol):
    def acquire(self, client: str, per_minute: int) -> RateDecision:
        """Take one request from ``client``'s budget of ``per_minute`` requests a minute."""
