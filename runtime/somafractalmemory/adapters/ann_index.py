"""The embedded vector index past the size where an exact scan stops scaling: an inverted-file index
over int8-quantised vectors (faiss IVF-SQ8, ``ivf_lists``) proposes candidates, exact float32 cosine
ranks them, and a SQLite file keeps every point.

The SQLite file is the authority, as for the numpy index (it is the same file, with a label column
added): every write lands there first, each point under a label that is never reused (a re-upsert takes
a new label, so an index holding the old label holds a stale vector under a label nothing points to).
Each namespace keeps its points in a numpy ``Shard`` (float32 vectors, types, payload columns: the
exact scan and the rescoring) and an IVF index keyed by label, saved to its own file now and then and
on close. Past the threshold the shard's float32 vectors move to its snapshot's append-only file of rows
(``vector_rows``, ``vector_snapshot``), read with ``pread`` when a query rescores them: a query reads a
few hundred, so at a million points they are neither 1.5 GiB of resident memory nor read on start.

Each save of such a shard makes the rows appended since the previous save durable and trusted by the
snapshot's manifest (rewriting the files once more than half their rows are of deleted or replaced
labels). Opening takes a namespace's rows from its snapshot where they are (those whose labels the
file still holds, after comparing ``SPOT_CHECKS`` vectors with the file's; rows after the manifest's
are cut) and reads from the file only the rows labelled after it; a namespace with no usable snapshot,
or whose row count then differs from the file's, is read from the file whole. Rows are read in batches
of ``LOAD_BATCH`` (columns at a time, not a point at a time). Each index file is loaded, then reconciled
by label alone: labels the file holds but the index lacks are added, labels the index holds but the
file lacks are removed. A crash between a commit and an index save therefore costs the re-adding of the
writes since the last save, never a full rebuild, and a delete never comes back.

Writes reach the IVF index in batches: the newest points wait in a small tail that every search scans
exactly, and join the index once the tail is full. A search on a shard up to ``threshold`` points, or
with a filter that few points pass, is the numpy shard's scan; otherwise the IVF index proposes
candidates (over-fetched by the filter's selectivity), the filter drops those that fail, exact cosine
ranks them, and a filter that left too few falls back to the scan.
"""

import hashlib
import logging
import shutil
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import numpy as np

from somafractalmemory.adapters import heap
from somafractalmemory.adapters.ivf_lists import IvfLists, Labels, training_rows
from somafractalmemory.adapters.numpy_index import SCHEMA, TYPE_CODES, Shard, by_namespace, cosine
from somafractalmemory.adapters.sqlite_file import SQLiteFile, insert_rows
from somafractalmemory.adapters.vector_rows import VectorRows
from somafractalmemory.adapters.vector_snapshot import (
    PARTIAL_SUFFIX,
    SnapshotInvalid,
    SnapshotRows,
    VectorSnapshot,
)
from somafractalmemory.core.coordinates import Coordinate, coordinate_from_key, coordinate_key
from somafractalmemory.core.filters import MemoryFilter
from somafractalmemory.core.json_text import compact_json
from somafractalmemory.core.models import MemoryType, VectorHit, VectorPoint
from somafractalmemory.core.ports import Vectors

log = logging.getLogger(__name__)

MIN_FETCH = 100  # IVF candidates a query asks for at least, before exact rescoring
FETCH_PER_RESULT = 10
SELECTIVE_SHARE = 0.02  # a filter fewer than this share of the points pass is answered by the scan
TAIL = 2_048  # points waiting for the IVF index, scanned exactly by every search
SAVE_MIN_CHANGES = 10_000  # an IVF index is saved after max(this, a tenth of its size) changes, and on close
INDEX_SUFFIX = ".faiss"
NO_SKETCH = np.empty(0, dtype=np.uint64)  # the shards keep no sketches: their scans are exact
NO_LABELS = np.empty(0, dtype=np.int64)
INITIAL_LABELS = 1024
FOLDER_SUFFIX = ".ivf"  # the folder of the IVF index files, beside the SQLite file
LOAD_BATCH = 10_000  # rows read from the file (or the snapshot) at a time when opening
SPOT_CHECKS = 16  # snapshot vectors compared with the file's when opening
# Points written or deleted between two ``heap.give_back`` calls: a trim of a large, fragmented heap
# takes a millisecond and more (1.4 ms measured), as much as a single store's whole write.
GIVE_BACK_POINTS = 1_000
TYPE_CODE_OF_VALUE = {memory_type.value: code for memory_type, code in TYPE_CODES.items()}

