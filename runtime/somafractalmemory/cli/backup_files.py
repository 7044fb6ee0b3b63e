"""A backup's data files on disk: written as gzip-compressed NDJSON, read back, and verified against
the manifest (size, sha256, then every record) before a restore writes anything."""

import gzip
import hashlib
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path

from somafractalmemory.core.backup_format import (
    MANIFEST,
    BackupRefused,
    FileEntry,
    Manifest,
    check_digest,
    check_records,
    check_size,
    parse_manifest,
)
from somafractalmemory.datadir import private_file

COMPRESS_LEVEL = 6  # most of level 9's ratio at a fraction of its time
CHUNK = 1 << 20


def file_entry(path: Path) -> FileEntry:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return FileEntry(digest.hexdigest(), size)


def write_lines(path: Path, lines: Iterable[bytes]) -> FileEntry:
    with gzip.open(private_file(path), "wb", compresslevel=COMPRESS_LEVEL) as target:
        for line in lines:
            target.write(line)
    return file_entry(path)


def read_lines(path: Path) -> Iterator[bytes]:
    try:
        with gzip.open(path, "rb") as source:
            yield from source
    except (OSError, EOFError, zlib.error) as error:
        raise BackupRefused(f"corrupted backup: {path.name} is not readable gzip ({error})") from None


def read_manifest(folder: Path, backup_id: str) -> Manifest:
    path = folder / MANIFEST
    if not path.is_file():
        raise BackupRefused(
            f"incomplete backup {backup_id}: it has no {MANIFEST} (still running, or it failed)"
        )
    manifest = parse_manifest(path.read_bytes())
    if manifest.backup_id != backup_id:
        raise BackupRefused(f"foreign backup: {MANIFEST} of {backup_id} names backup {manifest.backup_id}")
    return manifest


def verify(folder: Path, manifest: Manifest, namespaces: Iterable[str]) -> None:
    """Every file of the manifest is there, of its size and checksum; the records of ``namespaces``
    are what a restore accepts, in the manifest's counts. Raises ``BackupRefused`` otherwise."""
    for name, expected in manifest.files.items():
        path = folder / name
        if not path.is_file():
            raise BackupRefused(f"incomplete backup: {name} is missing")
        actual = file_entry(path)
        check_size(name, actual.bytes, expected)
        check_digest(name, actual.sha256, expected)
    for namespace in namespaces:
        entry = manifest.namespaces[namespace]
        check_records(entry.file, namespace, entry, read_lines(folder / entry.file))
