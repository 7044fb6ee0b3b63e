"""The embedded ANN index: the IVF index's recall against an exact scan, filters inside the search,
deletes that never come back (also after a crash between a commit and an index save), and a start that
reconciles the saved index with the file instead of rebuilding it."""

import logging
import sqlite3
from pathlib import Path

import faiss
import numpy as np
import pytest

from somafractalmemory.adapters import ann_index
from somafractalmemory.adapters.ann_index import AnnIndex
from somafractalmemory.adapters.numpy_index import NumpyIndex
from somafractalmemory.core.filters import parse_filters
from somafractalmemory.core.models import MemoryType, VectorPoint

DIMS = 32
POINTS = 3000
CLUSTERS = 60


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ann_index, "TAIL", 256)
    monkeypatch.setattr(ann_index, "SAVE_MIN_CHANGES", 1000)


def clustered(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.random.default_rng(0).standard_normal((CLUSTERS, DIMS)).astype(np.float32)
    vectors = centres[rng.integers(0, CLUSTERS, count)] + 0.5 * rng.standard_normal((count, DIMS))
    vectors = vectors.astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def point(n: int, vector: np.ndarray, namespace: str = "ns") -> VectorPoint:
    kind = MemoryType.SEMANTIC if n % 100 == 0 else MemoryType.EPISODIC
    return VectorPoint(namespace, (float(n),), vector, kind, {"n": n, "even": n % 2 == 0})


def crash(index: AnnIndex) -> None:
    """What a killed process leaves: its descriptors closed (the vector files' locks with them), nothing
    saved."""
    for ann in index._shards.values():
        if ann.shard.backing is not None:
            ann.shard.backing.close()


def filled(path: Path, threshold: int = 0) -> tuple[AnnIndex, np.ndarray]:
    index = AnnIndex(path, DIMS, threshold=threshold)
    vectors = clustered(POINTS, 1)
    for start in range(0, POINTS, 500):
        index.upsert([point(n, vectors[n]) for n in range(start, start + 500)])
    return index, vectors


def exact(vectors: np.ndarray, query: np.ndarray, k: int, keep: set[int] | None = None) -> list[int]:
    scores = vectors @ query
    ranked = [int(n) for n in np.argsort(-scores, kind="stable") if keep is None or int(n) in keep]
    return ranked[:k]


def found(index: AnnIndex, query: np.ndarray, k: int = 10, **kwargs: object) -> list[int]:
    conditions = parse_filters(kwargs.pop("filters")) if "filters" in kwargs else ()
    kind = kwargs.pop("memory_type", None)
    assert isinstance(kind, MemoryType | None)
    hits = index.search("ns", query, top_k=k, memory_type=kind, conditions=conditions)
    return [int(h.coordinate[0]) for h in hits]


def recall(index: AnnIndex, vectors: np.ndarray, keep: set[int] | None = None, **kwargs: object) -> float:
    queries = clustered(50, 2)
    hits = 0
    for query in queries:
        truth = exact(vectors, query, 10, keep)
        hits += len(set(found(index, query, **kwargs)) & set(truth))
    return hits / (10 * len(queries))


def test_the_ivf_index_finds_the_exact_top_ten_and_scores_exactly(tmp_path: Path) -> None:
    index, vectors = filled(tmp_path / "v.sqlite")
    assert (len(index._shards["ns"].ivf), len(index._shards["ns"].tail)) == (POINTS, 0)
    index.upsert([point(POINTS + n, vectors[n]) for n in range(100)])  # fewer than TAIL: they wait
    assert (len(index._shards["ns"].ivf), len(index._shards["ns"].tail)) == (POINTS, 100)
    assert found(index, vectors[5], 2) in ([5, POINTS + 5], [POINTS + 5, 5])  # the tail is searched too
    index.delete("ns", [(float(POINTS + n),) for n in range(100)])
    assert recall(index, vectors) >= 0.99
    query = clustered(1, 3)[0]
    hits = index.search("ns", query, top_k=3, memory_type=None, conditions=())
    assert [h.score for h in hits] == [
        pytest.approx(float(vectors[int(h.coordinate[0])] @ query), abs=1e-6) for h in hits
    ]


def test_below_the_threshold_the_scan_answers_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from somafractalmemory.adapters import numpy_index

    monkeypatch.setattr(numpy_index, "EXACT_SEARCH_LIMIT", 500)  # the shards keep no sketches: still exact
    index, vectors = filled(tmp_path / "v.sqlite", threshold=POINTS)
    for query in clustered(20, 4):
        assert found(index, query) == exact(vectors, query, 10)


def test_filters_apply_inside_the_search(tmp_path: Path) -> None:
    index, vectors = filled(tmp_path / "v.sqlite")
    even = {n for n in range(POINTS) if n % 2 == 0}
    assert recall(index, vectors, even, filters={"even": True}) >= 0.99
    query = clustered(1, 5)[0]
    assert all(n % 2 == 0 for n in found(index, query, 50, filters={"even": True}))
    # 30 semantic points of 3000 (1%): selective, so the scan answers with every one of them.
    semantic = {n for n in range(POINTS) if n % 100 == 0}
    assert sorted(found(index, query, 40, memory_type=MemoryType.SEMANTIC)) == sorted(semantic)
    # 3 points pass: the scan, exactly.
    assert sorted(found(index, query, 10, filters={"n": {"$gte": POINTS - 3}})) == [2997, 2998, 2999]


def test_a_filter_the_candidates_fail_falls_back_to_the_scan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index, vectors = filled(tmp_path / "v.sqlite")
    monkeypatch.setattr(ann_index, "MIN_FETCH", 1)
    monkeypatch.setattr(ann_index, "FETCH_PER_RESULT", 1)
    query = clustered(1, 6)[0]
    # 10% pass (the index is asked for 100 candidates), but asking for 500 needs the scan.
    keep = {n for n in range(POINTS) if n % 10 == 3}
    assert found(index, query, 500, filters={"n": {"$in": sorted(keep)}}) == exact(vectors, query, 500, keep)


def test_deletes_never_come_back(tmp_path: Path) -> None:
    index, vectors = filled(tmp_path / "v.sqlite")
    query = vectors[42]
    assert found(index, query, 1) == [42]
    index.upsert([point(POINTS, vectors[5])])  # waits in the tail
    index.delete("ns", [(42.0,), (float(POINTS),)])  # one in the IVF index, one in the tail
    assert (len(index._shards["ns"].ivf), len(index._shards["ns"].tail)) == (POINTS - 1, 0)
    assert 42 not in found(index, query, 50)
    assert POINTS not in found(index, vectors[5], 50)
    index.close()
    reopened = AnnIndex(tmp_path / "v.sqlite", DIMS, threshold=0)
    assert 42 not in found(reopened, query, 50)
    assert len(reopened._shards["ns"].ivf) == POINTS - 1


def test_a_crash_before_the_index_save_is_reconciled_by_label(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    index, vectors = filled(tmp_path / "v.sqlite")
    index.close()  # the index is saved with every point
    index = AnnIndex(tmp_path / "v.sqlite", DIMS, threshold=0)
    index.delete("ns", [(7.0,)])
    index.upsert([point(8, vectors[9])])  # a new vector under a new label
    index.upsert([point(POINTS, vectors[10])])
    crash(index)  # the process dies with the index file as saved before these writes
    caplog.set_level(logging.INFO, logger="somafractalmemory.adapters.ann_index")
    after = AnnIndex(tmp_path / "v.sqlite", DIMS, threshold=0)
    assert "vector index of namespace 'ns' brought in line with its file: 2 added, 2 removed" in caplog.text
    ivf = after._shards["ns"].ivf
    assert ivf is not None and len(ivf) == POINTS
    assert 7 not in found(after, vectors[7], 50)
    assert found(after, vectors[9], 2) in ([8, 9], [9, 8])
    assert POINTS in found(after, vectors[10], 2)
    caplog.clear()
    after.close()
    AnnIndex(tmp_path / "v.sqlite", DIMS, threshold=0)
    assert "brought in line" not in caplog.text  # a clean start reconciles nothing


def test_an_unchanged_ivf_index_is_not_written_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    index, _ = filled(tmp_path / "v.sqlite")
    index.close()
    (saved,) = (tmp_path / "v.sqlite.ivf").rglob("*.faiss")
    written = saved.stat().st_ino  # each save renames a new file over the old one
    AnnIndex(tmp_path / "v.sqlite", DIMS, threshold=0).close()
    assert saved.stat().st_ino == written
    index = AnnIndex(tmp_path / "v.sqlite", DIMS, threshold=0)
    index.delete("ns", [(3.0,)])
    crash(index)  # the saved IVF index still holds the deleted label
    caplog.set_level(logging.INFO, logger="somafractalmemory.adapters.ann_index")
    reopened = AnnIndex(tmp_path / "v.sqlite", DIMS, threshold=0)
    assert "brought in line with its file: 0 added, 1 removed" in caplog.text
    assert saved.stat().st_ino != written  # a removal alone is a change: saved
    reopened.close()
    caplog.clear()
    again = AnnIndex(tmp_path / "v.sqlite", DIMS, threshold=0)
    assert "brought in line" not in caplog.text
    assert len(again._shards["ns"].ivf) == POINTS - 1


def test_namespaces_are_separate_and_an_emptied_one_leaves_no_index_file(tmp_path: Path) -> None:
    index = AnnIndex(tmp_path / "v.sqlite", DIMS, threshold=0)
    vectors = clustered(20, 7)
    index.upsert([point(n, vectors[n], "a") for n in range(10)])
    index.upsert([point(n, vectors[n], "b") for n in range(10, 20)])
    hits = index.search("a", vectors[15], top_k=20, memory_type=None, conditions=())
    assert sorted(int(h.coordinate[0]) for h in hits) == list(range(10))
    index.close()
    assert len(list((tmp_path / "v.sqlite.ivf").rglob("*.faiss"))) == 2
    reopened = AnnIndex(tmp_path / "v.sqlite", DIMS, threshold=0)
    assert sorted(reopened._shards) == ["a", "b"]  # each namespace found by its own index seek
    reopened.delete("a", [(float(n),) for n in range(10)])
    reopened.close()
    AnnIndex(tmp_path / "v.sqlite", DIMS, threshold=0).close()
    assert len(list((tmp_path / "v.sqlite.ivf").rglob("*.faiss"))) == 1


def test_a_numpy_index_file_is_labelled_and_its_old_indexes_dropped(tmp_path: Path) -> None:
    path = tmp_path / "v.sqlite"
    vectors = clustered(300, 8)
    first, _ = filled(path)
    first.close()
    old_generation = {p.name for p in (tmp_path / "v.sqlite.ivf").iterdir()}
    path.unlink()  # `soma reindex` puts a file the numpy index wrote in place of the old one
    numpy_index = NumpyIndex(path, DIMS)
    numpy_index.upsert([point(n, vectors[n]) for n in range(300)])
    numpy_index.close()
    index = AnnIndex(path, DIMS, threshold=0)
    assert {p.name for p in (tmp_path / "v.sqlite.ivf").iterdir()}.isdisjoint(old_generation)
    assert len(index._shards["ns"].ivf) == 300
    assert found(index, vectors[123], 1) == [123]
    with sqlite3.connect(path) as db:
        labels = [row[0] for row in db.execute("SELECT label FROM points ORDER BY label")]
    assert labels == list(range(2, 302))  # next_label 1 + rowid 1..300
    index.upsert([point(5, vectors[6])])
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT max(label), count(*) FROM points").fetchone() == (302, 300)


def test_cells_follow_the_training_points_within_bounds() -> None:
    from somafractalmemory.adapters.ivf_lists import cells_for

    assert [cells_for(n) for n in (10, 100, 5_000, 10_240, 20_000, 1_000_000)] == [10, 16, 250, 512, 512, 512]


def test_a_query_scans_a_fixed_share_of_the_cells_and_never_fewer_than_the_minimum(tmp_path: Path) -> None:
    from somafractalmemory.adapters.ivf_lists import IvfLists, probes_for

    # 24 of 1,024 (an index trained before the cells were capped at 512 keeps its probes), 16 at least
    assert [probes_for(n) for n in (10, 16, 512, 683, 1024, 2048)] == [16, 16, 16, 16, 24, 48]
    trained = IvfLists.trained(clustered(600, 3), 600)
    assert (trained._index.nlist, trained._index.nprobe) == (30, 16)
    older = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(DIMS), DIMS, 1024, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    older.train(clustered(4 * 1024, 4))
    faiss.write_index(older, str(tmp_path / "older.faiss"))
    assert IvfLists.load(tmp_path / "older.faiss")._index.nprobe == 24


def test_past_the_threshold_the_vectors_are_mapped_and_reopen_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ann_index, "LOAD_BATCH", 7)  # a namespace's rows span many batches on opening
    path = tmp_path / "v.sqlite"
    index = AnnIndex(path, DIMS, threshold=100)
    vectors = clustered(400, 9)
    for start in range(0, 400, 50):  # the namespaces' points interleave in the file
        index.upsert([point(n, vectors[n], "big" if n >= 60 else "small") for n in range(start, start + 50)])
    big, small = index._shards["big"], index._shards["small"]
    assert (big.shard.size, small.shard.size) == (340, 60)
    assert small.shard.backing is None  # at or below the threshold: anonymous memory
    assert big.shard.backing is not None
    queries = clustered(20, 10)
    before = [index.search("big", q, top_k=10, memory_type=None, conditions=()) for q in queries]
    index.close()
    reopened = AnnIndex(path, DIMS, threshold=100)
    assert reopened._shards["big"].shard.backing is not None
    assert reopened._shards["small"].shard.backing is None
    assert [reopened.search("big", q, top_k=10, memory_type=None, conditions=()) for q in queries] == before
    semantic = reopened.search("small", vectors[0], top_k=5, memory_type=MemoryType.SEMANTIC, conditions=())
    assert [h.coordinate for h in semantic] == [(0.0,)]
    assert [h.coordinate for h in reopened.exact_search("big", vectors[77], top_k=1)] == [(77.0,)]


def test_points_moved_by_deletes_keep_their_labels_rows(tmp_path: Path) -> None:
    index, vectors = filled(tmp_path / "v.sqlite")
    gone = list(range(0, POINTS, 3))
    index.delete("ns", [(float(n),) for n in gone])  # each delete moves the last row into the hole
    kept = [n for n in range(POINTS) if n % 3]
    assert [found(index, vectors[n], 1) for n in kept[::7]] == [[n] for n in kept[::7]]
    assert not set(gone) & set(found(index, vectors[0], 100))


def test_the_point_moved_into_the_last_row_keeps_its_vector_for_the_rescoring(tmp_path: Path) -> None:
    index, vectors = filled(tmp_path / "v.sqlite")
    index.delete("ns", [(float(POINTS - 2),)])  # the last point moves into the hole, now the last row
    index.upsert([point(POINTS + 1, vectors[0])])  # appended where the moved point was
    ((hit,),) = [index.search("ns", vectors[POINTS - 1], top_k=1, memory_type=None, conditions=())]
    assert hit.coordinate == (float(POINTS - 1),) and hit.score == pytest.approx(1.0, abs=1e-5)


def test_a_delete_counts_as_a_change_of_the_ivf_index_so_close_saves_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    index, _ = filled(tmp_path / "v.sqlite")
    index.close()
    index = AnnIndex(tmp_path / "v.sqlite", DIMS, threshold=0)
    index.delete("ns", [(3.0,)])
    index.close()
    caplog.set_level(logging.INFO, logger="somafractalmemory.adapters.ann_index")
    reopened = AnnIndex(tmp_path / "v.sqlite", DIMS, threshold=0)
    assert "brought in line" not in caplog.text  # the saved IVF index already left the label out
    assert len(reopened._shards["ns"].ivf) == POINTS - 1
    reopened.close()


def test_label_rows_grow_with_the_labels_and_unknown_labels_have_no_row() -> None:
    rows = ann_index.LabelRows()
    rows.set(np.array([3, 5000]), np.array([7, 8]))
    rows.set(np.array([], dtype=np.int64), np.array([], dtype=np.int64))
    assert rows.of(np.array([5000, 3, 4])).tolist() == [8, 7, -1]
    assert rows.of(np.array([3])).dtype == np.int64


def test_filters_read_the_payloads_from_the_file_after_deletes_and_reopening(tmp_path: Path) -> None:
    index, vectors = filled(tmp_path / "v.sqlite")
    assert index._shards["ns"].shard.payloads == []  # the texts stay in the file
    gone = set(range(1, POINTS, 4))
    index.delete("ns", [(float(n),) for n in sorted(gone)])  # moves rows, with their labels
    big = 2**60 + 1  # beyond a float64's exact integers: decided from the payload text itself
    index.upsert([VectorPoint("ns", (float(POINTS),), vectors[3], MemoryType.EPISODIC, {"big": big})])
    query = clustered(1, 11)[0]
    odd = {n for n in range(POINTS) if n % 2 and n not in gone}
    assert found(index, query, 10, filters={"even": False}) == exact(vectors, query, 10, odd)
    assert found(index, vectors[3], 5, filters={"big": big}) == [POINTS]
    index.close()
    reopened = AnnIndex(tmp_path / "v.sqlite", DIMS, threshold=0)
    assert found(reopened, query, 10, filters={"even": False}) == exact(vectors, query, 10, odd)
    assert found(reopened, vectors[3], 5, filters={"big": big}) == [POINTS]


@pytest.mark.parametrize("threshold", [10_000, 0], ids=["scanned", "filed"])
def test_a_coordinate_given_twice_in_one_upsert_keeps_its_last_point(tmp_path: Path, threshold: int) -> None:
    vectors = clustered(4, seed=9)
    index = AnnIndex(tmp_path / "v.sqlite", DIMS, threshold=threshold)
    index.upsert(
        [point(1, vectors[0]), point(2, vectors[1]), point(1, vectors[2]), point(3, vectors[3], "other")]
    )
    ann = index._shards["ns"]
    # Labels 1 to 4 in the order given: label 1 (the first point 1) is in no index, as in no row of the file.
    assert ann.shard.size == 2 and list(ann.tail) == [2, 3]
    stored = index._file.db.execute("SELECT label FROM points WHERE namespace = 'ns' ORDER BY label")
    assert [row[0] for row in stored] == [2, 3]
    assert index.vectors("ns", [(1.0,), (2.0,)]).tolist() == vectors[[2, 1]].tolist()
    assert [
        h.coordinate for h in index.search("ns", vectors[2], top_k=1, memory_type=None, conditions=())
    ] == [(1.0,)]
    assert index.vectors("other", [(3.0,)]).tolist() == vectors[[3]].tolist()
    index.close()
    reopened = AnnIndex(tmp_path / "v.sqlite", DIMS, threshold=threshold)
    assert reopened.vectors("ns", [(1.0,), (2.0,)]).tolist() == vectors[[2, 1]].tolist()
    reopened.close()


def test_the_numpy_index_keeps_the_last_point_of_a_coordinate_given_twice(tmp_path: Path) -> None:
    vectors = clustered(3, seed=10)
    index = NumpyIndex(tmp_path / "n.sqlite", DIMS)
    index.upsert([point(1, vectors[0]), point(2, vectors[1]), point(1, vectors[2])])
    shard = index._shards["ns"]
    assert shard.size == 2 and shard.coordinates == [(2.0,), (1.0,)]  # in the order of their last points
    assert shard.vectors[:2].tolist() == vectors[[1, 2]].tolist()
    assert shard.payloads == ['{"n":2,"even":true}', '{"n":1,"even":false}']
    index.close()


def test_a_write_replacing_or_deleting_indexed_points_removes_their_labels_in_one_call(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """faiss's removal costs about as much for one label as for a few hundred: a write of 500 replaced
    memories made 500 calls."""
    index, vectors = filled(tmp_path / "v.sqlite")
    ann = index._shards["ns"]
    assert ann.ivf is not None and not ann.tail
    removed: list[list[int]] = []
    remove = ann.ivf.remove
    monkeypatch.setattr(ann.ivf, "remove", lambda labels: (removed.append(labels.tolist()), remove(labels)))
    old_labels = {n: int(ann.shard.ids[ann.shard.row_of[(float(n),)]]) for n in range(10)}
    index.upsert([point(n, vectors[n + 100]) for n in range(5)] + [point(POINTS, vectors[7])])
    assert removed == [[old_labels[n] for n in range(5)]]  # the new point had no label to remove
    index.delete("ns", [(5.0,), (6.0,), (5.0,), (float(POINTS),), (float(POINTS + 1),)])
    assert removed[1:] == [[old_labels[5], old_labels[6]]]  # the tail's point left the tail, not the IVF
    held = set(ann.ivf.labels().tolist())
    assert not held & set(old_labels[n] for n in range(7))
    assert set(old_labels[n] for n in range(7, 10)) <= held
    assert len(ann.tail) == 5 and len(ann.ivf) == POINTS - 7
    assert index.vectors("ns", [(0.0,)]).tolist() == vectors[[100]].tolist()
    assert set(found(index, vectors[100], 2)) == {0, 100}  # memory 0 is found by its new vector
    assert not {5, 6, POINTS} & set(found(index, vectors[5], 50))


def test_the_live_labels_are_every_label_the_file_holds_ascending(tmp_path: Path) -> None:
    empty = AnnIndex(tmp_path / "empty.sqlite", DIMS, threshold=0)
    assert empty._live_labels().tolist() == [] and empty._live_labels().dtype == np.int64
    empty.close()
    index, vectors = filled(tmp_path / "v.sqlite")
    index.delete("ns", [(float(n),) for n in range(0, POINTS, 7)])
    index.upsert([point(n, vectors[n]) for n in (1, 2, 3)])  # new labels, past every other one
    index.upsert([point(5, vectors[5], "other")])
    stored = [row[0] for row in index._file.db.execute("SELECT label FROM points ORDER BY label")]
    live = index._live_labels()
    assert live.dtype == np.int64 and live.tolist() == stored
    assert len(stored) == POINTS - len(range(0, POINTS, 7)) + 1
    assert stored[:3] == [5, 6, 7] and stored[-4:] == [POINTS + n for n in (1, 2, 3, 4)]
    index.close()
