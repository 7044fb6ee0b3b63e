"""A copy of a large shard's rows beside its IVF index, so a start reads from SQLite only the rows
written since the last save instead of every vector (1.5 GB at a million 384-dimension points).

Labels are never reused and a label's vector, type and coordinate never change (a re-upsert takes a new
label), so the copy is append-only: each save appends the rows whose label is newer than the last one
saved, in label order, to four files (float32 vectors, int64 labels, int8 type codes, marshalled
coordinates, each save's after its length), makes them durable (fsync) and only then replaces the
manifest (a partial file renamed over it) with the new row count, last label and a CRC-32 of each of the
labels, types and coordinates. Rows deleted since stay in the files; opening keeps only the labels
SQLite still holds, and a save rewrites the files once more than half their rows are such garbage.

The SQLite file stays the truth. Whatever does not match the manifest (a file missing or shorter than
it says, a checksum that differs, another generation, namespace or dimension, a manifest that does not
parse) raises ``SnapshotInvalid``, and the caller rebuilds the namespace from SQLite. A crash during a
save leaves the previous manifest, which trusts only the bytes written before that save began; the next
save cuts the files back to it before appending.
"""

import gc
import json
import marshal
import os
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.ports import Vectors

Labels = np.ndarray[Any, np.dtype[np.int64]]
Codes = np.ndarray[Any, np.dtype[np.int8]]

FORMAT = 1
WRITE_ROWS = 65_536  # rows written at a time (a bounded copy of the shard's mapped vectors)
SUFFIXES = (".rows", ".labels", ".types", ".coords")
MANIFEST_SUFFIX = ".snapshot"
LENGTH_BYTES = 8  # before each save's marshalled coordinates


class SnapshotInvalid(Exception):
    """The files do not match their manifest: the namespace is rebuilt from SQLite."""


@dataclass(frozen=True)
class Manifest:
    generation: str
    namespace: str
    dimensions: int
    rows: int
    last_label: int
    labels_crc: int  # CRC-32 of each file's bytes
    types_crc: int
    coordinates_crc: int
    coordinate_bytes: int


@dataclass
class SnapshotRows:
    """The rows of a snapshot, in label order; ``vectors`` is a read-only mapping of ``path``."""

    path: Path
    last_label: int
    labels: Labels
    types: Codes
    coordinates: list[Coordinate]
    vectors: Vectors


