"""Versions in the embedded store when one write replaces many memories: each replaced row becomes its
memory's next version, stamped with the time its replacement was written, and each keeps its newest
``keep_versions`` (the write's replaced keys go in one statement each for archiving and trimming)."""

from pathlib import Path

from somafractalmemory.adapters.sqlite_store import SQLiteStore
from somafractalmemory.core.models import Memory, MemoryType, MemoryVersion


def memory(namespace: str, n: int, text: str, at: float) -> Memory:
    return Memory(namespace, (float(n),), {"text": text}, MemoryType.EPISODIC, 0.5, at, at)


def test_a_write_replacing_many_memories_archives_and_trims_each(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.sqlite")
    untouched = memory("ns", 99, "u0", 1.0)
    for round_ in range(4):  # rounds 1 to 3 replace: versions 1 to 3 of each memory
        written = [
            memory(ns, n, f"{ns}{n}-{round_}", 10.0 * round_ + n) for ns in ("ns", "other") for n in (1, 2)
        ]
        store.put_many(written + ([untouched] if round_ < 2 else []), keep_versions=2)
    assert store.versions("ns", (1.0,)) == [
        MemoryVersion(3, {"text": "ns1-2"}, MemoryType.EPISODIC, 0.5, 21.0, 31.0),
        MemoryVersion(2, {"text": "ns1-1"}, MemoryType.EPISODIC, 0.5, 11.0, 21.0),
    ]
    assert [(v.number, v.payload["text"], v.replaced_at) for v in store.versions("other", (2.0,))] == [
        (3, "other2-2", 32.0),
        (2, "other2-1", 22.0),
    ]
    assert [(v.number, v.updated_at, v.replaced_at) for v in store.versions("ns", (99.0,))] == [(1, 1.0, 1.0)]
    store.put_many([memory("ns", 1, "last", 50.0)], keep_versions=5)  # a larger bound trims nothing
    assert [v.number for v in store.versions("ns", (1.0,))] == [4, 3, 2]
    store.close()


def test_a_write_trims_only_its_own_memories_versions_and_a_bound_of_one_keeps_one(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "m.sqlite")
    for round_ in range(4):
        store.put_many([memory("ns", 1, f"a{round_}", 10.0 * round_)], keep_versions=5)
    for round_ in range(3):
        store.put_many([memory("ns", 2, f"b{round_}", 10.0 * round_ + 1)], keep_versions=1)
    assert [v.number for v in store.versions("ns", (1.0,))] == [3, 2, 1]  # beyond the bound of 1
    assert [(v.number, v.payload["text"]) for v in store.versions("ns", (2.0,))] == [(2, "b1")]
    store.close()
