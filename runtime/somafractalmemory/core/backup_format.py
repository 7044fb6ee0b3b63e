"""The backup format: what a backup holds, its manifest, its ids, and which backups retention removes.

A backup is a directory named by its id, its UTC start time ``YYYYMMDDTHHMMSSZ``. It holds one
gzip-compressed NDJSON file per namespace (the namespace's memories, then its links, as ``soma export``
writes them, then the kept versions of its memories) and ``manifest.json``, written last: a backup
without a manifest is incomplete (still running, or failed) and is never restored nor removed by
retention.

The manifest names the format and its schema version, the backup's id and creation time, the embedder
the vectors were made with (the memories' commonest, as they record it), the counts of every namespace
(its memories also per embedder id) and the sha256 and size of every file.
Schema version 2 added the versions; a version 1 backup (none) is still read. Everything here is pure:
no file is opened.
"""

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from somafractalmemory.core.errors import InvalidInput, SomaError
from somafractalmemory.core.json_text import decode_json
from somafractalmemory.core.records import LINK_KIND, MEMORY_KIND, VERSION_KIND, from_record

FORMAT = "soma-backup"
SCHEMA_VERSION = 2
# The versions this soma reads: version 1 had no version records.
READABLE_VERSIONS = (1, 2)
WITHOUT_VERSIONS = 1
MANIFEST = "manifest.json"
ID_FORMAT = "%Y%m%dT%H%M%SZ"
RFC3339_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
ID_PATTERN = re.compile(r"^\d{8}T\d{6}Z$")
# Data files are named by the backup, never by a namespace: a manifest naming anything else (a path,
# "../x") is refused before a file is opened.
FILE_PATTERN = re.compile(r"^namespace-\d{5}\.ndjson\.gz$")
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")
# The embedder key of memories that recorded none (made before memories recorded their embedder).
UNKNOWN_EMBEDDER = "unknown"


class BackupRefused(SomaError):
    """A backup that cannot be restored: incomplete, corrupted, truncated or not a soma backup."""


