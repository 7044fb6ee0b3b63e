"""The memory use cases: store, recall, link, traverse, export. Everything goes through the ports."""

import dataclasses
import logging
import math
import random
import threading
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from somafractalmemory.core import graph
from somafractalmemory.core.audit import (
    DEFAULT_AUDIT_RETENTION,
    MAX_AUDIT_PAGE,
    AuditAction,
    AuditEntry,
    AuditTrail,
    current_actor,
)
from somafractalmemory.core.budget import DEFAULT_BUDGET, WorkBudget
from somafractalmemory.core.coordinates import Coordinate, coordinate_key
from somafractalmemory.core.errors import BackendUnavailable, ImportInterrupted, InvalidInput, NotFound
from somafractalmemory.core.feedback import NO_FEEDBACK, Feedback, moved_query
from somafractalmemory.core.field_encryption import OFF, FieldEncryption
from somafractalmemory.core.filters import MemoryFilter, matches
from somafractalmemory.core.fusion import DEFAULT_FUSION, FusionWeights, Ranking, reciprocal_rank_fusion
from somafractalmemory.core.importance import (
    CORRECTIVE_LINK,
    PREDICTED,
    MemoryOrder,
    OutcomeReport,
    check_importance,
    corrective_payload,
    mispredicted,
    reported,
)
from somafractalmemory.core.indexing import EmbeddingBeside, vector_points
from somafractalmemory.core.legs import LEGS
from somafractalmemory.core.models import (
    BulkResult,
    ItemResult,
    Link,
    Memory,
    MemoryType,
    MemoryVersion,
    ScoredMemory,
    Stats,
    StoredVersion,
    VectorHit,
    normalise_importance,
)
from somafractalmemory.core.payloads import check_json_object, check_payload, check_text, is_blank
from somafractalmemory.core.ports import (
    Backend,
    Cache,
    DocumentStore,
    Embedder,
    IndexJournal,
    VectorIndex,
    Vectors,
)
from somafractalmemory.core.records import (
    decode_memory,
    encode_memory,
    from_record,
    link_to_record,
    memory_to_record,
)
from somafractalmemory.core.selection import BatchOutcome, Selection
from somafractalmemory.core.terms import hybrid_terms, query_words
from somafractalmemory.core.text import payload_text
from somafractalmemory.core.versions import DEFAULT_MAX_VERSIONS, check_version_number, pick_version, restored

log = logging.getLogger(__name__)

MAX_TOP_K = 1000
MAX_QUERY_LENGTH = 10_000
HYDRATION_ROUNDS = 3
IMPORT_BATCH = 500
REVISE_ATTEMPTS = 3
MIN_FUSION_POOL = 50
FUSION_POOL_PER_RESULT = 5


@dataclass(frozen=True, slots=True)
class NewMemory:
    """A memory as a caller hands it in, before the core stamps it."""

    coordinate: Coordinate
    payload: dict[str, Any]
    memory_type: MemoryType = MemoryType.EPISODIC


@dataclass(slots=True)
class ImportReport:
    memories: int = 0
    links: int = 0
    versions: int = 0
    errors: list[str] = field(default_factory=list)


def check_top_k(top_k: int) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, int) or not 1 <= top_k <= MAX_TOP_K:
        raise InvalidInput(f"top_k must be an integer from 1 to {MAX_TOP_K}, got {top_k!r}")
    return top_k


def fusion_pool(top_k: int) -> int:
    """How many candidates each leg of a fused recall hands in."""
    return min(MAX_TOP_K, max(top_k * FUSION_POOL_PER_RESULT, MIN_FUSION_POOL))


def check_query(query: str, what: str = "query") -> str:
    if not isinstance(query, str) or is_blank(query):
        raise InvalidInput(f"{what} must be a non-empty string")
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidInput(f"{what} is longer than {MAX_QUERY_LENGTH} characters")
    return check_text(query, what)


def check_weight(weight: float) -> float:
    if isinstance(weight, bool) or not isinstance(weight, int | float) or not math.isfinite(weight):
        raise InvalidInput("weight must be a finite number")
    if weight < 0:
        raise InvalidInput("weight must not be negative (it is the cost of the edge in shortest paths)")
    return float(weight)


def check_link_type(link_type: str) -> str:
    if not isinstance(link_type, str) or is_blank(link_type):
        raise InvalidInput("link type must be a non-empty string")
    return check_text(link_type, "link type")


def _missing_end(link: Link, known: set[Coordinate]) -> str | None:
    """Which end of the link is not among the ``known`` memories (the source first); None: neither."""
    for role, end in (("from", link.source), ("to", link.target)):
        if end not in known:
            return f"{role} node {list(end)}"
    return None


@dataclass(frozen=True, slots=True)
class Raced:
    """A conditional write that found ``memories`` of those it read written by another client since."""

    memories: int


