"""A large shard's rows on disk beside its IVF index, so a start reads from SQLite only the rows written
since the last save and reads no vector at all (1.5 GB at a million 384-dimension points).

The ``.rows`` file is the shard's vectors themselves (``vector_rows``: append-only, read when queries
need a row). Three more files hold each row's int64 label, int8 type code and coordinate (marshalled,
each save's after its length), in the same order. Labels are never reused and a label's vector, type
and coordinate never change (a re-upsert takes a new label and a new row), so every file only grows:
each save makes the rows appended since the previous one durable (fsync), appends their labels, types
and coordinates (fsync), and only then replaces the manifest (a partial file renamed over it) with the
new row count, the last label and a CRC-32 of each of the labels, types and coordinates. Rows of
deleted or replaced labels stay until more than half the rows are such garbage; then the live rows are
written to new files (partial files, fsync, renamed over the old ones once the manifest is gone).

The SQLite file stays the truth. Whatever does not match the manifest (a file missing or shorter than
it says, a checksum that differs, another generation, namespace or dimension, a manifest that does not
parse) raises ``SnapshotInvalid``, and the caller rebuilds the namespace from SQLite. A crash during a
save leaves the previous manifest, which trusts only the bytes written before that save began: opening
cuts the rows after them, and the next save cuts the other files back to it before appending.
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

from somafractalmemory.adapters.vector_rows import RowsInUse, VectorRows
from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.datadir import open_private

Labels = np.ndarray[Any, np.dtype[np.int64]]
Codes = np.ndarray[Any, np.dtype[np.int8]]

FORMAT = 1
WRITE_ROWS = 65_536  # rows a rewrite reads and writes at a time
SUFFIXES = (".rows", ".labels", ".types", ".coords")
MANIFEST_SUFFIX = ".snapshot"
PARTIAL_SUFFIX = ".partial"
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
    """The rows of a snapshot, in file order; ``vectors`` holds them (this process's from now on)."""

    last_label: int
    labels: Labels
    types: Codes
    coordinates: list[Coordinate]
    vectors: VectorRows


class VectorSnapshot:
    def __init__(self, stem: Path, namespace: str, generation: str, dimensions: int) -> None:
        self._stem = stem
        self.namespace = namespace
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

    def start(self) -> VectorRows:
        """Empty files for a shard's vectors (any earlier snapshot is removed)."""
        self.remove()
        return VectorRows(self._file(".rows"), self._dimensions, 0)

    def _empty(self) -> Manifest:
        return Manifest(self._generation, self.namespace, self._dimensions, 0, 0, 0, 0, 0, 0)

    def _manifest(self) -> Manifest:
        try:
            fields = json.loads(self._file(MANIFEST_SUFFIX).read_text())
            if fields.pop("format") != FORMAT:
                raise SnapshotInvalid("an unknown snapshot format")
            manifest = Manifest(**fields)
        except (OSError, ValueError, TypeError, KeyError) as error:
            raise SnapshotInvalid(f"unreadable manifest: {error}") from error
        expected = (self._generation, self.namespace, self._dimensions)
        if (manifest.generation, manifest.namespace, manifest.dimensions) != expected:
            raise SnapshotInvalid("the manifest is of another file, namespace or dimension")
        return manifest

    def _sizes(self, manifest: Manifest) -> tuple[int, int, int, int]:
        """Bytes of each file the manifest trusts."""
        rows = manifest.rows
        return rows * self._row_bytes, rows * 8, rows, manifest.coordinate_bytes

    def _check_sizes(self, manifest: Manifest) -> None:
        for suffix, size in zip(SUFFIXES, self._sizes(manifest), strict=True):
            path = self._file(suffix)
            if size and (not path.exists() or path.stat().st_size < size):
                raise SnapshotInvalid(f"the {suffix} file is missing or shorter than its manifest says")

    def load(self) -> SnapshotRows:
        """The trusted rows' labels, types and coordinates, and their vectors opened where they are."""
        manifest = self._manifest()
        self._check_sizes(manifest)
        sizes = self._sizes(manifest)
        labels_bytes = self._file(".labels").read_bytes()[: sizes[1]]
        types_bytes = self._file(".types").read_bytes()[: sizes[2]]
        coordinate_bytes = self._file(".coords").read_bytes()[: sizes[3]]
        checksums = (zlib.crc32(labels_bytes), zlib.crc32(types_bytes), zlib.crc32(coordinate_bytes))
        if checksums != (manifest.labels_crc, manifest.types_crc, manifest.coordinates_crc):
            raise SnapshotInvalid("the checksum differs from the manifest's")
        coordinates = _unmarshal(coordinate_bytes)
        if len(coordinates) != manifest.rows:
            raise SnapshotInvalid("the coordinates are not as many as the rows")
        try:
            vectors = VectorRows(self._file(".rows"), self._dimensions, manifest.rows)
        except RowsInUse as error:
            raise SnapshotInvalid(str(error)) from error
        return SnapshotRows(
            manifest.last_label,
            np.frombuffer(labels_bytes, dtype=np.int64),
            np.frombuffer(types_bytes, dtype=np.int8),
            coordinates,
            vectors,
        )

    def save(self, vectors: VectorRows) -> None:
        """Make the rows appended to ``vectors`` since the last save durable and trusted. Raises
        ``SnapshotInvalid`` when the manifest on disk is not the one of ``vectors``' saved rows (the
        caller rewrites the snapshot)."""
        manifest = self._empty() if vectors.saved == 0 else self._manifest()
        if manifest.rows != vectors.saved:
            raise SnapshotInvalid(f"the manifest trusts {manifest.rows} rows, not {vectors.saved}")
        self._check_sizes(manifest)
        labels, types, coordinates = vectors.unsaved()
        if len(labels) == 0 and manifest.rows:
            return
        count = vectors.count
        vectors.sync()
        new_labels, new_types, new_coordinates = _encoded(labels, types, coordinates)
        for suffix, size, data in zip(
            SUFFIXES[1:], self._sizes(manifest)[1:], (new_labels, new_types, new_coordinates), strict=True
        ):
            with open_private(self._file(suffix), "ab") as file:
                file.truncate(size)  # a save a crash interrupted appended past the manifest
                file.write(data)
                _durable(file)
        self._write_manifest(
            Manifest(
                self._generation,
                self.namespace,
                self._dimensions,
                count,
                max(manifest.last_label, int(labels.max())) if len(labels) else manifest.last_label,
                zlib.crc32(new_labels, manifest.labels_crc),
                zlib.crc32(new_types, manifest.types_crc),
                zlib.crc32(new_coordinates, manifest.coordinates_crc),
                manifest.coordinate_bytes + len(new_coordinates),
            )
        )
        vectors.mark_saved(count)

    def rewrite(
        self,
        source: VectorRows,
        positions: Labels,
        labels: Labels,
        types: Codes,
        coordinates: list[Coordinate],
    ) -> VectorRows:
        """New files holding only the given rows (``positions`` in ``source``, with their labels, types
        and coordinates), in that order; their vectors, opened. Partial files first, made durable, then
        the manifest goes, the partial files are renamed over the old ones and the new manifest follows:
        a crash leaves either the old snapshot or none."""
        partial_rows = self._file(".rows" + PARTIAL_SUFFIX)
        with open_private(partial_rows, "wb") as file:
            for start in range(0, len(positions), WRITE_ROWS):
                file.write(source.read(positions[start : start + WRITE_ROWS]).tobytes())
            _durable(file)
        encoded = _encoded(labels, types, coordinates)
        for suffix, data in zip(SUFFIXES[1:], encoded, strict=True):
            with open_private(self._file(suffix + PARTIAL_SUFFIX), "wb") as file:
                file.write(data)
                _durable(file)
        self._file(MANIFEST_SUFFIX).unlink(missing_ok=True)
        for suffix in SUFFIXES:
            os.replace(self._file(suffix + PARTIAL_SUFFIX), self._file(suffix))
        self._write_manifest(
            Manifest(
                self._generation,
                self.namespace,
                self._dimensions,
                len(labels),
                int(labels.max()) if len(labels) else 0,
                zlib.crc32(encoded[0]),
                zlib.crc32(encoded[1]),
                zlib.crc32(encoded[2]),
                len(encoded[2]),
            )
        )
        return VectorRows(self._file(".rows"), self._dimensions, len(labels))

    def _write_manifest(self, manifest: Manifest) -> None:
        path = self._file(MANIFEST_SUFFIX)
        partial = path.with_name(path.name + PARTIAL_SUFFIX)
        with open_private(partial, "w") as file:
            json.dump({"format": FORMAT, **manifest.__dict__}, file)
            _durable(file)
        os.replace(partial, path)


def _encoded(labels: Labels, types: Codes, coordinates: list[Coordinate]) -> tuple[bytes, bytes, bytes]:
    """The bytes rows append to the labels, types and coordinates files."""
    chunk = marshal.dumps(coordinates)
    return (
        np.ascontiguousarray(labels, dtype=np.int64).tobytes(),
        np.ascontiguousarray(types, dtype=np.int8).tobytes(),
        len(chunk).to_bytes(LENGTH_BYTES, "little") + chunk,
    )


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
