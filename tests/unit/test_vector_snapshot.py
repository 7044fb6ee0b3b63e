"""The snapshot of a large shard's rows (adapters/vector_snapshot.py): a start reads from SQLite only the
rows written since it, and anything that does not match its manifest is rebuilt from SQLite with the
same answers."""

import json
import logging
import os
from pathlib import Path

import numpy as np
import pytest

from somafractalmemory.adapters import mapped_rows
from somafractalmemory.adapters.ann_index import AnnIndex
from somafractalmemory.adapters.mapped_rows import MappedRows
from somafractalmemory.adapters.vector_snapshot import SnapshotInvalid, VectorSnapshot
from somafractalmemory.core.models import MemoryType, VectorPoint

DIMS = 16
POINTS = 400
THRESHOLD = 100


def unit_vectors(count: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, DIMS)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def point(n: int, vector: np.ndarray) -> VectorPoint:
    kind = MemoryType.SEMANTIC if n % 10 == 0 else MemoryType.EPISODIC
    return VectorPoint("big", (float(n), 0.5), vector, kind, {"n": n})


def built(path: Path) -> tuple[AnnIndex, np.ndarray]:
    index = AnnIndex(path, DIMS, threshold=THRESHOLD)
    vectors = unit_vectors(POINTS, 1)
    for start in range(0, POINTS, 100):
        index.upsert([point(n, vectors[n]) for n in range(start, start + 100)])
    return index, vectors


def answers(index: AnnIndex, kind: MemoryType | None = None) -> list[list[tuple[float, ...]]]:
    return [
        [h.coordinate for h in index.search("big", q, top_k=10, memory_type=kind, conditions=())]
        for q in unit_vectors(20, 2)
    ]


def snapshot_file(path: Path, suffix: str) -> Path:
    (found,) = path.with_name(path.name + ".ivf").rglob(f"*{suffix}")
    return found


def manifest(path: Path) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(snapshot_file(path, ".snapshot").read_text())
    return loaded


