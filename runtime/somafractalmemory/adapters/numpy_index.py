"""The embedded vector index: cosine search over numpy arrays, persisted in a SQLite file.

Each namespace is a shard: a growing float32 matrix (capacity doubles, so an insert costs the same at
1k and at 100k points), the memory type of every row, and the payload for metadata filters (as JSON
text: a string is nothing the garbage collector walks, where 100k payload dicts made each full
collection stall the process for a tenth of a second; filters read them once into columns). Every
write goes to the SQLite file first; the arrays are rebuilt from it when the index opens.

Up to EXACT_SEARCH_LIMIT points a query scans every vector. Beyond it the scan is bound by memory
bandwidth (100k x 384 floats is 150 MB a query), so the shard also keeps a 1024-bit SimHash sketch of
every vector (random hyperplanes, 128 bytes a point): Hamming distance over the sketches picks the
candidates, and their exact cosine ranks them. With 1,000 candidates this finds 99.5% of the exact
top 10 at 100k points, in a tenth of the memory traffic.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from somafractalmemory.adapters.payload_columns import Mask, PayloadColumns
from somafractalmemory.adapters.sqlite_file import SQLiteFile
from somafractalmemory.adapters.vector_rows import VectorRows
from somafractalmemory.core.coordinates import Coordinate, coordinate_from_key, coordinate_key
from somafractalmemory.core.filters import MemoryFilter
from somafractalmemory.core.json_text import compact_json
from somafractalmemory.core.models import MemoryType, VectorHit, VectorPoint
from somafractalmemory.core.ports import Vectors

INITIAL_CAPACITY = 1024
TYPE_CODES = {MemoryType.EPISODIC: 0, MemoryType.SEMANTIC: 1}
EXACT_SEARCH_LIMIT = 20_000
SKETCH_BITS = 1024
SKETCH_WORDS = SKETCH_BITS // 64
MIN_CANDIDATES = 1000
CANDIDATES_PER_RESULT = 20
PROJECTION_SEED = 0x50AA

Sketches = np.ndarray[Any, np.dtype[np.uint64]]
Rows = np.ndarray[Any, np.dtype[np.int64]]


def sketch(vectors: Vectors, projection: Vectors) -> Sketches:
    """One SimHash sketch per row: the side of each random hyperplane the vector lies on."""
    signs = np.atleast_2d(vectors) @ projection > 0
    return np.packbits(signs, axis=1).view(np.uint64)


def projection(dimensions: int) -> Vectors:
    """The random hyperplanes of the sketches: the same for every index of a dimension."""
    rng = np.random.default_rng(PROJECTION_SEED)
    return rng.standard_normal((dimensions, SKETCH_BITS)).astype(np.float32)


def by_namespace(points: Sequence[VectorPoint]) -> dict[str, list[int]]:
    """The positions of each namespace's points, keeping of a coordinate given twice only its last point
    (as the file's upsert does), in order."""
    last = {(p.namespace, p.coordinate): position for position, p in enumerate(points)}
    grouped: dict[str, list[int]] = {}
    for position in sorted(last.values()):
        grouped.setdefault(points[position].namespace, []).append(position)
    return grouped


SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    namespace TEXT NOT NULL,
    coord_key TEXT NOT NULL,
    memory_type TEXT NOT NULL,
    vector BLOB NOT NULL,
    payload TEXT NOT NULL,
    UNIQUE (namespace, coord_key)
);
"""


@dataclass
class Shard:
    dimensions: int
    sketch_words: int = SKETCH_WORDS  # 0: no sketches, every search exact (the ANN index's shards)
    size: int = 0
    vectors: Vectors = field(init=False)
    sketches: Sketches = field(init=False)
    types: np.ndarray[Any, np.dtype[np.int8]] = field(init=False)
    ids: np.ndarray[Any, np.dtype[np.int64]] = field(init=False)  # the caller's id of each row (0: none)
    coordinates: list[Coordinate] = field(default_factory=list)
    payloads: list[str] = field(default_factory=list)  # JSON text, unless ``payload_source`` is set
    # The rows' payload texts in row order, read from where they are kept when a filter column is
    # built, instead of ``payloads`` (a million texts are 200 MB of memory for the rare such build).
    payload_source: Sequence[str] | None = None
    row_of: dict[Coordinate, int] = field(default_factory=dict)
    columns: PayloadColumns = field(init=False)
    # A large shard's vectors, in a file (``file_vectors``): ``vectors`` is then empty and row r's
    # vector is the file's row ``positions[r]``.
    backing: VectorRows | None = None
    positions: Rows = field(init=False)

    def __post_init__(self) -> None:
        self.vectors = np.zeros((INITIAL_CAPACITY, self.dimensions), dtype=np.float32)
        self.sketches = np.zeros((INITIAL_CAPACITY, self.sketch_words), dtype=np.uint64)
        self.types = np.zeros(INITIAL_CAPACITY, dtype=np.int8)
        self.ids = np.zeros(INITIAL_CAPACITY, dtype=np.int64)
        self.positions = np.zeros(INITIAL_CAPACITY, dtype=np.int64)
        self.columns = PayloadColumns(INITIAL_CAPACITY)

    def _reserve(self, rows: int) -> None:
        """Room for ``rows`` rows: the capacity doubles until it is enough, in one copy."""
        capacity = len(self.types)
        while capacity < rows:
            capacity *= 2
        if capacity == len(self.types):
            return
        if self.backing is None:
            self.vectors = _resized(self.vectors, capacity, self.size)
        self.sketches = _resized(self.sketches, capacity, self.size)
        self.types = _resized(self.types, capacity, self.size)
        self.ids = _resized(self.ids, capacity, self.size)
        self.positions = _resized(self.positions, capacity, self.size)
        self.columns.grow(capacity, self.size)

    def file_vectors(self, backing: VectorRows) -> None:
        """Keep the vectors in ``backing``'s file from now on (a shard too large for anonymous memory):
        the rows are appended to it, in row order."""
        size = self.size
        first = backing.append(self.vectors[:size], self.ids[:size], self.types[:size], self.coordinates)
        self.positions[:size] = np.arange(first, first + size)
        self.vectors, self.backing = np.empty((0, self.dimensions), dtype=np.float32), backing

    def adopt(
        self,
        backing: VectorRows,
        positions: Rows,
        coordinates: Sequence[Coordinate],
        types: np.ndarray[Any, np.dtype[np.int8]],
        ids: np.ndarray[Any, np.dtype[np.int64]],
    ) -> None:
        """Take rows whose vectors ``backing`` already holds at ``positions`` (an empty shard opening
        its snapshot): nothing of the vectors is read or copied."""
        if self.size:
            raise TypeError("only an empty shard adopts a file of vectors")
        self.vectors, self.backing = np.empty((0, self.dimensions), dtype=np.float32), backing
        self._append(coordinates, types, ids)
        self.positions[: self.size] = positions

    def move_vectors(self, backing: VectorRows, positions: Rows) -> None:
        """The vectors now live in ``backing`` (a file rewritten without garbage), row r's at
        ``positions[r]``."""
        self.backing = backing
        self.positions[: self.size] = positions

    def vectors_at(self, rows: Rows) -> Vectors:
        """The vectors of ``rows`` (read from the file for a filed shard)."""
        if self.backing is None:
            vectors: Vectors = self.vectors[rows]
            return vectors
        return self.backing.read(self.positions[rows])

    def vectors_of(self, coordinates: Sequence[Coordinate]) -> Vectors:
        """The vectors of those of ``coordinates`` the shard holds, in that order."""
        held = [self.row_of[c] for c in coordinates if c in self.row_of]
        return self.vectors_at(np.asarray(held, dtype=np.int64))

    def scores(self, query: Vectors) -> np.ndarray[Any, np.dtype[np.float32]]:
        """Every row's inner product with ``query`` (a filed shard's file is read in order, garbage
        rows with it, rather than row by row)."""
        if self.backing is None:
            scores: np.ndarray[Any, np.dtype[np.float32]] = self.vectors[: self.size] @ query
            return scores
        return self.backing.scores(query)[self.positions[: self.size]]

    def extend(
        self,
        coordinates: Sequence[Coordinate],
        types: np.ndarray[Any, np.dtype[np.int8]],
        vectors: Vectors,
        ids: np.ndarray[Any, np.dtype[np.int64]],
    ) -> None:
        """Append rows for coordinates the shard does not hold yet, in bulk (an index opening its file:
        a row at a time cost most of a start at a million points). Only a shard whose payload texts
        stay in a file (``payload_source``): its filter columns are dropped, to be built again from
        there when a filter next needs one."""
        start = self.size
        self._append(coordinates, types, ids)
        self._write_vectors(slice(start, self.size), vectors, ids, types, coordinates)

    def _write_vectors(
        self,
        rows: slice | Rows,
        vectors: Vectors,
        ids: np.ndarray[Any, np.dtype[np.int64]],
        types: np.ndarray[Any, np.dtype[np.int8]],
        coordinates: Sequence[Coordinate],
    ) -> None:
        """The vectors of ``rows``: in the shard's array, or (a filed shard) as new rows at the file's
        end, never over the rows the file already holds (they may be saved ones)."""
        if self.backing is None:
            self.vectors[rows] = vectors
        else:
            first = self.backing.append(vectors, ids, types, list(coordinates))
            self.positions[rows] = np.arange(first, first + len(vectors))

    def _append(
        self,
        coordinates: Sequence[Coordinate],
        types: np.ndarray[Any, np.dtype[np.int8]],
        ids: np.ndarray[Any, np.dtype[np.int64]],
    ) -> None:
        """Room for the rows and everything of them but their vectors."""
        if self.payload_source is None:
            raise TypeError("rows are added in bulk only to a shard that reads its payloads from a file")
        start, stop = self.size, self.size + len(coordinates)
        self._reserve(stop)
        self.types[start:stop] = types
        self.ids[start:stop] = ids
        self.columns = PayloadColumns(len(self.types))
        self.coordinates.extend(coordinates)
        self.row_of.update(zip(coordinates, range(start, stop), strict=True))
        self.size = stop

    def put_many(
        self,
        points: Sequence[VectorPoint],
        payload_texts: Sequence[str],
        vectors: Vectors,
        point_sketches: Sketches,
        idents: np.ndarray[Any, np.dtype[np.int64]],
    ) -> np.ndarray[Any, np.dtype[np.int64]]:
        """Put points of distinct coordinates (each new, or replacing its coordinate's row) with their
        ``vectors`` (row i: point i's), written at once; the row of each."""
        self._reserve(self.size + sum(1 for p in points if p.coordinate not in self.row_of))
        rows = []
        for point, payload_text in zip(points, payload_texts, strict=True):
            row = self.row_of.get(point.coordinate)
            if row is None:
                row = self.size
                self.size += 1
                self.row_of[point.coordinate] = row
                self.coordinates.append(point.coordinate)
                if self.payload_source is None:
                    self.payloads.append(payload_text)
            elif self.payload_source is None:
                self.payloads[row] = payload_text
            self.columns.put(row, point.payload)
            rows.append(row)
        at = np.asarray(rows, dtype=np.int64)
        codes = np.fromiter((TYPE_CODES[p.memory_type] for p in points), dtype=np.int8, count=len(points))
        self._write_vectors(at, vectors, idents, codes, [p.coordinate for p in points])
        self.sketches[at] = point_sketches
        self.types[at] = codes
        self.ids[at] = idents
        return at

    def remove(self, coordinate: Coordinate) -> int | None:
        """Swap the last row into the hole, so rows stay dense; the row the coordinate had (the last
        row's point is there now, unless it was the last), or None when the shard did not hold it."""
        row = self.row_of.pop(coordinate, None)
        if row is None:
            return None
        last = self.size - 1
        if row != last:
            moved = self.coordinates[last]
            if self.backing is None:
                self.vectors[row] = self.vectors[last]
            else:
                self.positions[row] = self.positions[last]
            self.sketches[row] = self.sketches[last]
            self.types[row] = self.types[last]
            self.ids[row] = self.ids[last]
            self.columns.move(row, last)
            self.coordinates[row] = moved
            if self.payload_source is None:
                self.payloads[row] = self.payloads[last]
            self.row_of[moved] = row
        self.coordinates.pop()
        if self.payload_source is None:
            self.payloads.pop()
        self.size = last
        return row

    def passing(self, memory_type: MemoryType | None, conditions: MemoryFilter) -> Mask | None:
        """The rows that pass the type and the conditions, or None when nothing is filtered.

        Type and metadata filters are masks over every row (no row is checked one by one), so the best
        rows are picked among those that pass, and a filter nothing passes costs little."""
        if memory_type is None and not conditions:
            return None
        passing = np.ones(self.size, dtype=np.bool_)
        if memory_type is not None:
            passing &= self.types[: self.size] == TYPE_CODES[memory_type]
        if conditions:
            texts = self.payloads if self.payload_source is None else self.payload_source
            passing &= self.columns.mask(conditions, texts)
        return passing

    def search(
        self,
        query: Vectors,
        query_sketch: Sketches,
        top_k: int,
        memory_type: MemoryType | None,
        conditions: MemoryFilter,
    ) -> list[VectorHit]:
        if self.size == 0:
            return []
        approximate = self.size > EXACT_SEARCH_LIMIT and self.sketch_words > 0
        if not approximate and (memory_type is not None or conditions):
            return self._exact_among(query, top_k, self.passing(memory_type, conditions))
        if approximate:
            distances = np.bitwise_count(self.sketches[: self.size] ^ query_sketch).sum(
                axis=1, dtype=np.int32
            )
            coarse = -distances.astype(np.float32)
        else:
            coarse = self.scores(query)
        eligible = self.size
        passing = self.passing(memory_type, conditions)
        if passing is not None:
            coarse[~passing] = -np.inf
            eligible = int(np.count_nonzero(passing))
        want = max(top_k * CANDIDATES_PER_RESULT, MIN_CANDIDATES) if approximate else top_k
        want = min(want, eligible)
        if want == 0:
            return []
        # The best `want` rows by the coarse score, ranked by exact cosine.
        prefix = np.argpartition(-coarse, want - 1)[:want] if want < self.size else np.arange(want)
        exact = self.vectors_at(prefix) @ query if approximate else coarse[prefix]
        order = np.argsort(-exact, kind="stable")[:top_k]
        return [VectorHit(self.coordinates[int(prefix[p])], cosine(exact[p])) for p in order]

    def _exact_among(self, query: Vectors, top_k: int, passing: Mask | None) -> list[VectorHit]:
        """Exact cosine over the rows that pass only (a selective filter reads few vectors)."""
        rows = np.flatnonzero(passing) if passing is not None else np.arange(self.size)
        scores = self.vectors_at(rows) @ query
        order = np.argsort(-scores, kind="stable")[:top_k]
        return [VectorHit(self.coordinates[int(rows[p])], cosine(scores[p])) for p in order]


def cosine(score: float) -> float:
    """float32 rounding can put a unit vector's self-similarity just past 1."""
    return min(1.0, max(-1.0, float(score)))


def _resized(array: np.ndarray[Any, Any], capacity: int, used: int) -> np.ndarray[Any, Any]:
    grown = np.zeros((capacity, *array.shape[1:]), dtype=array.dtype)
    grown[:used] = array[:used]
    return grown


class NumpyIndex:
    name = "vector-index"

    def __init__(self, path: Path, dimensions: int) -> None:
        self.dimensions = dimensions
        self._shards: dict[str, Shard] = {}
        self._projection = projection(dimensions)
        self._file = SQLiteFile(path, SCHEMA, self.name)
        self._load()

    def _load(self) -> None:
        points: list[VectorPoint] = []
        texts: list[str] = []
        for namespace, key, memory_type, blob, payload in self._file.db.execute(
            "SELECT namespace, coord_key, memory_type, vector, payload FROM points"
        ):
            vector = np.frombuffer(blob, dtype=np.float32)
            if len(vector) != self.dimensions:
                raise ValueError(
                    f"the index holds {len(vector)}-dimensional vectors but {self.dimensions} are "
                    "configured; use a new data directory or the matching dimension"
                )
            point = VectorPoint(
                namespace, coordinate_from_key(key), vector, MemoryType(memory_type), {}
            )  # no filter column exists yet to need the payload parsed
            points.append(point)
            texts.append(payload)
        self._add(points, texts)

    def _add(self, points: Sequence[VectorPoint], texts: Sequence[str]) -> None:
        if not points:
            return
        vectors = np.stack([np.asarray(p.vector, dtype=np.float32) for p in points])
        sketches = sketch(vectors, self._projection)
        for namespace, positions in by_namespace(points).items():
            self._shard(namespace).put_many(
                [points[i] for i in positions],
                [texts[i] for i in positions],
                vectors[positions],
                sketches[positions],
                np.zeros(len(positions), dtype=np.int64),
            )

    def _shard(self, namespace: str) -> Shard:
        shard = self._shards.get(namespace)
        if shard is None:
            shard = self._shards[namespace] = Shard(self.dimensions)
        return shard

    def ping(self) -> None:
        self._file.ping()

    def close(self) -> None:
        self._file.close()

    def upsert(self, points: Sequence[VectorPoint]) -> None:
        rows = [
            (
                p.namespace,
                coordinate_key(p.coordinate),
                p.memory_type.value,
                np.asarray(p.vector, dtype=np.float32).tobytes(),
                compact_json(p.payload),
            )
            for p in points
        ]
        with self._file.transaction() as db:
            db.executemany(
                """
                INSERT INTO points (namespace, coord_key, memory_type, vector, payload) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (namespace, coord_key) DO UPDATE SET
                    memory_type = excluded.memory_type, vector = excluded.vector, payload = excluded.payload
                """,
                rows,
            )
            self._add(points, [row[4] for row in rows])

    def delete(self, namespace: str, coordinates: Sequence[Coordinate]) -> None:
        with self._file.transaction() as db:
            db.executemany(
                "DELETE FROM points WHERE namespace = ? AND coord_key = ?",
                [(namespace, coordinate_key(c)) for c in coordinates],
            )
            shard = self._shards.get(namespace)
            if shard is not None:
                for coordinate in coordinates:
                    shard.remove(coordinate)

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
            shard = self._shards.get(namespace)
            if shard is None:
                return []
            query = np.asarray(vector, dtype=np.float32)
            return shard.search(query, sketch(query, self._projection)[0], top_k, memory_type, conditions)

    def settle(self) -> None:
        """Writes are made in the caller's thread: there is nothing to wait for."""

    def vectors(self, namespace: str, coordinates: Sequence[Coordinate]) -> Vectors:
        """The vectors held for those of ``coordinates`` the namespace has, in that order."""
        with self._file.lock:
            shard = self._shards.get(namespace)
            return shard.vectors_of(coordinates) if shard else np.zeros((0, self.dimensions), np.float32)
