"""A large namespace's vectors are its snapshot's file of rows (adapters/vector_rows.py): opening reads
none of them, writes after it append and never touch a saved row, a crash between an append and the
manifest reopens consistent with SQLite, and garbage past half is compacted away."""

import logging
import os
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from somafractalmemory.adapters import ann_index
from somafractalmemory.adapters.ann_index import SPOT_CHECKS, AnnIndex
from somafractalmemory.adapters.vector_rows import VectorRows
from somafractalmemory.core.models import MemoryType, VectorPoint

DIMS = 16
POINTS = 600
THRESHOLD = 100
ROW_BYTES = DIMS * 4


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ann_index, "TAIL", 64)


def unit_vectors(count: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, DIMS)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def point(n: int, vector: np.ndarray) -> VectorPoint:
    kind = MemoryType.SEMANTIC if n % 10 == 0 else MemoryType.EPISODIC
    return VectorPoint("big", (float(n),), vector, kind, {"n": n})


def built(path: Path) -> AnnIndex:
    index = AnnIndex(path, DIMS, threshold=THRESHOLD)
    vectors = unit_vectors(POINTS, 1)
    for start in range(0, POINTS, 100):
        index.upsert([point(n, vectors[n]) for n in range(start, start + 100)])
    index.close()
    return AnnIndex(path, DIMS, threshold=THRESHOLD)


def rows_file(path: Path) -> Path:
    (found,) = path.with_name(path.name + ".ivf").rglob("*.rows")
    return found


def stored(path: Path, namespace: str = "big") -> dict[tuple[float, ...], bytes]:
    """Every point's vector of the namespace as SQLite holds it."""
    with sqlite3.connect(path) as db:
        found = db.execute("SELECT coord_key, vector FROM points WHERE namespace = ?", (namespace,))
        return {(float(key),): blob for key, blob in found}


def assert_consistent(index: AnnIndex, path: Path) -> None:
    """The shard holds exactly SQLite's points, each with SQLite's vector, and answers as exact search."""
    shard = index._shards["big"].shard
    truth = stored(path)
    vectors = shard.vectors_at(np.arange(shard.size))
    assert {c: vectors[row].tobytes() for c, row in shard.row_of.items()} == truth
    matrix = np.stack([np.frombuffer(blob, dtype=np.float32) for blob in truth.values()])
    keys = list(truth)
    for query in unit_vectors(10, 5):
        best = [keys[i] for i in np.argsort(-(matrix @ query), kind="stable")[:10]]
        assert [h.coordinate for h in index.exact_search("big", query, top_k=10)] == best
        hits = index.search("big", query, top_k=10, memory_type=None, conditions=())
        assert len({h.coordinate for h in hits} & set(best)) >= 9


def crash(index: AnnIndex) -> None:
    """What a killed process leaves: its descriptors closed, nothing saved."""
    for ann in index._shards.values():
        if ann.shard.backing is not None:
            ann.shard.backing.close()


def test_a_reopened_shard_reads_its_vectors_from_the_snapshot_file_without_a_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v.sqlite"
    built(path).close()
    size = rows_file(path).stat().st_size
    read: list[int] = []
    original = VectorRows.read
    monkeypatch.setattr(VectorRows, "read", lambda self, at: read.append(len(at)) or original(self, at))
    warmed: list[Path] = []
    monkeypatch.setattr(VectorRows, "warm", lambda self: warmed.append(self.path))
    index = AnnIndex(path, DIMS, threshold=THRESHOLD)
    assert warmed == [rows_file(path)]  # the page cache takes the file in after the start
    shard = index._shards["big"].shard
    assert shard.backing is not None and shard.vectors.shape == (0, DIMS)  # nothing in memory
    descriptor = shard.backing._fd
    assert os.fstat(descriptor).st_ino == rows_file(path).stat().st_ino  # the snapshot's own file
    assert read == [SPOT_CHECKS]  # the spot checks are the only vectors read
    assert rows_file(path).stat().st_size == size == POINTS * ROW_BYTES
    assert_consistent(index, path)
    index.close()