# The namespaces, one index seek each (a skip scan): DISTINCT read the whole (namespace, coord_key)
# index, 0.6 s of a cold start at a million points.
NAMESPACES = """
WITH RECURSIVE found (name) AS (
    SELECT min(namespace) FROM points
    UNION ALL
    SELECT (SELECT min(namespace) FROM points WHERE namespace > found.name) FROM found WHERE name IS NOT NULL
)
SELECT name FROM found WHERE name IS NOT NULL
"""

ANN_SCHEMA = """
CREATE TABLE IF NOT EXISTS ann_meta (generation TEXT NOT NULL, next_label INTEGER NOT NULL);
"""


def index_file_name(namespace: str) -> str:
    """The name of a namespace's IVF index file in its generation's folder (``<vector file>.ivf/<file
    generation>/``); its snapshot's files share the stem."""
    digest = hashlib.sha256(namespace.encode()).hexdigest()[:32]
    return f"{digest}{INDEX_SUFFIX}"


def _label_points(db: sqlite3.Connection) -> str:
    """Give every point a label (a file the numpy index or ``soma reindex`` wrote has none) and return
    the file's generation: a new file gets a new one, so no IVF index of another file is ever trusted."""
    if "label" not in {row[1] for row in db.execute("PRAGMA table_info(points)")}:
        db.execute("ALTER TABLE points ADD COLUMN label INTEGER")
        db.execute("CREATE UNIQUE INDEX points_label ON points (label)")
    if db.execute("SELECT count(*) FROM ann_meta").fetchone()[0] == 0:
        db.execute(
            "INSERT INTO ann_meta SELECT ?, coalesce(max(label), 0) + 1 FROM points", (uuid.uuid4().hex,)
        )
    db.execute("UPDATE points SET label = rowid + (SELECT next_label FROM ann_meta) WHERE label IS NULL")
    db.execute("UPDATE ann_meta SET next_label = (SELECT coalesce(max(label), 0) + 1 FROM points)")
    return str(db.execute("SELECT generation FROM ann_meta").fetchone()[0])


@dataclass
class _Rows:
    """Rows of one namespace read from the file, as columns."""

    labels: Labels
    coordinates: list[Coordinate]
    types: np.ndarray[Any, np.dtype[np.int8]]
    vectors: Vectors


class LabelRows:
    """Each label's row in its namespace's shard, one array for every namespace: labels are never
    reused, so it is indexed by label and grows with the labels ever issued (4 bytes each, where a
    dictionary cost a hundred bytes and more a point)."""

    def __init__(self) -> None:
        self._rows = np.full(INITIAL_LABELS, -1, dtype=np.int32)

    def set(self, labels: Labels, rows: Labels) -> None:
        if len(labels) == 0:
            return
        needed = int(labels.max()) + 1
        if needed > len(self._rows):
            grown = np.full(max(needed, 2 * len(self._rows)), -1, dtype=np.int32)
            grown[: len(self._rows)] = self._rows
            self._rows = grown
        self._rows[labels] = rows

    def of(self, labels: Labels) -> Labels:
        rows: Labels = self._rows[labels].astype(np.int64)
        return rows


class _FilePayloads(Sequence[str]):
    """A shard's payload texts in row order, read from the file (in the lock a search holds) when a
    filter column is built: they are 200 MB and more at a million points, for the first filter on
    each field."""

    def __init__(self, db: sqlite3.Connection, namespace: str, shard: Shard, rows: LabelRows) -> None:
        self._db, self._namespace, self._shard, self._rows = db, namespace, shard, rows

    def __len__(self) -> int:
        return self._shard.size

    @overload
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[str]: ...
    def __getitem__(self, index: int | slice) -> str | Sequence[str]:
        if isinstance(index, slice):
            return [self[row] for row in range(*index.indices(len(self)))]
        label = int(self._shard.ids[index])
        text = self._db.execute("SELECT payload FROM points WHERE label = ?", (label,)).fetchone()[0]
        return str(text)

    def __iter__(self) -> Iterator[str]:
        cursor = self._db.cursor()
        cursor.row_factory = None
        found = cursor.execute(
            "SELECT label, payload FROM points WHERE namespace = ?", (self._namespace,)
        ).fetchall()
        texts = [""] * self._shard.size
        rows = self._rows.of(np.fromiter((label for label, _ in found), dtype=np.int64, count=len(found)))
        for row, (_, text) in zip(rows.tolist(), found, strict=True):
            texts[row] = text
        return iter(texts)


