"""The embedded vector index: exact cosine search over numpy arrays, persisted in a SQLite file.

Each namespace is a shard: a growing float32 matrix (capacity doubles, so an insert costs the same at
1k and at 100k points), the memory type of every row, and the payload for metadata filters. Every
write goes to the SQLite file first; the arrays are rebuilt from it when the index opens.
"""

import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from somafractalmemory.core.coordinates import Coordinate, coordinate_from_key, coordinate_key
from somafractalmemory.core.errors import BackendUnavailable
from somafractalmemory.core.filters import MemoryFilter, matches
from somafractalmemory.core.models import MemoryType, VectorHit, VectorPoint
from somafractalmemory.core.ports import Vectors

INITIAL_CAPACITY = 1024
TYPE_CODES = {MemoryType.EPISODIC: 0, MemoryType.SEMANTIC: 1}
FILTERED_OVERFETCH = 8

SCHEMA = """
CREATE TABLE IF NOT EXISTS points (
    namespace TEXT NOT NULL,
    coord_key TEXT NOT NULL,
    memory_type TEXT NOT NULL,
    vector BLOB NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (namespace, coord_key)
) WITHOUT ROWID;
"""


@dataclass
class _Shard:
    dimensions: int
    size: int = 0
    vectors: Vectors = field(init=False)
    types: np.ndarray[Any, np.dtype[np.int8]] = field(init=False)
    coordinates: list[Coordinate] = field(default_factory=list)
    payloads: list[dict[str, Any]] = field(default_factory=list)
    row_of: dict[Coordinate, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.vectors = np.zeros((INITIAL_CAPACITY, self.dimensions), dtype=np.float32)
        self.types = np.zeros(INITIAL_CAPACITY, dtype=np.int8)

    def _grow(self) -> None:
        capacity = len(self.vectors) * 2
        vectors = np.zeros((capacity, self.dimensions), dtype=np.float32)
        vectors[: self.size] = self.vectors[: self.size]
        types = np.zeros(capacity, dtype=np.int8)
        types[: self.size] = self.types[: self.size]
        self.vectors, self.types = vectors, types

    def put(self, point: VectorPoint) -> None:
        row = self.row_of.get(point.coordinate)
        if row is None:
            if self.size == len(self.vectors):
                self._grow()
            row = self.size
            self.size += 1
            self.row_of[point.coordinate] = row
            self.coordinates.append(point.coordinate)
            self.payloads.append(point.payload)
        else:
            self.payloads[row] = point.payload
        self.vectors[row] = point.vector
        self.types[row] = TYPE_CODES[point.memory_type]

    def remove(self, coordinate: Coordinate) -> None:
        """Swap the last row into the hole, so rows stay dense."""
        row = self.row_of.pop(coordinate, None)
        if row is None:
            return
        last = self.size - 1
        if row != last:
            moved = self.coordinates[last]
            self.vectors[row] = self.vectors[last]
            self.types[row] = self.types[last]
            self.coordinates[row] = moved
            self.payloads[row] = self.payloads[last]
            self.row_of[moved] = row
        self.coordinates.pop()
        self.payloads.pop()
        self.size = last

    def search(
        self, query: Vectors, top_k: int, memory_type: MemoryType | None, conditions: MemoryFilter
    ) -> list[VectorHit]:
        if self.size == 0:
            return []
        scores = self.vectors[: self.size] @ query
        if memory_type is not None:
            scores[self.types[: self.size] != TYPE_CODES[memory_type]] = -np.inf
        eligible = int(np.count_nonzero(scores > -np.inf))
        hits: list[VectorHit] = []
        want = min(eligible, top_k if not conditions else top_k * FILTERED_OVERFETCH)
        examined = 0
        while examined < eligible and len(hits) < top_k:
            # Rank a growing prefix: conditions are checked in score order until top_k pass.
            want = min(eligible, max(want, examined * 2))
            prefix = np.argpartition(-scores, want - 1)[:want] if want < self.size else np.arange(self.size)
            ranked = prefix[np.argsort(-scores[prefix], kind="stable")]
            for row in ranked[examined:want]:
                if conditions and not matches(self.payloads[row], conditions):
                    continue
                hits.append(VectorHit(self.coordinates[row], float(scores[row])))
                if len(hits) == top_k:
                    break
            examined = want
        return hits


class NumpyIndex:
    name = "vector-index"

    def __init__(self, path: Path, dimensions: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.dimensions = dimensions
        self._lock = threading.Lock()
        self._shards: dict[str, _Shard] = {}
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._load()

    def _load(self) -> None:
        for namespace, key, memory_type, blob, payload in self._db.execute(
            "SELECT namespace, coord_key, memory_type, vector, payload FROM points"
        ):
            vector = np.frombuffer(blob, dtype=np.float32)
            if len(vector) != self.dimensions:
                raise ValueError(
                    f"the index holds {len(vector)}-dimensional vectors but {self.dimensions} are "
                    "configured; use a new data directory or the matching dimension"
                )
            self._shard(namespace).put(
                VectorPoint(
                    namespace, coordinate_from_key(key), vector, MemoryType(memory_type), json.loads(payload)
                )
            )

    def _shard(self, namespace: str) -> _Shard:
        shard = self._shards.get(namespace)
        if shard is None:
            shard = self._shards[namespace] = _Shard(self.dimensions)
        return shard

    def ping(self) -> None:
        try:
            with self._lock:
                self._db.execute("SELECT 1").fetchone()
        except sqlite3.Error as error:
            raise BackendUnavailable(self.name, str(error)) from error

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def upsert(self, points: Sequence[VectorPoint]) -> None:
        rows = [
            (
                p.namespace,
                coordinate_key(p.coordinate),
                p.memory_type.value,
                np.asarray(p.vector, dtype=np.float32).tobytes(),
                json.dumps(p.payload, separators=(",", ":")),
            )
            for p in points
        ]
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany("INSERT OR REPLACE INTO points VALUES (?, ?, ?, ?, ?)", rows)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            for point in points:
                self._shard(point.namespace).put(point)

    def delete(self, namespace: str, coordinates: Sequence[Coordinate]) -> None:
        with self._lock:
            self._db.executemany(
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
        with self._lock:
            shard = self._shards.get(namespace)
            if shard is None:
                return []
            return shard.search(np.asarray(vector, dtype=np.float32), top_k, memory_type, conditions)
