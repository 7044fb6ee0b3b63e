"""`soma backup`: every namespace of the store, from one snapshot, into a new backup; then retention."""

import argparse
import logging
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from somafractalmemory.adapters.backup_destinations import Destination
from somafractalmemory.cli.backup_files import write_lines
from somafractalmemory.cli.backup_sources import destination, embedder_id, store_snapshot
from somafractalmemory.cli.backup_summary import Attempt, Counts, succeeded, summarised, summary_options
from somafractalmemory.cli.errors import CommandFailed
from somafractalmemory.cli.options import (
    QUIET_LOG_LEVEL,
    Subparsers,
    add_command,
    data_dir_option,
    logging_options,
    positive_float,
    positive_int,
    settings_from,
)
from somafractalmemory.cli.output import note, progress
from somafractalmemory.core.backup_format import (
    UNKNOWN_EMBEDDER,
    FileEntry,
    Manifest,
    NamespaceEntry,
    backup_id,
    commonest_embedder,
    data_file_name,
    expired,
)
from somafractalmemory.core.errors import SomaError
from somafractalmemory.core.records import link_to_record, memory_to_record, record_line, version_to_record
from somafractalmemory.core.snapshot import StoreSnapshot
from somafractalmemory.settings import Settings

log = logging.getLogger(__name__)


class _Counted:
    """The records of one namespace as NDJSON lines, counted as they pass."""

    def __init__(self, snapshot: StoreSnapshot, namespace: str, bar: "tqdm[Any]") -> None:
        self.memories = self.links = self.versions = 0
        self.embedders: Counter[str] = Counter()
        self._snapshot, self._namespace, self._bar = snapshot, namespace, bar

    def __iter__(self) -> Iterator[bytes]:
        for memory in self._snapshot.memories(self._namespace):
            self.memories += 1
            self.embedders[memory.embedder or UNKNOWN_EMBEDDER] += 1
            self._bar.update()
            yield record_line(memory_to_record(memory))
        for link in self._snapshot.links(self._namespace):
            self.links += 1
            self._bar.update()
            yield record_line(link_to_record(link))
        for version in self._snapshot.versions(self._namespace):
            self.versions += 1
            self._bar.update()
            yield record_line(version_to_record(version))


def write_backup(
    snapshot: StoreSnapshot, folder: Path, identifier: str, embedder: str, bar: "tqdm[Any]"
) -> Manifest:
    """The snapshot's namespaces as files in ``folder``; answers their manifest, whose embedder is the
    memories' commonest (``embedder``, the configured one, when none recorded one)."""
    namespaces: dict[str, NamespaceEntry] = {}
    files: dict[str, FileEntry] = {}
    for position, namespace in enumerate(snapshot.namespaces(), start=1):
        name = data_file_name(position)
        records = _Counted(snapshot, namespace, bar)
        files[name] = write_lines(folder / name, records)
        namespaces[namespace] = NamespaceEntry(
            name, records.memories, records.links, records.versions, dict(sorted(records.embedders.items()))
        )
    return Manifest(identifier, commonest_embedder(namespaces.values(), embedder), namespaces, files)


def take(settings: Settings, target: Destination, started: datetime, quiet: bool) -> Manifest:
    identifier = backup_id(started)
    if target.exists(identifier):
        raise CommandFailed(f"backup {identifier} already exists in {target.describe()}")
    with (
        store_snapshot(settings) as snapshot,
        target.staging(identifier) as folder,
        progress(total=None, unit="records", description="backup", quiet=quiet) as bar,
    ):
        try:
            manifest = write_backup(snapshot, folder, identifier, embedder_id(settings), bar)
            target.publish(identifier, folder, list(manifest.files), manifest.to_json())
        except BaseException:
            _discard(target, identifier)
            raise
    return manifest


def _discard(target: Destination, identifier: str) -> None:
    """A failed backup's partial files go (it has no manifest: retention would never remove them)."""
    try:
        target.delete(identifier)
    except (SomaError, OSError) as error:
        log.warning("cannot remove the partial backup %s: %s", identifier, error)


def apply_retention(
    target: Destination, newest: str, keep: int | None, max_age_days: float | None, now: datetime
) -> list[str]:
    complete = [stored.backup_id for stored in target.backups() if stored.complete]
    removed = expired(
        [name for name in complete if name != newest], keep=keep, max_age_days=max_age_days, now=now
    )
    for name in removed:
        target.delete(name)
        log.info("retention removed backup %s", name)
    return removed


def backup(args: argparse.Namespace, attempt: Attempt) -> dict[str, Any]:
    settings = settings_from(args)
    target = destination(args.to)
    started = datetime.now(UTC).replace(microsecond=0)
    attempt.backup_id = backup_id(started)
    manifest = take(settings, target, started, args.quiet)
    # Retention counts the new backup as one of the --keep newest, but never removes it.
    keep = None if args.keep is None else args.keep - 1
    try:
        removed = apply_retention(target, manifest.backup_id, keep, args.max_age_days, datetime.now(UTC))
    except (SomaError, OSError) as error:
        raise CommandFailed(
            f"backup {manifest.backup_id} is complete, but retention failed: {error}"
        ) from error
    if not args.quiet:
        note(
            f"backup {manifest.backup_id}: {manifest.memories} memories, {manifest.links} links and "
            f"{manifest.versions} versions of {len(manifest.namespaces)} namespaces, "
            f"{manifest.total_bytes} bytes, in {target.describe()}"
            + (f"; retention removed {', '.join(removed)}" if removed else "")
        )
    counts = Counts(manifest.memories, manifest.links, manifest.versions)
    return succeeded(manifest, counts, len(manifest.namespaces), manifest.total_bytes)


def register(subparsers: "Subparsers[argparse.ArgumentParser]") -> None:
    parser = add_command(
        subparsers,
        "backup",
        "Back up every namespace (memories, links and versions) of the store `soma serve` uses, from "
        "one consistent snapshot, while it keeps serving: into DEST/ID/ (ID is the UTC start time), as "
        "gzip-compressed NDJSON with a manifest.json written last. Prints a one-line JSON summary.",
        [logging_options()],
    )
    data_dir_option(parser)
    parser.add_argument(
        "--to",
        required=True,
        metavar="DEST",
        help="a directory, or s3://BUCKET/PREFIX (endpoint from $SOMA_BACKUP_S3_ENDPOINT, credentials from "
        "$AWS_ACCESS_KEY_ID and $AWS_SECRET_ACCESS_KEY, region from $AWS_REGION)",
    )
    parser.add_argument(
        "--keep",
        type=positive_int,
        metavar="N",
        help="after a successful backup, remove complete backups beyond the N newest (this one included)",
    )
    parser.add_argument(
        "--max-age-days",
        type=positive_float,
        metavar="D",
        help="after a successful backup, remove complete backups older than D days; with --keep, only "
        "those beyond the N newest. Incomplete backups are never removed",
    )
    summary_options(parser)
    parser.set_defaults(func=summarised(backup), default_log_level=QUIET_LOG_LEVEL)