def test_deletes_and_re_upserts_after_a_reopen_append_and_never_resurrect(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite"
    index = built(path)
    saved = rows_file(path).read_bytes()
    fresh = unit_vectors(40, 2)
    index.delete("big", [(float(n),) for n in range(0, 60)])  # rows move: the last ones fill the holes
    index.upsert([point(100 + n, fresh[n]) for n in range(20)])  # replaced: new rows at the end
    index.upsert([point(POINTS + n, fresh[20 + n]) for n in range(20)])  # new points
    assert rows_file(path).read_bytes()[: len(saved)] == saved  # no saved row was written again
    assert index._shards["big"].shard.backing.count == POINTS + 40
    assert_consistent(index, path)
    for n in range(20):
        hit = index.search("big", fresh[n], top_k=1, memory_type=None, conditions=())
        assert hit[0].coordinate == (100.0 + n,) and hit[0].score == pytest.approx(1.0)
    gone = {(float(n),) for n in range(60)}
    for query in unit_vectors(20, 3):
        hits = index.search("big", query, top_k=50, memory_type=None, conditions=())
        assert gone.isdisjoint(h.coordinate for h in hits)
    index.close()
    assert rows_file(path).read_bytes()[: len(saved)] == saved
    reopened = AnnIndex(path, DIMS, threshold=THRESHOLD)
    assert_consistent(reopened, path)
    crash(reopened)


def test_a_crash_between_an_append_and_the_manifest_reopens_like_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite"
    index = built(path)
    fresh = unit_vectors(30, 4)
    index.delete("big", [(float(n),) for n in range(5)])
    index.upsert([point(200 + n, fresh[n]) for n in range(10)])
    index.upsert([point(POINTS + n, fresh[10 + n]) for n in range(20)])
    crash(index)  # 30 rows appended after the manifest, never trusted
    with rows_file(path).open("ab") as file:  # and a torn write past them
        file.write(b"\x07" * (ROW_BYTES // 2))
    reopened = AnnIndex(path, DIMS, threshold=THRESHOLD)
    shard = reopened._shards["big"].shard
    assert shard.size == POINTS - 5 + 20
    # the untrusted rows are cut, and the 30 rows labelled after the snapshot appended again from SQLite
    assert rows_file(path).stat().st_size == (POINTS + 30) * ROW_BYTES
    assert_consistent(reopened, path)
    reopened.close()
    again = AnnIndex(path, DIMS, threshold=THRESHOLD)
    assert_consistent(again, path)
    crash(again)


def test_a_snapshot_more_than_half_garbage_is_compacted(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite"
    index = built(path)
    index.delete("big", [(float(n),) for n in range(0, 300)])  # half: kept as it is
    index.close()
    assert rows_file(path).stat().st_size == POINTS * ROW_BYTES
    index = AnnIndex(path, DIMS, threshold=THRESHOLD)
    fresh = unit_vectors(1, 6)
    index.delete("big", [(float(300),)])  # 301 of 600 rows garbage
    index.upsert([point(400, fresh[0])])  # one more: 302 of 601
    index.close()
    assert rows_file(path).stat().st_size == 299 * ROW_BYTES
    assert not list(path.with_name(path.name + ".ivf").rglob("*.partial"))
    reopened = AnnIndex(path, DIMS, threshold=THRESHOLD)
    assert reopened._shards["big"].shard.size == 299
    assert_consistent(reopened, path)
    hit = reopened.search("big", fresh[0], top_k=1, memory_type=None, conditions=())
    assert hit[0].coordinate == (400.0,)
    reopened.close()


def test_a_snapshot_short_of_a_row_is_found_among_namespaces_and_read_whole(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v.sqlite"
    index = AnnIndex(path, DIMS, threshold=THRESHOLD)
    vectors = unit_vectors(400, 7)
    index.upsert([point(n, vectors[n]) for n in range(200)])
    index.upsert(
        [VectorPoint("other", (float(n),), vectors[n], MemoryType.EPISODIC, {}) for n in range(200, 400)]
    )
    big = index._shards["big"].snapshot
    index.close()
    loaded = big.load()  # rewritten without its first row, consistently: only the count can tell
    big.rewrite(
        loaded.vectors, np.arange(1, 200), loaded.labels[1:], loaded.types[1:], loaded.coordinates[1:]
    ).close()
    loaded.vectors.close()
    caplog.set_level(logging.WARNING, logger="somafractalmemory.adapters.ann_index")
    warmed: list[Path] = []
    monkeypatch.setattr(VectorRows, "warm", lambda self: warmed.append(self.path))
    reopened = AnnIndex(path, DIMS, threshold=THRESHOLD)
    assert caplog.messages == [
        "the saved rows of namespace 'big' are not usable (199 rows where the file holds 200): "
        "reading them from the file"
    ]
    other = reopened._shards["other"]
    assert other.shard.backing is not None and other.shard.size == 200
    (other_rows,) = [p for p in rows_files(path) if p.stem == other.path.stem]
    assert os.fstat(other.shard.backing._fd).st_ino == other_rows.stat().st_ino  # still its snapshot's
    assert warmed == [other_rows]  # 'big' was just written from SQLite: in the page cache already
    assert reopened._shards["big"].shard.size == 200
    assert_consistent(reopened, path)
    reopened.close()


def rows_files(path: Path) -> list[Path]:
    return list(path.with_name(path.name + ".ivf").rglob("*.rows"))


def test_a_second_process_on_the_file_reads_sqlite_and_the_first_leaves_its_snapshot_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "v.sqlite"
    first = built(path)  # holds the snapshot's file
    caplog.set_level(logging.WARNING, logger="somafractalmemory.adapters.ann_index")
    second = AnnIndex(path, DIMS, threshold=THRESHOLD)
    assert "the saved rows of namespace 'big' are not usable (" in caplog.text
    assert "rows is held by another process): reading them from the file" in caplog.text
    fresh = unit_vectors(1, 8)
    second.upsert([point(POINTS, fresh[0])])
    second.close()
    written = rows_file(path).stat().st_ino
    first.close()  # its rows no longer at the path: nothing of the snapshot is written
    assert "the saved rows of namespace 'big' are another process's now" in caplog.text
    assert rows_file(path).stat().st_ino == written
    caplog.clear()
    third = AnnIndex(path, DIMS, threshold=THRESHOLD)
    assert "not usable" not in caplog.text  # the second one's snapshot, whole
    assert_consistent(third, path)
    crash(third)


def test_each_point_is_stored_under_its_own_vector(tmp_path: Path) -> None:
    path = tmp_path / "vectors.sqlite"
    index = AnnIndex(path, DIMS, threshold=THRESHOLD)
    vectors = unit_vectors(3, 11)
    index.upsert([point(n, vectors[n]) for n in range(3)])
    index.close()
    assert stored(path) == {(float(n),): vectors[n].tobytes() for n in range(3)}