@dataclass(slots=True)
class Revision:
    """How a conditional change went: ``changed``, the memories written (or the one deleted);
    ``retried``, how many times another client wrote them between this reading and this write, so they
    were read and the change decided again; ``skipped``, the memories still being written by others
    after REVISE_ATTEMPTS readings, left as the others wrote them."""

    changed: list[Memory] = field(default_factory=list)
    retried: int = 0
    skipped: int = 0


class MemoryService:
    """Use cases over one document store, one vector index, one embedder and an optional cache.

    ``index_inline`` is the direct mode: the service writes the vector index itself after the document
    store, one write at a time (so the index applies writes in the store's order), and tells the
    ``journal`` (when the store keeps one) that the index caught up. In evented mode the store writes an
    outbox in the same transaction and consumers index.

    Recall has two legs, each filtered inside its own engine: the dense leg (the vector index's cosine
    neighbours) and the lexical leg (the store's word index); by default their rankings are fused by
    reciprocal rank fusion with the ``fusion`` weights.
    """

    def __init__(
        self,
        store: DocumentStore,
        index: VectorIndex,
        embedder: Embedder,
        cache: Cache | None = None,
        *,
        index_inline: bool = True,
        max_memories_per_namespace: int | None = None,
        max_versions: int = DEFAULT_MAX_VERSIONS,
        audit_retention: int = DEFAULT_AUDIT_RETENTION,
        cache_ttl_seconds: int = 300,
        clock: Callable[[], float] = time.time,
        journal: IndexJournal | None = None,
        budget: WorkBudget = DEFAULT_BUDGET,
        fusion: FusionWeights = DEFAULT_FUSION,
        encryption: FieldEncryption = OFF,
        feedback: Feedback = NO_FEEDBACK,
    ) -> None:
        self.store = store
        self.encryption = encryption
        self.fusion = fusion
        self.feedback = feedback
        self.journal = journal
        self.budget = budget
        self.writing = threading.RLock()
        self.index = index
        self.embedder = embedder
        self.cache = cache
        self.index_inline = index_inline
        self.max_memories = max_memories_per_namespace
        self.max_versions = max_versions
        self.audit_retention = audit_retention
        self.cache_ttl = cache_ttl_seconds
        self.clock = clock
        self._embedding = EmbeddingBeside()
        self._legs = LEGS

    # --- writes -------------------------------------------------------------------------------

    def _stamp(self, namespace: str, item: NewMemory, now: float) -> Memory:
        payload = check_payload(item.payload)
        self.encryption.check_clear(payload)
        return Memory(
            namespace=namespace,
            coordinate=item.coordinate,
            payload=payload,
            memory_type=item.memory_type,
            importance=normalise_importance(payload.get("importance")),
            created_at=now,
            updated_at=now,
            embedder=self.embedder.identity,
        )

    def _trail(
        self, action: AuditAction, memories: Sequence[tuple[str, Coordinate, Coordinate | None]]
    ) -> AuditTrail | None:
        """The audit entries of a change (namespace, coordinate, and for a link the memory it points to),
        by the current actor; none when the log keeps nothing."""
        if self.audit_retention == 0:
            return None
        now, actor = self.clock(), current_actor()
        entries = [AuditEntry(now, actor, action, ns, c, target=target) for ns, c, target in memories]
        return AuditTrail(entries, self.audit_retention)

    def _write(
        self,
        memories: Sequence[Memory],
        action: AuditAction = AuditAction.STORE,
        read: Mapping[Coordinate, float] | None = None,
    ) -> list[Coordinate]:
        """Write the memories (one namespace's), or with ``read`` only if those memories are still as
        they were read (``DocumentStore.put_if_unchanged``): answers the ones that changed, and then
        nothing is written."""
        namespace = memories[0].namespace
        identity = self.embedder.identity
        memories = [
            m if m.embedder == identity else dataclasses.replace(m, embedder=identity) for m in memories
        ]
        memories = self.encryption.sealed(memories)  # encrypted fields are never indexed nor stored in clear
        points = self._embedding.points(self.embedder, memories) if self.index_inline else None
        trail = self._trail(action, [(m.namespace, m.coordinate, None) for m in memories])
        with self.writing:
            if read is None:
                self.store.put_many(
                    memories, keep_versions=self.max_versions, audit=trail, before_commit=points
                )
            elif changed := self.store.put_if_unchanged(
                namespace, memories, read, keep_versions=self.max_versions, audit=trail, before_commit=points
            ):
                return changed
            self._forget_cached(namespace, [m.coordinate for m in memories])
            if points is not None:
                self.index.upsert(points())
                self._caught_up()
        self._enforce_limit(namespace)
        return []

    def _caught_up(self) -> None:
        if self.journal is not None:
            self.journal.applied()

    def rewrite(self, memories: Sequence[Memory], reindexed: Sequence[Memory]) -> list[Coordinate]:
        """Put stored memories (of one namespace) back as they are given: no version, no audit entry,
        the same timestamps (their fields re-encrypted under a new key), on the condition that none was
        written since it was read (its ``updated_at`` is still the one given): answers those that were,
        and then nothing is written. ``reindexed``, those whose indexed text changed, are indexed again."""
        namespace = memories[0].namespace
        points = vector_points(self.embedder, reindexed) if self.index_inline and reindexed else []
        read = {memory.coordinate: memory.updated_at for memory in memories}
        with self.writing:
            if changed := self.store.put_if_unchanged(namespace, memories, read):
                return changed
            self._forget_cached(namespace, [m.coordinate for m in memories])
            if points:
                self.index.upsert(points)
            if self.index_inline:
                self._caught_up()
        return []

    def store_memory(self, namespace: str, item: NewMemory) -> Memory:
        memory = self._stamp(namespace, item, self.clock())
        self._write([memory])
        return memory

    def store_many(self, namespace: str, items: Sequence[NewMemory | InvalidInput]) -> BulkResult:
        """Store every valid item in one write; items the caller could not parse come in as errors."""
        self.budget.check_bulk(len(items))
        now = self.clock()
        result = BulkResult()
        latest: dict[Coordinate, Memory] = {}
        for position, item in enumerate(items):
            if isinstance(item, InvalidInput):
                result.items.append(ItemResult(position, ok=False, error=str(item)))
                continue
            try:
                memory = self._stamp(namespace, item, now)
            except InvalidInput as error:
                result.items.append(ItemResult(position, ok=False, error=str(error)))
                continue
            latest[memory.coordinate] = memory  # a coordinate given twice: the last one wins
            result.items.append(ItemResult(position, ok=True, coordinate=memory.coordinate))
        if latest:
            self._write(list(latest.values()))
        return result

    def remember(self, namespace: str, payload: dict[str, Any], memory_type: MemoryType) -> Memory:
        """Store under a fresh coordinate: (time of storing, two random components)."""
        coordinate = (round(self.clock(), 6), random.random(), random.random())
        return self.store_memory(namespace, NewMemory(coordinate, payload, memory_type))

    def delete(
        self,
        namespace: str,
        coordinate: Coordinate,
        action: AuditAction = AuditAction.DELETE,
        if_updated_at: float | None = None,
    ) -> bool:
        """Delete a memory; with ``if_updated_at``, only if it was not written since (False, and the
        index untouched, when it was)."""
        trail = self._trail(action, [(namespace, coordinate, None)])
        with self.writing:
            removed = self.store.delete(namespace, coordinate, audit=trail, if_updated_at=if_updated_at)
            if not removed and if_updated_at is not None:
                return False
            self._forget_cached(namespace, [coordinate])
            if self.index_inline:
                self.index.delete(namespace, [coordinate])
                self._caught_up()
        return removed

    # --- versions -----------------------------------------------------------------------------

    def versions(self, namespace: str, coordinate: Coordinate) -> list[MemoryVersion]:
        """The memory's kept versions, newest first (at most ``max_versions``)."""
        self.get(namespace, coordinate)  # raises NotFound for a memory that is not there
        where = f"the memory at {list(coordinate)} in namespace {namespace!r}"
        return [self.encryption.version(v, where) for v in self.store.versions(namespace, coordinate)]

    def restore_version(self, namespace: str, coordinate: Coordinate, number: int) -> Memory:
        """Make version ``number`` the current content: a write like any other (the content it replaces
        becomes the newest version, the index and the outbox follow)."""
        check_version_number(number)
        current = self.get(namespace, coordinate)
        version = pick_version(self.versions(namespace, coordinate), number, namespace, coordinate)
        memory = restored(current, version, self.clock())
        self._write([memory], AuditAction.RESTORE_VERSION)
        return memory

    # --- importance ---------------------------------------------------------------------------

    def set_importance(self, namespace: str, coordinate: Coordinate, importance: float) -> Memory:
        """A write like any other (the memory before it is kept as a version); the payload is left as
        it is (its 'importance' key is read only when a memory is stored)."""
        value = check_importance(importance)
        current = self.get(namespace, coordinate)
        memory = dataclasses.replace(current, importance=value, updated_at=self.clock())
        self._write([memory], AuditAction.SET_IMPORTANCE)
        return memory

    def report_outcome(self, namespace: str, coordinate: Coordinate, outcome: Any) -> OutcomeReport:
        """Record the outcome in the memory's payload (``reported_outcome``). When the memory predicted
        another (``predicted_outcome``), its importance drops by OUTCOME_PENALTY and a corrective semantic
        memory, linked from it, records the mismatch."""
        current = self.get(namespace, coordinate)
        memory = reported(current, outcome, self.clock())
        check_payload(memory.payload)
        self._write([memory], AuditAction.REPORT_OUTCOME)
        if not mispredicted(current.payload, outcome):
            return OutcomeReport(memory, mispredicted=False, corrective=None)
        payload = corrective_payload(coordinate, current.payload[PREDICTED], outcome)
        corrective = self.remember(namespace, payload, MemoryType.SEMANTIC)
        self.link(namespace, coordinate, corrective.coordinate, CORRECTIVE_LINK)
        return OutcomeReport(memory, mispredicted=True, corrective=corrective)

    # --- many at once --------------------------------------------------------------------------

    def _selected(self, namespace: str, selection: Selection) -> list[Memory]:
        """Every memory the selection matches, streamed through the namespace; more than the scan
        budget's rows matching is refused before anything changes."""
        self.encryption.check_filters(selection.conditions)
        found: list[Memory] = []
        for memory in self.store.iter_memories(namespace):
            if selection.memory_type not in (None, memory.memory_type):
                continue
            if matches(memory.payload, selection.conditions):
                found.append(memory)
                if len(found) > self.budget.scan_rows:
                    raise InvalidInput(
                        f"more than {self.budget.scan_rows} memories match (SOMA_MAX_SCAN_ROWS): "
                        "narrow the filters"
                    )
        return found

    def delete_matching(self, namespace: str, selection: Selection, *, dry_run: bool) -> BatchOutcome:
        """Delete every memory the selection matches (each with its versions and links, each audited);
        a dry run only says which."""
        selection.check_narrowed("delete many")
        outcome = BatchOutcome([m.coordinate for m in self._selected(namespace, selection)])
        if not dry_run:
            outcome.applied = sum(self.delete(namespace, c) for c in outcome.matched)
        return outcome

    def share(self, namespace: str, target: str, selection: Selection, *, dry_run: bool) -> BatchOutcome:
        """Copy every memory the selection matches into ``target`` at the same coordinates, in one write
        (a memory there is replaced, and kept as a version); a dry run only says which, and so does a
        share into the namespace itself (nothing is copied)."""
        selection.check_narrowed("share")
        found = self._selected(namespace, selection)
        outcome = BatchOutcome([m.coordinate for m in found])
        if found and not dry_run and target != namespace:  # into itself: every match is already there
            self._write(
                [dataclasses.replace(m, namespace=target, access_count=0) for m in found], AuditAction.SHARE
            )
            outcome.applied = len(found)
        return outcome

    def listed(
        self, namespace: str, order: MemoryOrder, limit: int, memory_type: MemoryType | None = None
    ) -> list[Memory]:
        """The ``limit`` most recent or most important memories (1 to MAX_TOP_K)."""
        found = self.store.ordered(namespace, order, check_top_k(limit), memory_type)
        return self.encryption.memories(found)

    # --- audit --------------------------------------------------------------------------------

    def audit(
        self,
        namespace: str,
        coordinate: Coordinate | None = None,
        limit: int = 100,
        before: int | None = None,
    ) -> list[AuditEntry]:
        """The namespace's audit entries (of one memory), newest first: at most ``limit`` (1 to
        MAX_AUDIT_PAGE), older than entry ``before`` (the next page starts before the last entry)."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_AUDIT_PAGE:
            raise InvalidInput(f"limit must be an integer from 1 to {MAX_AUDIT_PAGE}, got {limit!r}")
        if before is not None and (isinstance(before, bool) or not isinstance(before, int) or before < 1):
            raise InvalidInput(f"before must be an entry number of at least 1, got {before!r}")
        return self.store.audit_entries(namespace, coordinate, limit, before)

    def _enforce_limit(self, namespace: str) -> None:
        if self.max_memories is None:
            return
        excess = self.store.stats(namespace).total_memories - self.max_memories
        if excess <= 0:
            return
        for coordinate in self.store.least_important(namespace, excess):
            self.delete(namespace, coordinate, AuditAction.EVICT)
        log.info("namespace %s over its limit of %d: evicted %d", namespace, self.max_memories, excess)

    # --- reads --------------------------------------------------------------------------------

    def _cache_key(self, namespace: str, coordinate: Coordinate) -> str:
        return f"memory:{namespace}:{coordinate_key(coordinate)}"

    def _forget_cached(self, namespace: str, coordinates: Iterable[Coordinate]) -> None:
        if self.cache is not None:
            self.cache.delete(*(self._cache_key(namespace, c) for c in coordinates))

    def get(self, namespace: str, coordinate: Coordinate) -> Memory:
        key = self._cache_key(namespace, coordinate)
        if self.cache is not None and (cached := self.cache.get(key)) is not None:
            return self.encryption.memory(decode_memory(namespace, cached))
        memory = self.store.get(namespace, coordinate)
        if memory is None:
            raise NotFound(f"no memory at coordinate {list(coordinate)} in namespace {namespace!r}")
        if self.cache is not None:
            self.cache.set(key, encode_memory(memory), self.cache_ttl)  # as stored: encrypted fields too
        return self.encryption.memory(memory)

    def _semantic(
        self,
        namespace: str,
        vector: Vectors,
        top_k: int,
        memory_type: MemoryType | None,
        conditions: MemoryFilter,
    ) -> list[ScoredMemory]:
        """Index hits hydrated from the store: a point whose memory is gone is dropped, never returned."""
        found: dict[Coordinate, Memory] = {}

        def stored(coordinates: list[Coordinate]) -> Collection[Coordinate]:
            found.update(self.store.get_many(namespace, coordinates))
            return found

        hits = self._live_hits(namespace, vector, top_k, memory_type, conditions, stored)
        return [ScoredMemory(found[hit.coordinate], hit.score) for hit in hits]

    def _dense_ranking(
        self,
        namespace: str,
        vector: Vectors,
        top_k: int,
        memory_type: MemoryType | None,
        conditions: MemoryFilter,
    ) -> list[Coordinate]:
        """The dense leg of a fused recall: the coordinates of the index's hits whose memories exist, asked
        of the store's key index alone; the few the fusion keeps are read afterwards (``_hydrated``)."""
        hits = self._live_hits(
            namespace, vector, top_k, memory_type, conditions, lambda c: self.store.existing(namespace, c)
        )
        return [hit.coordinate for hit in hits]

    def _embedded_dense_ranking(
        self,
        namespace: str,
        query: str,
        top_k: int,
        memory_type: MemoryType | None,
        conditions: MemoryFilter,
    ) -> tuple[Vectors, list[Coordinate]]:
        """The query embedded, and the dense leg of a fused recall for it."""
        vector = self.embedder.embed([query])[0]
        return vector, self._dense_ranking(namespace, vector, top_k, memory_type, conditions)

    def _live_hits(
        self,
        namespace: str,
        vector: Vectors,
        top_k: int,
        memory_type: MemoryType | None,
        conditions: MemoryFilter,
        stored: Callable[[list[Coordinate]], Collection[Coordinate]],
    ) -> list[VectorHit]:
        """The index's best ``top_k`` hits among those ``stored`` answers exist: the index may still hold
        points of deleted memories, so it is asked for twice as many (up to ``HYDRATION_ROUNDS`` times)
        while too few of its hits are stored."""
        fetch = top_k
        live: list[VectorHit] = []
        for _ in range(HYDRATION_ROUNDS):
            hits = self.index.search(
                namespace, vector, top_k=fetch, memory_type=memory_type, conditions=conditions
            )
            present = stored([hit.coordinate for hit in hits])
            live = [hit for hit in hits if hit.coordinate in present]
            if len(live) >= top_k or len(hits) < fetch:
                break
            fetch *= 2
        return live[:top_k]

    def _accessed(self, namespace: str, results: list[ScoredMemory]) -> list[ScoredMemory]:
        self.store.record_access(namespace, [r.memory.coordinate for r in results])
        return [ScoredMemory(self.encryption.memory(r.memory), r.score) for r in results]

    def _fuse(
        self, dense: list[Coordinate], lexical: list[ScoredMemory], lexical_weight: float
    ) -> list[tuple[Coordinate, float]]:
        """The two legs fused by reciprocal rank: every candidate with its fused score, best first."""
        return reciprocal_rank_fusion(
            [(dense, self.fusion.dense), ([s.memory.coordinate for s in lexical], lexical_weight)],
            self.fusion.k,
        )

    def _hydrated(
        self, namespace: str, fused: list[tuple[Coordinate, float]], lexical: list[ScoredMemory]
    ) -> list[ScoredMemory]:
        """The fused ranking's memories: the lexical leg read its own; the dense leg's are read now, and
        one deleted since its leg saw it is dropped."""
        memories = {s.memory.coordinate: s.memory for s in lexical}
        if missing := [coordinate for coordinate, _ in fused if coordinate not in memories]:
            memories.update(self.store.get_many(namespace, missing))
        return [ScoredMemory(memories[c], score) for c, score in fused if c in memories]

    def _lexical(
        self,
        namespace: str,
        terms: Sequence[str],
        limit: int,
        memory_type: MemoryType | None,
        conditions: MemoryFilter,
    ) -> list[ScoredMemory]:
        return self.store.lexical_search(
            namespace, terms, memory_type=memory_type, conditions=conditions, limit=limit
        )

    def recall(
        self,
        namespace: str,
        query: str,
        *,
        top_k: int = 5,
        memory_type: MemoryType | None = None,
        conditions: MemoryFilter = (),
        ranking: Ranking = Ranking.FUSED,
    ) -> list[ScoredMemory]:
        """Recall ranked by ``ranking``: fused (reciprocal rank fusion of the dense and lexical legs,
        the fused score), dense (cosine similarity) or lexical (the store's relevance over the query's
        words). With ``feedback`` on, fused recall searches the dense leg again with the query moved
        towards the first fused ranking's best memories (``core/feedback.py``) and fuses anew."""
        check_top_k(top_k)
        query = check_query(query)
        self.encryption.check_filters(conditions)
        if ranking is Ranking.LEXICAL:
            found = self._lexical(namespace, query_words(query), top_k, memory_type, conditions)
            return self._accessed(namespace, found)
        if ranking is Ranking.DENSE:
            vector = self.embedder.embed([query])[0]
            found = self._semantic(namespace, vector, top_k, memory_type, conditions)
            return self._accessed(namespace, found)
        pool = fusion_pool(top_k)
        words = query_words(query)
        (vector, dense), lexical = self._legs.run(
            lambda: self._embedded_dense_ranking(namespace, query, pool, memory_type, conditions),
            lambda: self._lexical(namespace, words, pool, memory_type, conditions),
        )
        fused = self._fuse(dense, lexical, self.fusion.lexical)
        if self.feedback.enabled and fused:
            first = self.index.vectors(
                namespace, [coordinate for coordinate, _ in fused[: self.feedback.depth]]
            )
            moved = moved_query(vector, first, self.feedback.weight)
            dense = self._dense_ranking(namespace, moved, pool, memory_type, conditions)
            fused = self._fuse(dense, lexical, self.fusion.lexical)
        return self._accessed(namespace, self._hydrated(namespace, fused[:top_k], lexical))

    def keyword_search(
        self,
        namespace: str,
        term: str,
        *,
        exact: bool = True,
        case_sensitive: bool = False,
        top_k: int = 50,
        memory_type: MemoryType | None = None,
    ) -> list[Memory]:
        """exact: some string value of the payload equals the term; otherwise some value contains it.
        The matches come most relevant first (the store's lexical ranking of the term)."""
        check_top_k(top_k)
        found = self.store.keyword_search(
            namespace,
            check_query(term, "term"),
            exact=exact,
            case_sensitive=case_sensitive,
            memory_type=memory_type,
            limit=top_k,
        )
        return self.encryption.memories(found)

    def hybrid_recall(
        self,
        namespace: str,
        query: str,
        *,
        terms: Sequence[str] | None = None,
        boost: float = 2.0,
        top_k: int = 5,
        exact: bool = True,
        case_sensitive: bool = False,
        memory_type: MemoryType | None = None,
        conditions: MemoryFilter = (),
    ) -> list[ScoredMemory]:
        """Fused recall whose lexical leg looks for ``terms`` (each a word or a phrase), or for the
        terms the reference service extracts from the query when none are given; ``boost`` multiplies
        the lexical leg's weight. ``exact`` and ``case_sensitive`` are accepted for the reference's
        request shape: the word index matches whole words, case-insensitively, whatever they say."""
        del exact, case_sensitive
        check_top_k(top_k)
        if isinstance(boost, bool) or not isinstance(boost, int | float) or not math.isfinite(boost):
            raise InvalidInput("boost must be a finite number")
        if boost < 0:
            raise InvalidInput("boost must not be negative (it weighs the terms in the fusion)")
        self.encryption.check_filters(conditions)
        query = check_query(query)
        words = [check_text(term, "a term") for term in hybrid_terms(query, terms)]
        pool = fusion_pool(top_k)
        (_, dense), lexical = self._legs.run(
            lambda: self._embedded_dense_ranking(namespace, query, pool, memory_type, conditions),
            lambda: self._lexical(namespace, words, pool, memory_type, conditions),
        )
        fused = self._fuse(dense, lexical, self.fusion.lexical * boost)
        return self._accessed(namespace, self._hydrated(namespace, fused[:top_k], lexical))

    def recall_with_context(
        self,
        namespace: str,
        query: str,
        context: dict[str, Any],
        *,
        top_k: int = 5,
        memory_type: MemoryType | None = None,
    ) -> list[ScoredMemory]:
        """Recall for the query read together with the string values of the context (the length limit
        is the query's: the context, like a payload, is bounded by the request size)."""
        check_top_k(top_k)
        context_text = payload_text(check_json_object(context, "context"))
        vector = self.embedder.embed(["\n".join([check_query(query), context_text]).strip()])[0]
        return self._accessed(namespace, self._semantic(namespace, vector, top_k, memory_type, ()))

    def coordinate_range(
        self, namespace: str, low: Coordinate, high: Coordinate, memory_type: MemoryType | None = None
    ) -> list[Coordinate]:
        if len(low) != len(high):
            raise InvalidInput(f"min has {len(low)} numbers and max has {len(high)}: give both the same")
        if any(lo > hi for lo, hi in zip(low, high, strict=True)):
            raise InvalidInput("every component of min must be at most the same component of max")
        return self.store.coordinate_range(namespace, low, high, memory_type)

    def stats(self, namespace: str) -> Stats:
        return self.store.stats(namespace)

    def embedder_counts(self, namespace: str) -> dict[str | None, int]:
        return self.store.embedder_counts(namespace)

    # --- graph --------------------------------------------------------------------------------

    def _require_node(self, namespace: str, coordinate: Coordinate, role: str) -> None:
        if not self.store.get_many(namespace, [coordinate]):
            raise NotFound(f"{role} node {list(coordinate)} is not a memory in namespace {namespace!r}")

    def link(
        self,
        namespace: str,
        source: Coordinate,
        target: Coordinate,
        link_type: str = "related",
        weight: float = 1.0,
    ) -> Link:
        link_type, weight = check_link_type(link_type), check_weight(weight)
        self._require_node(namespace, source, "from")
        self._require_node(namespace, target, "to")
        link = Link(namespace, source, target, link_type, weight, self.clock())
        self.store.add_link(link, audit=self._trail(AuditAction.LINK, [(namespace, source, target)]))
        return link

    def link_many(
        self, namespace: str, pairs: Sequence[tuple[Coordinate, Coordinate]], link_type: str
    ) -> list[Link]:
        """Link each (source, target) of ``pairs`` (weight 1) in one write, each link audited as
        ``link``; a pair whose source or target is no memory of the namespace is left out. Answers the
        links written."""
        link_type = check_link_type(link_type)
        known = self._known(namespace, (end for pair in pairs for end in pair))
        now = self.clock()
        links = [Link(namespace, s, t, link_type, 1.0, now) for s, t in pairs if s in known and t in known]
        if links:
            trail = self._trail(AuditAction.LINK, [(namespace, link.source, link.target) for link in links])
            self.store.add_links(links, audit=trail)
        return links

    def _known(self, namespace: str, coordinates: Iterable[Coordinate]) -> set[Coordinate]:
        """Those of ``coordinates`` that are memories of the namespace (one read)."""
        return set(self.store.get_many(namespace, list(set(coordinates))))

    def neighbors(
        self, namespace: str, coordinate: Coordinate, link_type: str | None = None, limit: int | None = None
    ) -> list[Link]:
        if limit is not None and limit < 1:
            raise InvalidInput("limit must be at least 1")
        self._require_node(namespace, coordinate, "the")
        return self.store.neighbors(namespace, coordinate, link_type, limit)

    def shortest_path(
        self, namespace: str, source: Coordinate, target: Coordinate, link_type: str | None = None
    ) -> list[Coordinate]:
        """The path of least total weight along directed links; [] when there is none."""
        self._require_node(namespace, source, "from")
        self._require_node(namespace, target, "to")
        examined = 0

        def links_of(node: Coordinate) -> list[Link]:
            nonlocal examined
            found = self.store.neighbors(namespace, node, link_type, self.budget.scan_rows + 1)
            examined += len(found)
            if examined > self.budget.scan_rows:
                raise self.budget.scan_exceeded("the path search")
            return found

        return graph.dijkstra(source, target, links_of)

    # --- export / import ----------------------------------------------------------------------

    def export_records(self, namespace: str) -> Iterator[dict[str, Any]]:
        """Every memory, then every link, as NDJSON-ready records."""
        for memory in self.store.iter_memories(namespace):
            yield memory_to_record(self.encryption.memory(memory))
        for link in self.store.iter_links(namespace):
            yield link_to_record(link)

    def import_records(
        self, namespace: str, records: Iterable[tuple[int, dict[str, Any] | InvalidInput]]
    ) -> ImportReport:
        """Numbered records (or the error that line gave), each checked as a store checks its request:
        a bad line is reported by its number and not stored, the others are. Memories are written in
        batches as they come, links then versions after all memories (each checked against the store;
        a version keeps its number, and one the memory already has stays as stored). A backend
        failing part-way raises ImportInterrupted, which says what was stored until then."""
        report = ImportReport()
        try:
            self._import(namespace, records, report)
        except BackendUnavailable as error:
            raise ImportInterrupted(error, report.memories, report.links) from error
        return report

    def _import(
        self,
        namespace: str,
        records: Iterable[tuple[int, dict[str, Any] | InvalidInput]],
        report: ImportReport,
    ) -> None:
        now = self.clock()
        batch: list[Memory] = []
        links: list[tuple[int, Link]] = []
        versions: list[tuple[int, StoredVersion]] = []
        for line, record in records:
            try:
                if isinstance(record, InvalidInput):
                    raise record
                checked = self.encryption.imported(from_record(namespace, record, now))
            except InvalidInput as error:
                report.errors.append(f"line {line}: {error}")
                continue
            if isinstance(checked, Link):
                links.append((line, checked))
            elif isinstance(checked, StoredVersion):
                versions.append((line, checked))
            else:
                batch.append(checked)
            if len(batch) >= IMPORT_BATCH:
                report.memories += self._import_batch(batch)
        report.memories += self._import_batch(batch)
        for start in range(0, len(links), IMPORT_BATCH):
            self._import_links(namespace, links[start : start + IMPORT_BATCH], report)
        self._import_versions(namespace, versions, report)

    def _import_links(self, namespace: str, links: list[tuple[int, Link]], report: ImportReport) -> None:
        """A batch of links in one write, each checked against the store (one read): a link whose end
        is no memory of the namespace is reported by its line."""
        known = self._known(namespace, (end for _, link in links for end in (link.source, link.target)))
        accepted: list[Link] = []
        for line, link in links:
            missing = _missing_end(link, known)
            if missing is None:
                accepted.append(link)
            else:
                report.errors.append(f"line {line}: {missing} is not a memory in namespace {namespace!r}")
        if accepted:
            self.store.add_links(accepted)
            report.links += len(accepted)

    def _import_versions(
        self, namespace: str, versions: list[tuple[int, StoredVersion]], report: ImportReport
    ) -> None:
        """Versions after the memories they belong to, numbers included; one whose memory is not in the
        store is reported by its line."""
        known = self.store.get_many(namespace, list({stored.coordinate for _, stored in versions}))
        accepted: list[StoredVersion] = []
        for line, stored in versions:
            if stored.coordinate in known:
                accepted.append(stored)
            else:
                report.errors.append(
                    f"line {line}: version {stored.version.number} belongs to {list(stored.coordinate)}, "
                    f"which is not a memory in namespace {namespace!r}"
                )
        report.versions += self.store.add_versions(accepted)

    def _import_batch(self, batch: list[Memory]) -> int:
        if not batch:
            return 0
        unique = list({m.coordinate: m for m in batch}.values())
        self._write(unique, AuditAction.IMPORT)
        batch.clear()
        return len(unique)

    # --- health -------------------------------------------------------------------------------

    def backends(self) -> list[Backend]:
        found: list[Backend] = [self.store, self.index]
        if self.cache is not None:
            found.append(self.cache)
        return found

    # --- maintenance: read, decide and write with no write of any client in between ---------------

    def revise(
        self,
        namespace: str,
        coordinates: Sequence[Coordinate],
        change: Callable[[list[Memory]], Sequence[Memory]],
        action: AuditAction,
    ) -> Revision:
        """Write what ``change`` makes of the current memories at ``coordinates`` (those still there):
        one write like any other (versions kept, the index or the outbox follows), audited as
        ``action``, on the condition that the memories it replaces are still as read."""

        def step() -> list[Memory] | Raced:
            found = self.store.get_many(namespace, coordinates)
            written = list(change([found[c] for c in coordinates if c in found]))
            if not written:
                return []
            read = {m.coordinate: found[m.coordinate].updated_at for m in written if m.coordinate in found}
            return Raced(len(read)) if self._write(written, action, read) else written

        return self._unraced(step, action, namespace)

    def delete_if(
        self,
        namespace: str,
        coordinate: Coordinate,
        condition: Callable[[Memory], bool],
        action: AuditAction,
    ) -> Revision:
        """Delete the memory when its current state meets ``condition``, on the condition that it is
        still that state when deleted."""

        def step() -> list[Memory] | Raced:
            current = self.store.get(namespace, coordinate)
            if current is None or not condition(current):
                return []
            deleted = self.delete(namespace, coordinate, action, if_updated_at=current.updated_at)
            return [current] if deleted else Raced(1)

        return self._unraced(step, action, namespace)

    def _unraced(
        self, step: Callable[[], list[Memory] | Raced], action: AuditAction, namespace: str
    ) -> Revision:
        """Run ``step`` (read, decide, write on the condition that what was read is unchanged) until no
        other client (another process too) wrote in between, at most REVISE_ATTEMPTS times; after the
        last, the memories raced are skipped."""
        revision = Revision()
        with self.writing:
            for attempt in range(1, REVISE_ATTEMPTS + 1):
                outcome = step()
                if not isinstance(outcome, Raced):
                    revision.changed = outcome
                    return revision
                last = attempt == REVISE_ATTEMPTS
                log.info(
                    "%s in %s: %d memories were written by another client since they were read (%s)",
                    action.value,
                    namespace,
                    outcome.memories,
                    "skipped" if last else "reading again",
                )
                if last:
                    revision.skipped = outcome.memories
                else:
                    revision.retried += 1
        return revision