def test_a_start_reads_only_the_rows_written_since_the_snapshot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "v.sqlite"
    index, _ = built(path)
    index.close()
    assert manifest(path)["rows"] == POINTS
    assert manifest(path)["last_label"] == POINTS
    index = AnnIndex(path, DIMS, threshold=THRESHOLD)
    index.delete("big", [(float(n), 0.5) for n in range(0, 30)])
    fresh = unit_vectors(55, 3)
    index.upsert([point(POINTS + n, fresh[n]) for n in range(50)])
    index.upsert([point(100 + n, fresh[50 + n]) for n in range(5)])  # replaced: new labels
    # no close: the process dies with the snapshot of the first 400 rows
    read: list[int] = []
    loaded_rows = AnnIndex._loaded_rows
    monkeypatch.setattr(
        AnnIndex, "_loaded_rows", lambda self, rows: read.append(len(rows)) or loaded_rows(self, rows)
    )
    after = AnnIndex(path, DIMS, threshold=THRESHOLD)
    assert sum(read) == 55
    assert after._shards["big"].shard.size == POINTS - 30 + 50
    coordinates = {c for hits in answers(after) for c in hits}
    assert coordinates.isdisjoint({(float(n), 0.5) for n in range(30)})
    hit = after.search("big", fresh[52], top_k=1, memory_type=None, conditions=())
    assert hit[0].coordinate == (102.0, 0.5) and hit[0].score == pytest.approx(1.0)
    snapshot_file(path, ".snapshot").unlink()
    read.clear()
    rebuilt = AnnIndex(path, DIMS, threshold=THRESHOLD)
    assert sum(read) == POINTS - 30 + 50
    assert answers(rebuilt) == answers(after)
    assert answers(rebuilt, MemoryType.SEMANTIC) == answers(after, MemoryType.SEMANTIC)


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("truncate", "the .rows file is missing or shorter than its manifest says"),
        ("vector", "the vector of label 1 differs from the file's"),
        ("labels", "the checksum differs from the manifest's"),
        ("namespace", "the manifest is of another file, namespace or dimension"),
        ("manifest", "unreadable manifest"),
    ],
)
def test_a_damaged_snapshot_is_rebuilt_from_sqlite_with_the_same_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, damage: str, reason: str
) -> None:
    path = tmp_path / "v.sqlite"
    index, _ = built(path)
    before = answers(index)
    index.close()
    rows = snapshot_file(path, ".rows")
    if damage == "truncate":
        with rows.open("r+b") as file:
            file.truncate(rows.stat().st_size // 2)
    elif damage == "vector":
        with rows.open("r+b") as file:
            file.write(np.ones(DIMS, dtype=np.float32).tobytes())
    elif damage == "labels":
        labels = snapshot_file(path, ".labels")
        labels.write_bytes(labels.read_bytes()[8:] + labels.read_bytes()[:8])
    elif damage == "namespace":
        fields = manifest(path) | {"namespace": "other"}
        snapshot_file(path, ".snapshot").write_text(json.dumps(fields))
    else:
        snapshot_file(path, ".snapshot").write_text("{")
    caplog.set_level(logging.WARNING, logger="somafractalmemory.adapters.ann_index")
    reopened = AnnIndex(path, DIMS, threshold=THRESHOLD)
    assert f"the saved rows of namespace 'big' are not usable ({reason}" in caplog.text
    assert reopened._shards["big"].shard.size == POINTS
    assert answers(reopened) == before
    reopened.close()
    assert manifest(path)["rows"] == POINTS  # written anew
    caplog.clear()
    assert answers(AnnIndex(path, DIMS, threshold=THRESHOLD)) == before
    assert "not usable" not in caplog.text


def test_a_namespace_at_or_below_the_threshold_keeps_no_snapshot(tmp_path: Path) -> None:
    index = AnnIndex(tmp_path / "v.sqlite", DIMS, threshold=THRESHOLD)
    vectors = unit_vectors(THRESHOLD, 4)
    index.upsert([point(n, vectors[n]) for n in range(THRESHOLD)])
    index.close()
    assert not list((tmp_path / "v.sqlite.ivf").rglob("*.snapshot"))


def snapshot(tmp_path: Path) -> VectorSnapshot:
    return VectorSnapshot(tmp_path / "s", "ns", "gen", DIMS)


def rows(labels: list[int]) -> tuple[np.ndarray, np.ndarray, list[tuple[float, ...]], np.ndarray]:
    array = np.array(labels, dtype=np.int64)
    vectors = np.repeat(array[:, None], DIMS, axis=1).astype(np.float32)
    return array, (array % 2).astype(np.int8), [(float(label),) for label in labels], vectors


def test_a_save_appends_the_newer_labels_in_label_order(tmp_path: Path) -> None:
    saved = snapshot(tmp_path)
    saved.save(*rows([3, 1, 2]))
    saved.save(*rows([3, 1, 2, 9, 5]))
    loaded = saved.load()
    assert loaded.labels.tolist() == [1, 2, 3, 5, 9]
    assert loaded.last_label == 9
    assert loaded.types.tolist() == [1, 0, 1, 1, 1]
    assert loaded.coordinates == [(1.0,), (2.0,), (3.0,), (5.0,), (9.0,)]
    assert loaded.vectors[:, 0].tolist() == [1.0, 2.0, 3.0, 5.0, 9.0]


def test_bytes_a_crashed_save_appended_are_ignored_then_cut(tmp_path: Path) -> None:
    saved = snapshot(tmp_path)
    saved.save(*rows([1, 2]))
    for path in saved.files()[:4]:  # a save that died before its manifest
        with path.open("ab") as file:
            file.write(b"\x07" * 100)
    assert saved.load().labels.tolist() == [1, 2]
    saved.save(*rows([1, 2, 4]))
    loaded = saved.load()
    assert loaded.labels.tolist() == [1, 2, 4]
    assert loaded.coordinates == [(1.0,), (2.0,), (4.0,)]
    assert loaded.vectors[:, 0].tolist() == [1.0, 2.0, 4.0]


def test_a_snapshot_mostly_of_deleted_rows_is_rewritten(tmp_path: Path) -> None:
    saved = snapshot(tmp_path)
    saved.save(*rows([1, 2, 3, 4, 5]))
    saved.save(*rows([4, 5, 6]))  # 3 of 5 saved rows deleted: more than half
    assert saved.load().labels.tolist() == [4, 5, 6]
    saved.save(*rows([4, 6, 7]))  # 1 of 3 deleted: appended to
    assert saved.load().labels.tolist() == [4, 5, 6, 7]


def test_a_snapshot_of_another_dimension_is_invalid(tmp_path: Path) -> None:
    snapshot(tmp_path).save(*rows([1]))
    with pytest.raises(SnapshotInvalid, match="another file, namespace or dimension"):
        VectorSnapshot(tmp_path / "s", "ns", "gen", DIMS * 2).load()


def test_a_snapshot_missing_a_row_the_file_holds_is_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "v.sqlite"
    index, _ = built(path)
    before = answers(index)
    ann = index._shards["big"]
    shard = ann.shard
    index.close()
    keep = np.flatnonzero(shard.ids[: shard.size] != 5)  # label 5 is left out, consistently
    ann.snapshot.remove()
    ann.snapshot.save(
        shard.ids[keep], shard.types[keep], [shard.coordinates[row] for row in keep], shard.vectors[keep]
    )
    caplog.set_level(logging.WARNING, logger="somafractalmemory.adapters.ann_index")
    reopened = AnnIndex(path, DIMS, threshold=THRESHOLD)
    assert f"not usable ({POINTS - 1} rows where the file holds {POINTS})" in caplog.text
    assert answers(reopened) == before


@pytest.mark.parametrize("in_kernel", [True, False])
def test_mapped_rows_copy_a_file_of_rows_with_or_without_copy_file_range(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, in_kernel: bool
) -> None:
    if not in_kernel:
        monkeypatch.delattr(os, "copy_file_range", raising=False)
    monkeypatch.setattr(mapped_rows, "COPY_CHUNK", 3 * DIMS * 4)  # several reads and writes
    source = tmp_path / "source.rows"
    rows_written = np.arange(10 * DIMS, dtype=np.float32).reshape(10, DIMS)
    source.write_bytes(rows_written.tobytes())
    mapped = MappedRows(tmp_path, DIMS)
    vectors = mapped.resized(16)
    mapped.copy(2, source, 3, 7)
    assert np.array_equal(vectors[2:9], rows_written[3:10])
    assert not vectors[:2].any() and not vectors[9:].any()
    with pytest.raises(EOFError, match=r"source\.rows ends before its rows"):
        mapped.copy(0, source, 8, 5)
    mapped.close()