def backup_id(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(ID_FORMAT)


def parse_backup_id(text: str) -> datetime | None:
    """The start time an id names, or None for a name that is no backup id."""
    if not ID_PATTERN.match(text):
        return None
    try:
        return datetime.strptime(text, ID_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(RFC3339_FORMAT)


def data_file_name(position: int) -> str:
    """The file of the ``position``-th namespace (from 1)."""
    return f"namespace-{position:05d}.ndjson.gz"


@dataclass(frozen=True, slots=True)
class FileEntry:
    sha256: str
    bytes: int


@dataclass(frozen=True, slots=True)
class NamespaceEntry:
    file: str
    memories: int
    links: int
    versions: int = 0
    # The memories per embedder id; empty in a manifest written before it was recorded.
    embedders: dict[str, int] = field(default_factory=dict)


def commonest_embedder(namespaces: Iterable[NamespaceEntry], fallback: str) -> str:
    """The embedder id most memories recorded (the first in name order on a tie); ``fallback`` when
    none recorded one."""
    counts: Counter[str] = Counter()
    for entry in namespaces:
        counts.update({name: n for name, n in entry.embedders.items() if name != UNKNOWN_EMBEDDER})
    if not counts:
        return fallback
    return min(counts, key=lambda name: (-counts[name], name))


def made_by(recorded: str, configured: str) -> bool:
    """Whether a memory's embedder id names the configured embedder: the same id, or, for a configured
    id without dimensions (a neural model not loaded), the id with any dimensions."""
    return recorded == configured or recorded.rpartition(":")[0] == configured


@dataclass(frozen=True, slots=True)
class Manifest:
    backup_id: str
    embedder: str
    namespaces: dict[str, NamespaceEntry]
    files: dict[str, FileEntry]

    @property
    def created(self) -> str:
        moment = parse_backup_id(self.backup_id)
        assert moment is not None  # checked when built or parsed
        return rfc3339(moment)

    @property
    def memories(self) -> int:
        return sum(entry.memories for entry in self.namespaces.values())

    @property
    def links(self) -> int:
        return sum(entry.links for entry in self.namespaces.values())

    @property
    def versions(self) -> int:
        return sum(entry.versions for entry in self.namespaces.values())

    def embedders(self, namespaces: Iterable[str]) -> dict[str, int]:
        """The memories of these namespaces per embedder id; a manifest without the counts (older) gives
        all of a namespace's memories to its one ``embedder``."""
        counts: Counter[str] = Counter()
        for name in namespaces:
            entry = self.namespaces[name]
            counts.update(entry.embedders or {self.embedder: entry.memories})
        return {name: count for name, count in sorted(counts.items()) if count}

    @property
    def total_bytes(self) -> int:
        return sum(entry.bytes for entry in self.files.values())

    def to_json(self) -> bytes:
        document = {
            "format": FORMAT,
            "schema_version": SCHEMA_VERSION,
            "id": self.backup_id,
            "created": self.created,
            "embedder": self.embedder,
            "namespaces": {
                name: {
                    "file": entry.file,
                    "memories": entry.memories,
                    "links": entry.links,
                    "versions": entry.versions,
                    "embedders": entry.embedders,
                }
                for name, entry in self.namespaces.items()
            },
            "files": {name: {"sha256": e.sha256, "bytes": e.bytes} for name, e in self.files.items()},
        }
        return json.dumps(document, indent=2, sort_keys=True).encode() + b"\n"


# --- reading a manifest: every field checked, so nothing later trusts a foreign document ---------


def _damaged(detail: str) -> BackupRefused:
    return BackupRefused(f"damaged manifest: {detail}")


def _field(document: dict[str, Any], key: str, kind: type, where: str = "") -> Any:
    value = document.get(key)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise _damaged(f"{where}{key!r} is missing or not a {kind.__name__}")
    return value


def _count(document: dict[str, Any], key: str, where: str) -> int:
    value: int = _field(document, key, int, where)
    if value < 0:
        raise _damaged(f"{where}{key!r} is negative")
    return value


def _file_entry(name: str, value: Any) -> FileEntry:
    if not FILE_PATTERN.match(name):
        raise _damaged(f"file name {name[:80]!r} is not a backup file name")
    if not isinstance(value, dict):
        raise _damaged(f"files[{name!r}] is not an object")
    sha256: str = _field(value, "sha256", str, f"files[{name!r}].")
    if not SHA256_PATTERN.match(sha256):
        raise _damaged(f"files[{name!r}].'sha256' is not a sha256 hex digest")
    return FileEntry(sha256, _count(value, "bytes", f"files[{name!r}]."))


def _namespace_entry(name: str, value: Any, files: dict[str, FileEntry], schema: int) -> NamespaceEntry:
    if not isinstance(value, dict):
        raise _damaged(f"namespaces[{name!r}] is not an object")
    where = f"namespaces[{name!r}]."
    file: str = _field(value, "file", str, where)
    if file not in files:
        raise _damaged(f"namespace {name!r} names file {file[:80]!r}, which 'files' does not list")
    versions = 0 if schema == WITHOUT_VERSIONS else _count(value, "versions", where)
    memories = _count(value, "memories", where)
    embedders = _embedders(value.get("embedders", {}), f"{where}'embedders'")
    if embedders and sum(embedders.values()) != memories:
        raise _damaged(
            f"{where}'embedders' counts {sum(embedders.values())} memories, 'memories' says {memories}"
        )
    return NamespaceEntry(file, memories, _count(value, "links", where), versions, embedders)


def _embedders(value: Any, where: str) -> dict[str, int]:
    if not isinstance(value, dict):
        raise _damaged(f"{where} is not an object")
    for name, count in value.items():
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise _damaged(f"{where}[{name[:80]!r}] is not a count")
    return dict(value)


def parse_manifest(data: bytes) -> Manifest:
    """The manifest of a soma backup of a schema version this soma reads; anything else is refused."""
    try:
        document = decode_json(data)
    except (InvalidInput, ValueError):
        document = None
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise BackupRefused(f"not a soma backup: {MANIFEST} does not name the format {FORMAT!r}")
    version = document.get("schema_version")
    if version not in READABLE_VERSIONS or isinstance(version, bool):
        readable = " and ".join(str(number) for number in READABLE_VERSIONS)
        raise BackupRefused(
            f"unsupported backup schema version {version!r}: this soma reads versions {readable}"
        )
    identifier: str = _field(document, "id", str)
    if parse_backup_id(identifier) is None:
        raise _damaged(f"'id' {identifier[:80]!r} is not a backup id (YYYYMMDDTHHMMSSZ)")
    embedder: str = _field(document, "embedder", str)
    raw_files: dict[str, Any] = _field(document, "files", dict)
    files = {name: _file_entry(name, value) for name, value in raw_files.items()}
    raw_namespaces: dict[str, Any] = _field(document, "namespaces", dict)
    namespaces = {
        name: _namespace_entry(name, value, files, version) for name, value in raw_namespaces.items()
    }
    if len({entry.file for entry in namespaces.values()}) != len(namespaces):
        raise _damaged("two namespaces name the same file")
    return Manifest(identifier, embedder, namespaces, files)


# --- checking a file's content against the manifest ----------------------------------------------


def check_size(name: str, actual: int, entry: FileEntry) -> None:
    if actual < entry.bytes:
        raise BackupRefused(f"truncated backup: {name} holds {actual} bytes, the manifest says {entry.bytes}")
    if actual > entry.bytes:
        raise BackupRefused(f"corrupted backup: {name} holds {actual} bytes, the manifest says {entry.bytes}")


def check_digest(name: str, actual: str, entry: FileEntry) -> None:
    if actual != entry.sha256:
        raise BackupRefused(f"corrupted backup: {name} does not match its sha256 checksum")


# The order of the records in a data file.
KINDS = (MEMORY_KIND, LINK_KIND, VERSION_KIND)


def check_records(name: str, namespace: str, entry: NamespaceEntry, lines: Iterable[bytes]) -> None:
    """Every line is a memory, link or version record a restore will accept, memories first, then links,
    then versions, in the counts the manifest gives; the first one that is not is refused with its line
    number."""
    counts = dict.fromkeys(KINDS, 0)
    latest = 0
    for number, line in enumerate(lines, start=1):
        try:
            record = decode_json(line)
            if not isinstance(record, dict):
                raise InvalidInput("not a JSON object")
            kind = record.get("kind")
            if kind not in KINDS:
                raise InvalidInput("'kind' must be 'memory', 'link' or 'version'")
            from_record(namespace, record, 0.0)
        except (InvalidInput, ValueError) as error:
            raise BackupRefused(f"corrupted backup: {name} line {number}: {error}") from None
        rank = KINDS.index(kind)
        if rank < latest:
            raise BackupRefused(
                f"corrupted backup: {name} line {number}: a {kind} after the {KINDS[latest]}s"
            )
        latest = rank
        counts[kind] += 1
    found = (counts[MEMORY_KIND], counts[LINK_KIND], counts[VERSION_KIND])
    if found != (entry.memories, entry.links, entry.versions):
        raise BackupRefused(
            f"corrupted backup: {name} holds {found[0]} memories, {found[1]} links and {found[2]} versions, "
            f"the manifest says {entry.memories}, {entry.links} and {entry.versions}"
        )


# --- retention -----------------------------------------------------------------------------------


def expired(
    complete: Sequence[str], *, keep: int | None, max_age_days: float | None, now: datetime
) -> list[str]:
    """The complete backups retention removes, oldest first.

    A backup goes when it is past the ``keep`` newest AND older than ``max_age_days`` (measured from its
    id, its start time). A limit not given does not hold a backup back; with neither, nothing goes.
    Names that are no backup id are never touched."""
    if keep is None and max_age_days is None:
        return []
    dated = sorted(
        ((moment, name) for name in complete if (moment := parse_backup_id(name)) is not None),
        reverse=True,
    )
    beyond_count = dated if keep is None else dated[keep:]
    if max_age_days is None:
        old = beyond_count
    else:
        cutoff = now - timedelta(days=max_age_days)
        old = [(moment, name) for moment, name in beyond_count if moment < cutoff]
    return [name for _, name in reversed(old)]
