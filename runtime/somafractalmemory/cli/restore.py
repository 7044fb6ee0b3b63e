"""`soma restore`: a backup back into the store, through the service's normal write path (so the
vector index, and its journal or outbox, follow), after the whole backup was verified."""

import argparse
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tqdm import tqdm

from somafractalmemory.adapters.backup_destinations import Destination
from somafractalmemory.cli.backup_files import read_lines, read_manifest, verify
from somafractalmemory.cli.backup_sources import destination, embedder_id
from somafractalmemory.cli.backup_summary import Attempt, Counts, succeeded, summarised, summary_options
from somafractalmemory.cli.errors import CommandFailed, UsageError
from somafractalmemory.cli.options import (
    QUIET_LOG_LEVEL,
    Subparsers,
    logging_options,
    settings_from,
    target_options,
)
from somafractalmemory.cli.output import note, progress
from somafractalmemory.cli.target import MemoryTarget, client_token
from somafractalmemory.core.backup_format import Manifest, NamespaceEntry, made_by
from somafractalmemory.core.records import MEMORY_KIND
from somafractalmemory.settings import Settings

LATEST = "latest"
REPLACE = "replace"
MERGE = "merge"
# One import request holds at most this many lines, or bytes (a line may hold up to 5 MiB): well under
# the server's import limit (SOMA_MAX_IMPORT_BYTES, 256 MiB by default).
RESTORE_BATCH_LINES = 5000
RESTORE_BATCH_BYTES = 32 * 1024 * 1024

log = logging.getLogger(__name__)

TargetOf = Callable[[str], MemoryTarget]


def chosen(target: Destination, requested: str) -> str:
    stored = target.backups()
    if requested == LATEST:
        complete = [backup.backup_id for backup in stored if backup.complete]
        if not complete:
            raise CommandFailed(f"no complete backup in {target.describe()}")
        return complete[-1]
    if not any(backup.backup_id == requested for backup in stored):
        raise CommandFailed(f"no backup {requested} in {target.describe()}")
    return requested


def selected(manifest: Manifest, requested: list[str] | None) -> list[str]:
    if not requested:
        return list(manifest.namespaces)
    missing = [name for name in requested if name not in manifest.namespaces]
    if missing:
        held = ", ".join(repr(name) for name in manifest.namespaces) or "none"
        raise UsageError(f"backup {manifest.backup_id} holds no namespace {missing[0]!r} (it holds: {held})")
    return list(dict.fromkeys(requested))


@contextmanager
def namespace_targets(settings: Settings, url: str | None, timeout: float) -> Iterator[TargetOf]:
    """The memories of any namespace: behind the API at ``url`` (use it while `soma serve` runs on the
    same data), else in the store the settings select, through one service."""
    if url:
        from somafractalmemory.cli.http_target import HttpTarget

        token = client_token(settings)
        opened: list[MemoryTarget] = []

        def remote(namespace: str) -> MemoryTarget:
            opened.append(HttpTarget(url, token, namespace, timeout))
            return opened[-1]

        try:
            yield remote
        finally:
            for target in opened:
                target.close()
        return
    from somafractalmemory.cli.embedded_target import EmbeddedTarget

    embedded = EmbeddedTarget.open(settings)

    def local(namespace: str) -> MemoryTarget:
        embedded.namespace = namespace
        return embedded

    try:
        yield local
    finally:
        embedded.close()


def clear(target: MemoryTarget) -> int:
    """Delete every memory of the namespace (links go with them)."""
    coordinates = [
        tuple(record["coord"])
        for record in map(json.loads, target.export_lines())
        if record.get("kind") == MEMORY_KIND
    ]
    for coordinate in coordinates:
        target.delete(coordinate)
    return len(coordinates)


def batches(lines: Iterable[bytes], bar: "tqdm[Any]") -> Iterator[list[bytes]]:
    """Consecutive lines, up to RESTORE_BATCH_LINES or RESTORE_BATCH_BYTES (a longer line goes alone)."""
    batch: list[bytes] = []
    size = 0
    for line in lines:
        if batch and (len(batch) == RESTORE_BATCH_LINES or size + len(line) > RESTORE_BATCH_BYTES):
            bar.update(len(batch))
            yield batch
            batch, size = [], 0
        batch.append(line)
        size += len(line)
    if batch:
        bar.update(len(batch))
        yield batch


