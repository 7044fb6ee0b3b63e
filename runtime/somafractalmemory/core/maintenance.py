"""One maintenance pass over namespaces: forget, decay, consolidate (in that order: a forgotten memory
is not decayed, and a group is summarised from its memories as decay left them).

Each namespace is read once to decide what to change; each change is then applied through the service
on the memories as they are at that moment (read again), as a write like any other: versions are kept,
the index follows (directly, or through the outbox when eventing is on) and the audit log records
``forget``, ``decay`` or ``consolidate``. The write is conditional (compare-and-set on each memory's
``updated_at``, in the store's transaction): a memory another client (another process too) wrote
between that reading and the write is read again and the change decided again (``retried``), and after
REVISE_ATTEMPTS readings left as that client wrote it (``skipped``). Decay writes WRITE_BATCH memories
at a time; consolidation writes windows in groups of at most WRITE_BATCH memories, then the group's
links in one more write. A pass is idempotent: a key already
dropped is not dropped again, a forgotten memory is gone, and a consolidated source carries
``consolidated_into``, so a second pass over unchanged memories changes nothing.
"""

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from somafractalmemory.core.audit import AuditAction
from somafractalmemory.core.consolidation import (
    CONSOLIDATED_FROM,
    CONSOLIDATED_LINK,
    Consolidating,
    candidate,
    consolidate,
    full_windows,
    window_of,
)
from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.decay import DecayRule, Forgetting, decayed_payload, forgettable
from somafractalmemory.core.models import Memory, MemoryType
from somafractalmemory.core.service import MemoryService, Revision

log = logging.getLogger(__name__)

WRITE_BATCH = 500


@dataclass(frozen=True, slots=True)
class MaintenancePolicy:
    decay: tuple[DecayRule, ...] = ()
    forgetting: Forgetting | None = None
    consolidating: Consolidating | None = None

    @property
    def active(self) -> bool:
        return bool(self.decay) or self.forgetting is not None or self.consolidating is not None


@dataclass(slots=True)
class MaintenanceSummary:
    """What a pass changed (or, on a dry run, would change): ``decayed`` memories lost keys,
    ``forgotten`` were deleted, ``consolidated`` episodic memories went into ``created`` semantic ones;
    ``retried``: changes decided again because another client wrote their memories in the meantime;
    ``skipped``: memories left as other clients wrote them after REVISE_ATTEMPTS readings."""

    namespaces: int = 0
    decayed: int = 0
    forgotten: int = 0
    consolidated: int = 0
    created: int = 0
    dry_run: bool = False
    retried: int = 0
    skipped: int = 0

    def add(self, other: "MaintenanceSummary") -> None:
        self.namespaces += other.namespaces
        self.decayed += other.decayed
        self.forgotten += other.forgotten
        self.consolidated += other.consolidated
        self.created += other.created
        self.retried += other.retried
        self.skipped += other.skipped

    def count(self, revision: Revision) -> int:
        """Add a change's retries and skips; answers how many memories it changed."""
        self.retried += revision.retried
        self.skipped += revision.skipped
        return len(revision.changed)


@dataclass(slots=True)
class Plan:
    """What one reading of a namespace found to change."""

    forget: list[Coordinate] = field(default_factory=list)
    decay: list[Coordinate] = field(default_factory=list)
    windows: dict[int, list[Coordinate]] = field(default_factory=dict)


Progress = Callable[[str, MaintenanceSummary], None]


