"""Bulk links (consolidation's, an import's) and the conditional writes maintenance and rotation use, on
the embedded SQLite store: what is written, what is refused, and that a refused write leaves nothing."""

import pytest

from somafractalmemory.core.audit import AuditAction, AuditEntry, AuditTrail
from somafractalmemory.core.consolidation import Consolidating
from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.fusion import Ranking
from somafractalmemory.core.maintenance import (
    WRITE_BATCH,
    Maintenance,
    MaintenancePolicy,
    MaintenanceSummary,
    window_groups,
)
from somafractalmemory.core.models import Link, Memory, MemoryType
from somafractalmemory.core.service import IMPORT_BATCH, MemoryService, NewMemory
from support.interleaving import T0, Clock, hook_revise

NS = "ns"


def memory(coord: float, text: str, at: float) -> Memory:
    return Memory(NS, (coord,), {"text": text}, MemoryType.EPISODIC, 0.5, 10.0, at)


def link_record(source: float, target: float) -> dict[str, object]:
    return {"kind": "link", "from": [source], "to": [target], "type": "related", "created_at": 5.0}


def test_an_import_writes_its_links_in_batches_and_reports_each_missing_end_by_line(
    service: MemoryService,
) -> None:
    count = IMPORT_BATCH * 2 + 3
    records: list[tuple[int, dict[str, object]]] = [
        (n + 1, {"kind": "memory", "coord": [float(n)], "payload": {"text": f"m{n}"}}) for n in range(count)
    ]
    records += [(count + n + 1, link_record(float(n), float(n + 1))) for n in range(count - 1)]
    records += [(9001, link_record(99999.0, 1.0)), (9002, link_record(1.0, 99998.0))]
    records += [(9003, link_record(99999.0, 99998.0))]
    report = service.import_records(NS, records)
    assert (report.memories, report.links) == (count, count - 1)
    assert report.errors == [
        "line 9001: from node [99999.0] is not a memory in namespace 'ns'",
        "line 9002: to node [99998.0] is not a memory in namespace 'ns'",
        "line 9003: from node [99999.0] is not a memory in namespace 'ns'",
    ]
    assert len(list(service.store.iter_links(NS))) == count - 1
    assert service.neighbors(NS, (7.0,)) == [Link(NS, (7.0,), (8.0,), "related", 1.0, 5.0)]
    assert [e.action for e in service.audit(NS, limit=1)] == [AuditAction.IMPORT]  # links: no entry


def test_link_many_writes_the_links_to_memories_and_audits_each(service: MemoryService) -> None:
    for coord in (1.0, 2.0, 3.0):
        service.store_memory(NS, NewMemory((coord,), {"text": f"m{coord}"}))
    written = service.link_many(NS, [((1.0,), (2.0,)), ((1.0,), (9.0,)), ((1.0,), (3.0,))], "consolidated")
    assert [(link.target, link.weight) for link in written] == [((2.0,), 1.0), ((3.0,), 1.0)]
    assert [link.target for link in service.neighbors(NS, (1.0,))] == [(2.0,), (3.0,)]
    entries = service.audit(NS, limit=2)
    assert sorted((e.action, e.coordinate, e.target) for e in entries) == [
        (AuditAction.LINK, (1.0,), (2.0,)),
        (AuditAction.LINK, (1.0,), (3.0,)),
    ]
    assert service.link_many(NS, [((9.0,), (2.0,))], "consolidated") == []  # no source: nothing
    with pytest.raises(InvalidInput, match="link type must be a non-empty string"):
        service.link_many(NS, [((1.0,), (2.0,))], " ")


def test_a_conditional_write_that_lost_leaves_no_row_version_nor_audit_entry(service: MemoryService) -> None:
    store = service.store
    store.put_many([memory(1.0, "a", 10.0)])
    trail = AuditTrail([AuditEntry(20.0, "test", AuditAction.DECAY, NS, (1.0,))], 100)
    later = memory(1.0, "b", 20.0)
    assert store.put_if_unchanged(NS, [later], {(1.0,): 9.0}, keep_versions=5, audit=trail) == [(1.0,)]
    assert store.put_if_unchanged(NS, [later], {(2.0,): 10.0}) == [(2.0,)]  # gone counts as changed
    assert (store.get(NS, (1.0,)), store.versions(NS, (1.0,))) == (memory(1.0, "a", 10.0), [])
    assert store.audit_entries(NS, None, 10, None) == []
    assert store.put_if_unchanged(NS, [later], {(1.0,): 10.0}, keep_versions=5, audit=trail) == []
    assert store.get(NS, (1.0,)) == later
    assert [v.payload for v in store.versions(NS, (1.0,))] == [{"text": "a"}]
    assert [e.action for e in store.audit_entries(NS, None, 10, None)] == [AuditAction.DECAY]


def test_a_conditional_delete_of_a_memory_written_since_keeps_it_its_links_and_its_vector(
    service: MemoryService,
) -> None:
    stored = service.store_memory(NS, NewMemory((1.0,), {"text": "kept"}))
    service.link(NS, (1.0,), (1.0,), "self")
    assert service.delete(NS, (1.0,), if_updated_at=stored.updated_at - 1) is False
    assert service.get(NS, (1.0,)).payload == {"text": "kept"}
    assert [link.target for link in service.neighbors(NS, (1.0,))] == [(1.0,)]
    assert [hit.memory.coordinate for hit in service.recall(NS, "kept", top_k=1, ranking=Ranking.DENSE)] == [
        (1.0,)
    ]
    assert service.delete(NS, (1.0,), if_updated_at=stored.updated_at) is True
    assert service.store.get(NS, (1.0,)) is None


def test_windows_are_consolidated_in_groups_of_at_most_a_write_batch() -> None:
    sizes = {0: 300, 1: 150, 2: 100, 3: 600, 4: 10}
    windows = {w: [(float(w), float(n)) for n in range(size)] for w, size in sizes.items()}
    groups = window_groups(windows)
    assert WRITE_BATCH == 500
    assert [[window for window, _ in group] for group in groups] == [[0, 1], [2], [3], [4]]


def test_a_pass_consolidates_many_windows_in_one_write_and_links_them_in_another(
    service: MemoryService,
) -> None:
    clock = Clock()
    service.clock = clock
    for n in range(30):  # 10 windows of 3
        clock.now = T0 + n * 100 / 3
        service.store_memory(NS, NewMemory((float(n),), {"text": f"event {n}"}))
    clock.now = T0 + 10_000
    readings = hook_revise(service, lambda _: None, 99)
    done = Maintenance(service, MaintenancePolicy(consolidating=Consolidating(100))).run([NS], dry_run=False)
    assert (readings, done) == ([1], MaintenanceSummary(namespaces=1, consolidated=30, created=10))
    assert service.stats(NS).semantic == 10
    assert len(list(service.store.iter_links(NS))) == 30