def restore_namespace(
    target: MemoryTarget, path: Path, entry: NamespaceEntry, mode: str, bar: "tqdm[Any]"
) -> Counts:
    """The namespace's records through the target's import: memories, links, then versions with their
    numbers. Replace empties the namespace first (its memories' versions go with them), so the history
    is exactly the backup's; merge leaves a version the store holds under the same number as it is."""
    if mode == REPLACE:
        removed = clear(target)
        log.info("namespace %s: removed %d memories before the restore", target.namespace, removed)
    memories = links = 0
    for batch in batches(read_lines(path), bar):
        report = target.import_lines(batch)
        if report["errors"]:
            raise CommandFailed(
                f"restore of namespace {target.namespace!r} stopped after {memories + report['memories']} "
                f"memories: {report['errors'][0]}"
            )
        memories += report["memories"]
        links += report["links"]
    # Every version record was verified and accepted (a refused one stops the restore above).
    return Counts(memories, links, entry.versions)


def restore(args: argparse.Namespace, attempt: Attempt) -> dict[str, Any]:
    settings = settings_from(args)
    source = destination(args.source)
    identifier = chosen(source, args.backup)
    attempt.backup_id = identifier
    with source.fetch(identifier) as folder:
        manifest = read_manifest(folder, identifier)
        namespaces = selected(manifest, args.namespaces)
        verify(folder, manifest, namespaces)
        configured = embedder_id(settings)
        others = {
            name: count
            for name, count in manifest.embedders(namespaces).items()
            if not made_by(name, configured)
        }
        if others:
            log.warning(
                "backup %s holds memories another embedder made (%s); they are embedded again with %s",
                identifier,
                ", ".join(f"{name}: {count}" for name, count in others.items()),
                configured,
            )
        restored: list[Counts] = []
        total = sum(_records(manifest.namespaces[n]) for n in namespaces)
        with (
            namespace_targets(settings, args.url, args.timeout) as target_of,
            progress(total=total, unit="records", description="restore", quiet=args.quiet) as bar,
        ):
            for namespace in namespaces:
                entry = manifest.namespaces[namespace]
                target = target_of(namespace)
                restored.append(restore_namespace(target, folder / entry.file, entry, args.mode, bar))
    counts = Counts(
        sum(c.memories for c in restored), sum(c.links for c in restored), sum(c.versions for c in restored)
    )
    size = sum(manifest.files[manifest.namespaces[n].file].bytes for n in namespaces)
    if not args.quiet:
        note(
            f"restored backup {identifier} ({args.mode}): {counts.memories} memories, {counts.links} links "
            f"and {counts.versions} versions of {len(namespaces)} namespaces"
        )
    return succeeded(manifest, counts, len(namespaces), size)


def _records(entry: NamespaceEntry) -> int:
    return entry.memories + entry.links + entry.versions


def register(subparsers: "Subparsers[argparse.ArgumentParser]") -> None:
    summary = (
        "Restore a backup that `soma backup` wrote: the manifest and every checksum are verified before "
        "anything is written; a corrupted, truncated or foreign backup is refused. The vector index is "
        "rebuilt from the restored memories. Prints a one-line JSON summary."
    )
    parser = subparsers.add_parser(
        "restore",
        parents=[logging_options(), target_options()],
        help=summary,
        description=summary,
        conflict_handler="resolve",  # --namespace names the namespaces to restore, any number of them
    )
    parser.add_argument(
        "--from", dest="source", required=True, metavar="DEST", help="where `soma backup --to` wrote it"
    )
    parser.add_argument(
        "--backup",
        default=LATEST,
        metavar="ID",
        help=f"the backup's id (YYYYMMDDTHHMMSSZ), or {LATEST} (default): the newest complete one",
    )
    parser.add_argument(
        "--namespace",
        dest="namespaces",
        action="append",
        metavar="NS",
        help="restore this namespace only; repeat for more (default: every namespace of the backup)",
    )
    parser.add_argument(
        "--mode",
        choices=[REPLACE, MERGE],
        default=REPLACE,
        help="replace (default): empty each restored namespace first; merge: keep what exists, the "
        "backup's records replacing memories and links at the same coordinates, its versions added "
        "under the numbers a memory does not have yet",
    )
    summary_options(parser)
    parser.set_defaults(func=summarised(restore), default_log_level=QUIET_LOG_LEVEL)