class Maintenance:
    """Passes of ``policy`` over the memories of ``service``; ``clock`` is the service's."""

    def __init__(self, service: MemoryService, policy: MaintenancePolicy) -> None:
        self.service = service
        self.policy = policy

    def namespaces(self) -> list[str]:
        """Every namespace that holds memories."""
        return sorted(self.service.store.all_stats())

    def run(
        self, namespaces: Sequence[str], *, dry_run: bool, progress: Progress | None = None
    ) -> MaintenanceSummary:
        total = MaintenanceSummary(dry_run=dry_run)
        for namespace in namespaces:
            done = self.namespace(namespace, dry_run=dry_run)
            total.add(done)
            if progress is not None:
                progress(namespace, done)
        return total

    def namespace(self, namespace: str, *, dry_run: bool) -> MaintenanceSummary:
        summary = MaintenanceSummary(namespaces=1, dry_run=dry_run)
        if not self.policy.active:
            return summary
        now = self.service.clock()
        plan = self._plan(namespace, now)
        if dry_run:
            summary.forgotten, summary.decayed = len(plan.forget), len(plan.decay)
            summary.created = len(plan.windows)
            summary.consolidated = sum(len(coords) for coords in plan.windows.values())
        else:
            summary.forgotten = self._forget(namespace, plan.forget, now, summary)
            summary.decayed = self._decay(namespace, plan.decay, now, summary)
            if (consolidating := self.policy.consolidating) is not None:
                for group in window_groups(plan.windows):
                    self._consolidate(namespace, consolidating, group, now, summary)
        log.info(
            "maintenance of %s%s: forgot %d, decayed %d, consolidated %d into %d (retried %d, skipped %d)",
            namespace,
            " (dry run)" if dry_run else "",
            summary.forgotten,
            summary.decayed,
            summary.consolidated,
            summary.created,
            summary.retried,
            summary.skipped,
        )
        return summary

    def _plan(self, namespace: str, now: float) -> Plan:
        """One reading of the namespace: what to forget, what to decay, the windows to consolidate
        (of the memories not forgotten), keeping only coordinates."""
        plan = Plan()
        consolidating = self.policy.consolidating
        windows: dict[int, list[Coordinate]] = {}
        for memory in self.service.store.iter_memories(namespace):
            if forgettable(memory, self.policy.forgetting, now):
                plan.forget.append(memory.coordinate)
                continue
            if decayed_payload(memory, self.policy.decay, now) is not None:
                plan.decay.append(memory.coordinate)
            if consolidating is not None and candidate(memory, consolidating, now):
                window = window_of(memory, consolidating.window_seconds)
                windows.setdefault(window, []).append(memory.coordinate)
        if consolidating is not None:
            plan.windows = full_windows(windows, consolidating)
        return plan

    def _forget(
        self, namespace: str, coordinates: list[Coordinate], now: float, summary: MaintenanceSummary
    ) -> int:
        def still(memory: Memory) -> bool:
            return forgettable(memory, self.policy.forgetting, now)

        return sum(
            summary.count(self.service.delete_if(namespace, coordinate, still, AuditAction.FORGET))
            for coordinate in coordinates
        )

    def _decay(
        self, namespace: str, coordinates: list[Coordinate], now: float, summary: MaintenanceSummary
    ) -> int:
        def decayed(current: list[Memory]) -> list[Memory]:
            changed = []
            for memory in current:
                payload = decayed_payload(memory, self.policy.decay, now)
                if payload is not None:
                    changed.append(dataclasses.replace(memory, payload=payload, updated_at=now))
            return changed

        return sum(
            summary.count(self.service.revise(namespace, batch, decayed, AuditAction.DECAY))
            for batch in batches(coordinates)
        )

    def _consolidate(
        self,
        namespace: str,
        consolidating: Consolidating,
        group: list[tuple[int, list[Coordinate]]],
        now: float,
        summary: MaintenanceSummary,
    ) -> None:
        """Consolidate a group of windows: each window's semantic memory and its marked sources, all in
        one write; then a ``consolidated`` link from each semantic memory to each of its sources, all in
        one write. Counts the sources and the semantic memories in ``summary``."""

        def consolidated(current: list[Memory]) -> list[Memory]:
            by_coordinate = {memory.coordinate: memory for memory in current}
            written: list[Memory] = []
            for window, coordinates in group:
                members = [by_coordinate[c] for c in coordinates if c in by_coordinate]
                if (found := consolidate(members, window, consolidating, now)) is not None:
                    written += [found.semantic, *found.sources]
            return written

        every = [coordinate for _, coordinates in group for coordinate in coordinates]
        revision = self.service.revise(namespace, every, consolidated, AuditAction.CONSOLIDATE)
        summary.count(revision)
        semantic = [memory for memory in revision.changed if memory.memory_type is MemoryType.SEMANTIC]
        pairs = [(s.coordinate, tuple(source)) for s in semantic for source in s.payload[CONSOLIDATED_FROM]]
        if pairs:
            self.service.link_many(namespace, pairs, CONSOLIDATED_LINK)
        summary.consolidated += len(pairs)
        summary.created += len(semantic)


def window_groups(windows: dict[int, list[Coordinate]]) -> list[list[tuple[int, list[Coordinate]]]]:
    """The windows in order, grouped so that a group's memories add up to at most WRITE_BATCH (a larger
    window makes a group alone): each group is consolidated in one write."""
    groups: list[list[tuple[int, list[Coordinate]]]] = []
    size = 0
    for window, coordinates in sorted(windows.items()):
        if not groups or size + len(coordinates) > WRITE_BATCH:
            groups.append([])
            size = 0
        groups[-1].append((window, coordinates))
        size += len(coordinates)
    return groups


def batches(coordinates: list[Coordinate]) -> list[list[Coordinate]]:
    return [coordinates[i : i + WRITE_BATCH] for i in range(0, len(coordinates), WRITE_BATCH)]