class VectorSnapshot:
    def __init__(self, stem: Path, namespace: str, generation: str, dimensions: int) -> None:
        self._stem = stem
        self._namespace = namespace
        self._generation = generation
        self._dimensions = dimensions
        self._row_bytes = dimensions * np.dtype(np.float32).itemsize

    def files(self) -> list[Path]:
        return [self._file(suffix) for suffix in (*SUFFIXES, MANIFEST_SUFFIX)]

    def _file(self, suffix: str) -> Path:
        return self._stem.with_name(self._stem.name + suffix)

    def exists(self) -> bool:
        return self._file(MANIFEST_SUFFIX).exists()

    def remove(self) -> None:
        for path in self.files():
            path.unlink(missing_ok=True)

    def _manifest(self) -> Manifest:
        try:
            fields = json.loads(self._file(MANIFEST_SUFFIX).read_text())
            if fields.pop("format") != FORMAT:
                raise SnapshotInvalid("an unknown snapshot format")
            manifest = Manifest(**fields)
        except (OSError, ValueError, TypeError, KeyError) as error:
            raise SnapshotInvalid(f"unreadable manifest: {error}") from error
        expected = (self._generation, self._namespace, self._dimensions)
        if (manifest.generation, manifest.namespace, manifest.dimensions) != expected:
            raise SnapshotInvalid("the manifest is of another file, namespace or dimension")
        return manifest

    def _sizes(self, manifest: Manifest) -> tuple[int, int, int, int]:
        """Bytes of each file the manifest trusts."""
        rows = manifest.rows
        return rows * self._row_bytes, rows * 8, rows, manifest.coordinate_bytes

    def load(self) -> SnapshotRows:
        manifest = self._manifest()
        sizes = self._sizes(manifest)
        for suffix, size in zip(SUFFIXES, sizes, strict=True):
            path = self._file(suffix)
            if not path.exists() or path.stat().st_size < size:
                raise SnapshotInvalid(f"the {suffix} file is missing or shorter than its manifest says")
        labels_bytes = self._file(".labels").read_bytes()[: sizes[1]]
        types_bytes = self._file(".types").read_bytes()[: sizes[2]]
        coordinate_bytes = self._file(".coords").read_bytes()[: sizes[3]]
        checksums = (zlib.crc32(labels_bytes), zlib.crc32(types_bytes), zlib.crc32(coordinate_bytes))
        if checksums != (manifest.labels_crc, manifest.types_crc, manifest.coordinates_crc):
            raise SnapshotInvalid("the checksum differs from the manifest's")
        coordinates = _unmarshal(coordinate_bytes)
        if len(coordinates) != manifest.rows:
            raise SnapshotInvalid("the coordinates are not as many as the rows")
        labels: Labels = np.frombuffer(labels_bytes, dtype=np.int64)
        vectors: Vectors = (
            np.memmap(
                self._file(".rows"), dtype=np.float32, mode="r", shape=(manifest.rows, self._dimensions)
            )
            if manifest.rows
            else np.empty((0, self._dimensions), dtype=np.float32)
        )
        return SnapshotRows(
            self._file(".rows"),
            manifest.last_label,
            labels,
            np.frombuffer(types_bytes, dtype=np.int8),
            coordinates,
            vectors,
        )

    def save(self, labels: Labels, types: Codes, coordinates: list[Coordinate], vectors: Vectors) -> None:
        """Bring the files up to date with a shard's rows (``labels[i]`` is row i's label)."""
        try:
            manifest = self._manifest()
            sizes = self._sizes(manifest)
            for suffix, size in zip(SUFFIXES, sizes, strict=True):
                if self._file(suffix).stat().st_size < size:
                    raise SnapshotInvalid(f"the {suffix} file is shorter than its manifest says")
            kept = int(np.count_nonzero(labels <= manifest.last_label))
            if manifest.rows - kept > kept:
                raise SnapshotInvalid("more than half the rows are deleted ones")
        except (SnapshotInvalid, OSError):
            self._file(MANIFEST_SUFFIX).unlink(missing_ok=True)  # nothing is trusted while rewriting
            manifest = Manifest(self._generation, self._namespace, self._dimensions, 0, 0, 0, 0, 0, 0)
            sizes = (0, 0, 0, 0)
        new = np.flatnonzero(labels > manifest.last_label)
        if len(new) == 0 and manifest.rows:
            return
        order = new[np.argsort(labels[new], kind="stable")]
        new_labels = np.ascontiguousarray(labels[order], dtype=np.int64).tobytes()
        new_types = np.ascontiguousarray(types[order], dtype=np.int8).tobytes()
        chunk = marshal.dumps([coordinates[row] for row in order.tolist()])
        new_coordinates = len(chunk).to_bytes(LENGTH_BYTES, "little") + chunk
        appended = (new_labels, new_types, new_coordinates)
        with open(self._file(".rows"), "ab") as rows_file:
            rows_file.truncate(sizes[0])  # a save a crash interrupted appended past the manifest
            for start in range(0, len(order), WRITE_ROWS):
                rows_file.write(np.ascontiguousarray(vectors[order[start : start + WRITE_ROWS]]).tobytes())
            _durable(rows_file)
        for suffix, size, data in zip(SUFFIXES[1:], sizes[1:], appended, strict=True):
            with open(self._file(suffix), "ab") as file:
                file.truncate(size)
                file.write(data)
                _durable(file)
        self._write_manifest(
            Manifest(
                self._generation,
                self._namespace,
                self._dimensions,
                manifest.rows + len(order),
                int(labels[order[-1]]) if len(order) else manifest.last_label,
                zlib.crc32(new_labels, manifest.labels_crc),
                zlib.crc32(new_types, manifest.types_crc),
                zlib.crc32(new_coordinates, manifest.coordinates_crc),
                manifest.coordinate_bytes + len(new_coordinates),
            )
        )

    def _write_manifest(self, manifest: Manifest) -> None:
        path = self._file(MANIFEST_SUFFIX)
        partial = path.with_name(path.name + ".partial")
        with open(partial, "w") as file:
            json.dump({"format": FORMAT, **manifest.__dict__}, file)
            _durable(file)
        os.replace(partial, path)


def _durable(file: Any) -> None:
    file.flush()
    os.fsync(file.fileno())


def _unmarshal(data: bytes) -> list[Coordinate]:
    """The coordinate lists of every save (each after its length), joined."""
    coordinates: list[Coordinate] = []
    view = memoryview(data)
    offset = 0
    collecting = gc.isenabled()
    gc.disable()  # a million new tuples would start a dozen collections of everything the process holds
    try:
        while offset < len(data):
            length = int.from_bytes(view[offset : offset + LENGTH_BYTES], "little")
            offset += LENGTH_BYTES
            if offset + length > len(data):
                raise ValueError("a save's coordinates end past the file")
            # The process's own file, in an owner-only folder, its CRC checked before: marshal builds
            # plain values and never runs code.
            chunk = marshal.loads(view[offset : offset + length])  # noqa: S302
            offset += length
            if not isinstance(chunk, list):
                raise TypeError("not a list of coordinates")
            coordinates.extend(chunk)
    except (EOFError, ValueError, TypeError) as error:
        raise SnapshotInvalid(f"unreadable coordinates: {error}") from error
    finally:
        if collecting:
            gc.enable()
    return coordinates
