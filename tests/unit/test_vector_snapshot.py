"""The snapshot of a large shard's rows (adapters/vector_snapshot.py): a start reads from SQLite only the
rows written since it, and anything that does not match its manifest is rebuilt from SQLite with the
same answers."""

import json
import logging
from pathlib import Path

import numpy as np
import pytest

from somafractalmemory.adapters.ann_index import AnnIndex
from somafractalmemory.adapters.vector_rows import VectorRows
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


def crash(index: AnnIndex) -> None:
    """What a killed process leaves: its descriptors closed (the vector files' locks with them), nothing
    saved."""
    for ann in index._shards.values():
        if ann.shard.backing is not None:
            ann.shard.backing.close()


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
    crash(index)  # the process dies with the snapshot of the first 400 rows
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


def append(rows: VectorRows, labels: list[int]) -> None:
    """Rows whose vectors, types and coordinates follow from their labels."""
    array = np.array(labels, dtype=np.int64)
    vectors = np.repeat(array[:, None], DIMS, axis=1).astype(np.float32)
    rows.append(vectors, array, (array % 2).astype(np.int8), [(float(label),) for label in labels])


def test_a_save_makes_the_appended_rows_trusted_in_file_order(tmp_path: Path) -> None:
    saved = snapshot(tmp_path)
    rows = saved.start()
    append(rows, [3, 1, 2])
    saved.save(rows)
    append(rows, [9, 5])
    assert (rows.count, rows.saved) == (5, 3)
    saved.save(rows)
    assert (rows.count, rows.saved) == (5, 5)
    rows.close()
    loaded = saved.load()
    assert loaded.labels.tolist() == [3, 1, 2, 9, 5]
    assert loaded.last_label == 9
    assert loaded.types.tolist() == [1, 1, 0, 1, 1]
    assert loaded.coordinates == [(3.0,), (1.0,), (2.0,), (9.0,), (5.0,)]
    assert loaded.vectors.read(np.array([4, 0, 1]))[:, 0].tolist() == [5.0, 3.0, 1.0]
    loaded.vectors.close()


def test_rows_appended_after_the_manifest_are_cut_on_opening(tmp_path: Path) -> None:
    saved = snapshot(tmp_path)
    rows = saved.start()
    append(rows, [1, 2])
    saved.save(rows)
    append(rows, [3])  # appended, never saved: the process dies here
    rows.close()
    for path in saved.files()[1:4]:  # and a save that died before its manifest
        with path.open("ab") as file:
            file.write(b"\x07" * 100)
    loaded = saved.load()
    assert loaded.labels.tolist() == [1, 2]
    assert loaded.vectors.count == 2
    assert saved.files()[0].stat().st_size == 2 * DIMS * 4  # the unsaved row is cut
    append(loaded.vectors, [4])
    saved.save(loaded.vectors)
    loaded.vectors.close()
    again = saved.load()
    assert again.labels.tolist() == [1, 2, 4]
    assert again.coordinates == [(1.0,), (2.0,), (4.0,)]
    assert again.vectors.read(np.arange(3))[:, 0].tolist() == [1.0, 2.0, 4.0]
    again.vectors.close()


def test_a_rewrite_keeps_only_the_given_rows(tmp_path: Path) -> None:
    saved = snapshot(tmp_path)
    rows = saved.start()
    append(rows, [1, 2, 3, 4, 5])
    saved.save(rows)
    append(rows, [6])
    kept = np.array([3, 5])  # labels 4 and 6
    rewritten = saved.rewrite(rows, kept, np.array([4, 6]), np.array([0, 0], dtype=np.int8), [(4.0,), (6.0,)])
    rows.close()
    assert (rewritten.count, rewritten.saved) == (2, 2)
    assert rewritten.read(np.arange(2))[:, 0].tolist() == [4.0, 6.0]
    assert not list(tmp_path.glob("*.partial"))
    rewritten.close()
    loaded = saved.load()
    assert (loaded.labels.tolist(), loaded.last_label, loaded.coordinates) == ([4, 6], 6, [(4.0,), (6.0,)])
    loaded.vectors.close()


def test_a_save_on_a_manifest_of_other_rows_is_refused(tmp_path: Path) -> None:
    saved = snapshot(tmp_path)
    rows = saved.start()
    append(rows, [1, 2])
    saved.save(rows)
    rows.close()
    other = saved.load().vectors
    other.close()
    fields = manifest_of(saved) | {"rows": 1}
    saved.files()[4].write_text(json.dumps({"format": 1, **fields}))
    reopened = VectorRows(saved.files()[0], DIMS, 2)
    reopened.saved = 2
    with pytest.raises(SnapshotInvalid, match="the manifest trusts 1 rows, not 2"):
        saved.save(reopened)
    reopened.close()


def manifest_of(saved: VectorSnapshot) -> dict[str, object]:
    fields: dict[str, object] = json.loads(saved.files()[4].read_text())
    fields.pop("format")
    return fields


def test_rows_another_process_holds_are_not_used(tmp_path: Path) -> None:
    saved = snapshot(tmp_path)
    rows = saved.start()
    append(rows, [1])
    saved.save(rows)
    append(rows, [2])  # unsaved: opening the file again must not cut it under its owner
    with pytest.raises(SnapshotInvalid, match=r"s\.rows is held by another process"):
        saved.load()
    assert rows.read(np.array([1]))[0, 0] == 2.0
    rows.close()


def test_a_snapshot_of_another_dimension_is_invalid(tmp_path: Path) -> None:
    saved = snapshot(tmp_path)
    rows = saved.start()
    append(rows, [1])
    saved.save(rows)
    rows.close()
    with pytest.raises(SnapshotInvalid, match="another file, namespace or dimension"):
        VectorSnapshot(tmp_path / "s", "ns", "gen", DIMS * 2).load()


def test_a_snapshot_missing_a_row_the_file_holds_is_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "v.sqlite"
    index, _ = built(path)
    before = answers(index)
    snapshot_of = index._shards["big"].snapshot
    index.close()
    loaded = snapshot_of.load()
    keep = np.flatnonzero(loaded.labels != 5)  # label 5 is left out, consistently
    snapshot_of.rewrite(
        loaded.vectors, keep, loaded.labels[keep], loaded.types[keep], [loaded.coordinates[p] for p in keep]
    ).close()
    loaded.vectors.close()
    caplog.set_level(logging.WARNING, logger="somafractalmemory.adapters.ann_index")
    reopened = AnnIndex(path, DIMS, threshold=THRESHOLD)
    assert f"not usable ({POINTS - 1} rows where the file holds {POINTS})" in caplog.text
    assert answers(reopened) == before