@dataclass
class _AnnShard:
    """A numpy shard and the IVF index over its points, joined by labels (the shard's row ids)."""

    shard: Shard
    ivf: IvfLists | None  # trained once the shard first passes the threshold
    path: Path
    rows: LabelRows
    snapshot: VectorSnapshot
    tail: dict[int, None] = field(default_factory=dict)  # labels not in the IVF index yet, in write order
    changes: int = 0  # since the IVF index was last saved

    def put_many(
        self, points: Sequence[VectorPoint], payloads: Sequence[str], vectors: Vectors, labels: Labels
    ) -> None:
        """Points of distinct coordinates, each under its new label (the one it had leaves the index)."""
        self.forget([point.coordinate for point in points])
        no_sketches = np.empty((len(points), 0), dtype=np.uint64)
        rows = self.shard.put_many(points, payloads, vectors, no_sketches, labels)
        self.rows.set(labels, rows)
        self.tail.update(dict.fromkeys(labels.tolist()))

    def extend(self, rows: _Rows, threshold: int) -> None:
        """Rows of coordinates the shard does not hold yet (opening: the reconciliation that follows
        decides which labels the IVF index still needs)."""
        start = self.shard.size
        self.shard.extend(rows.coordinates, rows.types, rows.vectors, rows.labels)
        self.rows.set(rows.labels, np.arange(start, self.shard.size))
        self.file_if_large(threshold)

    def file_if_large(self, threshold: int) -> None:
        """Past the threshold the float32 vectors move to the snapshot's file of rows: a query rescores
        a few hundred of them, so only those are read (``vector_rows``)."""
        if self.shard.size > threshold and self.shard.backing is None:
            self.shard.file_vectors(self.snapshot.start())

    def close(self) -> None:
        if self.shard.backing is not None:
            self.shard.backing.close()

    def forget(self, coordinates: Sequence[Coordinate]) -> None:
        """Drop the coordinates' labels from the tail and the IVF index (the shard rows stay). The IVF
        index drops them in one call: each call costs as much as a few hundred labels (faiss builds a
        selector and walks its hash table), and a write replacing 500 memories made 500 calls."""
        indexed: list[int] = []
        for coordinate in coordinates:
            row = self.shard.row_of.get(coordinate)
            if row is None:
                continue
            label = int(self.shard.ids[row])
            if label in self.tail:
                del self.tail[label]
            else:
                indexed.append(label)
            self.changes += 1
        if indexed and self.ivf is not None:
            self.ivf.remove(np.array(indexed, dtype=np.int64))

    def remove(self, coordinates: Sequence[Coordinate]) -> None:
        distinct = list(dict.fromkeys(coordinates))
        self.forget(distinct)
        for coordinate in distinct:
            row = self.shard.remove(coordinate)
            if row is not None and row < self.shard.size:  # the last row's point moved into the hole
                self.rows.set(self.shard.ids[row : row + 1], np.array([row]))

    def flush_tail(self, threshold: int, force: bool = False) -> None:
        """Move the tail into the index once it is full (``force``: whatever it holds), training the
        index first when the shard has just passed the threshold."""
        if not self.tail or (len(self.tail) < TAIL and not force):
            return
        if self.ivf is None:
            if self.shard.size <= threshold:
                return  # the scan answers: every point waits
            self.ivf = IvfLists.trained(
                self.shard.vectors_at(training_rows(self.shard.size)), self.shard.size
            )
        labels = np.fromiter(self.tail, dtype=np.int64, count=len(self.tail))
        self.ivf.add(labels, self.vectors_of(labels))
        self.changes += len(labels)
        self.tail.clear()

    def vectors_of(self, labels: Labels) -> Vectors:
        return self.shard.vectors_at(self.rows.of(labels))

    def save_if_due(self) -> None:
        if self.ivf is not None and self.changes >= max(SAVE_MIN_CHANGES, len(self.ivf) // 10):
            self.save()

    def save(self) -> None:
        """The IVF index when it changed since it was saved or loaded (400 MB at a million points), then
        (a shard past the threshold) the rows appended to its snapshot since the last save, or the
        snapshot rewritten when more than half its rows are garbage."""
        if self.ivf is not None and self.changes:
            self.ivf.save(self.path)
        vectors = self.shard.backing
        if vectors is not None and not vectors.at_path():
            log.warning(
                "the saved rows of namespace %r are another process's now: this one's are not saved",
                self.snapshot.namespace,
            )
        elif vectors is not None:
            if vectors.count - self.shard.size > self.shard.size:
                self.compact(vectors)
            else:
                try:
                    self.snapshot.save(vectors)
                except SnapshotInvalid as error:
                    log.warning(
                        "the saved rows of namespace %r are rewritten (%s)", self.snapshot.namespace, error
                    )
                    self.compact(vectors)
        self.changes = 0

    def compact(self, vectors: VectorRows) -> None:
        """Rewrite the snapshot with the shard's rows alone, in file order, and read them from there."""
        shard = self.shard
        size = shard.size
        order = np.argsort(shard.positions[:size], kind="stable")
        rewritten = self.snapshot.rewrite(
            vectors,
            shard.positions[order],
            shard.ids[order],
            shard.types[order],
            [shard.coordinates[row] for row in order.tolist()],
        )
        vectors.close()
        positions = np.empty(size, dtype=np.int64)
        positions[order] = np.arange(size)
        shard.move_vectors(rewritten, positions)

    def reconcile(self, threshold: int) -> tuple[int, int]:
        """Make the index hold exactly the labels of the shard: (labels added, labels removed)."""
        labels = self.shard.ids[: self.shard.size].copy()
        if self.ivf is None:
            self.tail = dict.fromkeys(labels.tolist())
            self.flush_tail(threshold, force=True)
            return (len(labels), 0) if self.ivf is not None else (0, 0)
        in_ivf = self.ivf.labels()
        stale = in_ivf[~np.isin(in_ivf, labels)]
        if len(stale):
            self.ivf.remove(stale)
            self.changes += len(stale)
        missing = labels[~np.isin(labels, in_ivf)]
        self.tail = dict.fromkeys(missing.tolist())
        self.flush_tail(threshold, force=True)
        return len(missing), len(stale)

    def search(
        self,
        query: Vectors,
        top_k: int,
        memory_type: MemoryType | None,
        conditions: MemoryFilter,
        threshold: int,
    ) -> list[VectorHit]:
        shard = self.shard
        if shard.size <= threshold:
            return shard.search(query, NO_SKETCH, top_k, memory_type, conditions)
        passing = shard.passing(memory_type, conditions)
        share = 1.0 if passing is None else np.count_nonzero(passing) / shard.size
        if share < SELECTIVE_SHARE:
            return shard.search(query, NO_SKETCH, top_k, memory_type, conditions)
        fetch = int(max(MIN_FETCH, top_k * FETCH_PER_RESULT) / share)
        found = NO_LABELS if self.ivf is None else self.ivf.search(query, min(fetch, len(self.ivf)))
        tail = np.fromiter(self.tail, dtype=np.int64, count=len(self.tail))
        rows = self.rows.of(np.concatenate([found, tail]))
        if passing is not None:
            rows = rows[passing[rows]]
            if len(rows) < top_k:
                return shard.search(query, NO_SKETCH, top_k, memory_type, conditions)
        scores = shard.vectors_at(rows) @ query
        order = np.argsort(-scores, kind="stable")[:top_k]
        return [VectorHit(shard.coordinates[int(rows[p])], cosine(scores[p])) for p in order]


class AnnIndex:
    name = "vector-index"

    def __init__(self, path: Path, dimensions: int, *, threshold: int) -> None:
        self.dimensions = dimensions
        self.threshold = threshold
        self._shards: dict[str, _AnnShard] = {}
        self._label_rows = LabelRows()
        self._file = SQLiteFile(path, SCHEMA + ANN_SCHEMA, self.name)
        with self._file.transaction() as db:
            generation = _label_points(db)
        self._next_label = int(self._file.db.execute("SELECT next_label FROM ann_meta").fetchone()[0])
        folder = path.with_name(path.name + FOLDER_SUFFIX)
        folder.mkdir(mode=0o700, exist_ok=True)
        for other in folder.iterdir():
            if other.name != generation:
                shutil.rmtree(other)  # the IVF indexes of a file that was replaced
        self._folder = folder / generation
        self._folder.mkdir(mode=0o700, exist_ok=True)
        self._load()
        heap.give_back()  # what reading the rows and the lists left free
        self._changed_since_give_back = 0

    def _load(self) -> None:
        namespaces = [row[0] for row in self._file.db.execute(NAMESPACES)]
        for partial in self._folder.glob(f"*{PARTIAL_SUFFIX}"):
            partial.unlink()  # a save or a rewrite a crash interrupted
        with ThreadPoolExecutor(max_workers=1) as reader:  # the IVF indexes are read while the rows are
            saved = {namespace: reader.submit(self._saved_ivf, namespace) for namespace in namespaces}
            adopted = self._load_rows(namespaces)
            for namespace, ivf in saved.items():
                self._shards[namespace].ivf = ivf.result()
        for namespace, ann in self._shards.items():
            added, removed = ann.reconcile(self.threshold)
            if added or removed:
                log.info(
                    "vector index of namespace %r brought in line with its file: %d added, %d removed",
                    namespace,
                    added,
                    removed,
                )
                ann.save()
        kept = {ann.path.stem for ann in self._shards.values()}
        for orphan in self._folder.iterdir():
            if orphan.name.split(".")[0] not in kept:
                orphan.unlink()  # a namespace whose every point was deleted
        for namespace in adopted:  # read none of their vectors: now the page cache takes them in
            vectors = self._shards[namespace].shard.backing
            if vectors is not None:
                vectors.warm()

    def _saved_ivf(self, namespace: str) -> IvfLists | None:
        path = self._index_path(namespace)
        return IvfLists.load(path) if path.exists() else None

    def _load_rows(self, namespaces: list[str]) -> list[str]:
        """Each namespace's rows: from its snapshot and the rows labelled after it, else from the file;
        the namespaces read from their snapshots.

        A snapshot's rows are kept when their labels are live, so a namespace read this way holds at
        most the file's points; all namespaces together hold exactly as many as the file's label index
        lists only when each is whole. Only when they do not is each namespace's count read (its
        (namespace, coordinate) index: 0.4 s more of a cold start at a million points)."""
        live: Labels | None = None
        from_snapshots: list[str] = []
        for namespace in namespaces:
            ann = self._shard(namespace)
            if not ann.snapshot.exists():
                self._read_rows(namespace, None)
                continue
            rows: SnapshotRows | None = None
            try:
                rows = ann.snapshot.load()
                if live is None:
                    live = self._live_labels()
                self._extend_from_snapshot(ann, rows, live)
                self._read_rows(namespace, rows.last_label)
                from_snapshots.append(namespace)
            except SnapshotInvalid as error:
                if rows is not None:
                    rows.vectors.close()
                self._read_whole(namespace, str(error))
        if live is None or sum(ann.shard.size for ann in self._shards.values()) == len(live):
            return from_snapshots
        whole = []
        for namespace in from_snapshots:
            held = self._shards[namespace].shard.size
            stored = self._file.db.execute(
                "SELECT count(*) FROM points WHERE namespace = ?", (namespace,)
            ).fetchone()[0]
            if held != stored:
                self._read_whole(namespace, f"{held} rows where the file holds {stored}")
                whole.append(namespace)
        return [namespace for namespace in from_snapshots if namespace not in whole]

    def _read_whole(self, namespace: str, reason: str) -> None:
        """Drop what the namespace read from its snapshot and read it from the file whole."""
        log.warning(
            "the saved rows of namespace %r are not usable (%s): reading them from the file",
            namespace,
            reason,
        )
        ann = self._shards.pop(namespace)
        ann.close()
        ann.snapshot.remove()
        self._shard(namespace)
        self._read_rows(namespace, None)

    def _read_rows(self, namespace: str, after: int | None) -> None:
        """The namespace's rows from the file, in label order: every one, or those labelled after
        ``after`` (the rows written since its snapshot)."""
        cursor = self._file.db.cursor()
        cursor.row_factory = None  # plain tuples: a million sqlite3.Row objects cost seconds
        columns = "SELECT label, namespace, coord_key, memory_type, vector FROM points"
        if after is None:
            cursor.execute(f"{columns} WHERE namespace = ? ORDER BY label", (namespace,))
        else:  # the label index: the namespace's old rows are not visited
            cursor.execute(
                f"{columns} INDEXED BY points_label WHERE label > ? AND namespace = ? ORDER BY label",
                (after, namespace),
            )
        ann = self._shards[namespace]
        while rows := cursor.fetchmany(LOAD_BATCH):
            ann.extend(self._loaded_rows(rows), self.threshold)

    def _live_labels(self) -> Labels:
        """Every label the file holds, ascending (from the label index alone). SQLite joins them into one
        text that numpy parses: 0.22 s at a million labels, where taking them a row at a time through
        Python took 0.53 to 0.61 s of every start."""
        text = self._file.db.execute(
            "SELECT group_concat(label) FROM "
            "(SELECT label FROM points INDEXED BY points_label ORDER BY label)"
        ).fetchone()[0]
        if text is None:
            return NO_LABELS
        # group_concat does not promise the subquery's order; sorting labels already in order is cheap
        labels: Labels = np.sort(np.fromstring(text, dtype=np.int64, sep=","), kind="stable")
        return labels

    def _extend_from_snapshot(self, ann: _AnnShard, rows: SnapshotRows, live: Labels) -> None:
        """The snapshot's rows the file still holds (``live``: its labels, ascending), after comparing a
        few of their vectors with the file's. Past the threshold the shard takes the snapshot's file as
        its vectors (nothing is read or copied); at or below it the rows are read into memory and the
        snapshot goes (it is started anew if the namespace passes the threshold again)."""
        found = np.searchsorted(live, rows.labels)
        kept = (
            np.flatnonzero(live[np.minimum(found, len(live) - 1)] == rows.labels) if len(live) else NO_LABELS
        )
        checked = kept[:: max(1, len(kept) // SPOT_CHECKS)][:SPOT_CHECKS]
        for position, vector in zip(checked.tolist(), rows.vectors.read(checked), strict=True):
            stored = self._file.db.execute(
                "SELECT vector FROM points WHERE label = ?", (int(rows.labels[position]),)
            ).fetchone()[0]
            if stored != vector.tobytes():
                raise SnapshotInvalid(
                    f"the vector of label {int(rows.labels[position])} differs from the file's"
                )
        coordinates = (
            rows.coordinates
            if len(kept) == len(rows.labels)
            else [rows.coordinates[p] for p in kept.tolist()]
        )
        if len(kept) > self.threshold:
            ann.shard.adopt(rows.vectors, kept, coordinates, rows.types[kept], rows.labels[kept])
            ann.rows.set(rows.labels[kept], np.arange(len(kept)))
            return
        for start in range(0, len(kept), LOAD_BATCH):
            chunk = kept[start : start + LOAD_BATCH]
            ann.extend(
                _Rows(
                    rows.labels[chunk],
                    coordinates[start : start + len(chunk)],
                    rows.types[chunk],
                    rows.vectors.read(chunk),
                ),
                self.threshold,
            )
        rows.vectors.close()
        ann.snapshot.remove()

    def _loaded_rows(self, rows: Sequence[tuple[Any, ...]]) -> "_Rows":
        """The columns of rows read from the file: labels, coordinates, type codes, vectors."""
        width = self.dimensions * np.dtype(np.float32).itemsize
        for row in rows:
            if len(row[4]) != width:
                raise ValueError(
                    f"the index holds {len(row[4]) // 4}-dimensional vectors but {self.dimensions} are "
                    "configured; use a new data directory or the matching dimension"
                )
        vectors = np.frombuffer(b"".join(row[4] for row in rows), dtype=np.float32)
        return _Rows(
            np.fromiter((row[0] for row in rows), dtype=np.int64, count=len(rows)),
            [coordinate_from_key(row[2]) for row in rows],
            np.fromiter((TYPE_CODE_OF_VALUE[row[3]] for row in rows), dtype=np.int8, count=len(rows)),
            vectors.reshape(len(rows), self.dimensions),
        )

    def _add(self, batch: Sequence[tuple[VectorPoint, str, int]], vectors: Vectors) -> None:
        """The points (each with its payload's JSON and its label) into their shards; ``vectors``: theirs,
        one row each."""
        points = [point for point, _, _ in batch]
        touched: dict[str, _AnnShard] = {}
        for namespace, positions in by_namespace(points).items():
            ann = touched[namespace] = self._shard(namespace)
            labels = np.fromiter((batch[i][2] for i in positions), dtype=np.int64, count=len(positions))
            ann.put_many(
                [points[i] for i in positions], [batch[i][1] for i in positions], vectors[positions], labels
            )
        for ann in touched.values():
            ann.file_if_large(self.threshold)
            ann.flush_tail(self.threshold)
            ann.save_if_due()

    def _shard(self, namespace: str) -> _AnnShard:
        ann = self._shards.get(namespace)
        if ann is None:
            path = self._index_path(namespace)
            shard = Shard(self.dimensions, sketch_words=0)
            shard.payload_source = _FilePayloads(self._file.db, namespace, shard, self._label_rows)
            snapshot = VectorSnapshot(path.with_suffix(""), namespace, self._folder.name, self.dimensions)
            ann = self._shards[namespace] = _AnnShard(shard, None, path, self._label_rows, snapshot)
        return ann

    def _index_path(self, namespace: str) -> Path:
        return self._folder / index_file_name(namespace)

    def ping(self) -> None:
        self._file.ping()

    def close(self) -> None:
        with self._file.lock:
            for ann in self._shards.values():
                ann.flush_tail(self.threshold, force=True)
                ann.save()
                ann.close()
        self._file.close()

    def upsert(self, points: Sequence[VectorPoint]) -> None:
        vectors = np.stack([np.asarray(p.vector, dtype=np.float32) for p in points])
        blobs = memoryview(vectors.tobytes())
        width = vectors.shape[1] * vectors.itemsize
        with self._file.transaction() as db:
            first = self._next_label
            rows = [
                (
                    first + offset,
                    p.namespace,
                    coordinate_key(p.coordinate),
                    p.memory_type.value,
                    blobs[offset * width : (offset + 1) * width],
                    compact_json(p.payload),
                )
                for offset, p in enumerate(points)
            ]
            insert_rows(
                db,
                "INSERT INTO points (label, namespace, coord_key, memory_type, vector, payload)",
                rows,
                "ON CONFLICT (namespace, coord_key) DO UPDATE SET label = excluded.label,"
                " memory_type = excluded.memory_type, vector = excluded.vector, payload = excluded.payload",
            )
            db.execute("UPDATE ann_meta SET next_label = ?", (first + len(rows),))
            self._next_label = first + len(rows)
            self._add([(p, row[5], row[0]) for p, row in zip(points, rows, strict=True)], vectors)
        self._give_back_after(len(points))

    def delete(self, namespace: str, coordinates: Sequence[Coordinate]) -> None:
        with self._file.transaction() as db:
            db.executemany(
                "DELETE FROM points WHERE namespace = ? AND coord_key = ?",
                [(namespace, coordinate_key(c)) for c in coordinates],
            )
            ann = self._shards.get(namespace)
            if ann is not None:
                ann.remove(coordinates)
                ann.save_if_due()
        self._give_back_after(len(coordinates))

    def _give_back_after(self, changed: int) -> None:
        """Give the heap's free pages back once ``GIVE_BACK_POINTS`` points changed since the last time."""
        self._changed_since_give_back += changed
        if self._changed_since_give_back >= GIVE_BACK_POINTS:
            heap.give_back()
            self._changed_since_give_back = 0

    def search(
        self,
        namespace: str,
        vector: Vectors,
        *,
        top_k: int,
        memory_type: MemoryType | None,
        conditions: MemoryFilter,
    ) -> list[VectorHit]:
        with self._file.lock:
            ann = self._shards.get(namespace)
            if ann is None:
                return []
            query = np.asarray(vector, dtype=np.float32)
            return ann.search(query, top_k, memory_type, conditions, self.threshold)

    def settle(self) -> None:
        """Writes are made in the caller's thread: there is nothing to wait for."""

    def vectors(self, namespace: str, coordinates: Sequence[Coordinate]) -> Vectors:
        """The vectors held for those of ``coordinates`` the namespace has, in that order."""
        with self._file.lock:
            ann = self._shards.get(namespace)
            return ann.shard.vectors_of(coordinates) if ann else np.zeros((0, self.dimensions), np.float32)

    def exact_search(self, namespace: str, vector: Vectors, *, top_k: int) -> list[VectorHit]:
        """The exact float32 top ``top_k`` of the namespace, unfiltered: what recall is measured against."""
        with self._file.lock:
            ann = self._shards.get(namespace)
            if ann is None or ann.shard.size == 0:
                return []
            shard = ann.shard
            scores = shard.scores(np.asarray(vector, dtype=np.float32))
            best = np.argsort(-scores, kind="stable")[:top_k]
            return [VectorHit(shard.coordinates[int(row)], cosine(scores[row])) for row in best]
