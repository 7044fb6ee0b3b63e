"""`soma encryption`: make a key; re-encrypt the stored fields under the first key (docs/encryption.md)."""

import argparse
import dataclasses
import sys
from typing import Any

from somafractalmemory.cli.errors import UsageError
from somafractalmemory.cli.options import (
    QUIET_LOG_LEVEL,
    Subparsers,
    data_dir_option,
    logging_options,
    quiet_option,
    settings_from,
)
from somafractalmemory.cli.output import note, progress, write_json
from somafractalmemory.core.field_encryption import new_key
from somafractalmemory.core.key_rotation import Rotation, rotate_namespace
from somafractalmemory.core.reindex import namespaces_to_reindex
from somafractalmemory.wiring import build_runtime


def run_new_key(_: argparse.Namespace) -> int:
    sys.stdout.write(new_key() + "\n")
    return 0


def run_rotate(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    runtime = build_runtime(settings, start_recovery=False)
    try:
        service = runtime.service
        if not service.encryption.enabled:
            raise UsageError(
                "no encryption key is configured: set SOMA_ENCRYPTION_KEYS or SOMA_ENCRYPTION_KEYS_FILE"
            )
        namespaces = namespaces_to_reindex(service.store, args.namespaces or [])
        total = sum(service.store.stats(namespace).total_memories for namespace in namespaces)
        counts: dict[str, Any] = {}
        with progress(total=total, unit="memory", description="rotate", quiet=args.quiet) as bar:
            for namespace in namespaces:
                rotation = rotate_namespace(service, namespace, dry_run=args.dry_run, progress=bar.update)
                counts[namespace] = dataclasses.asdict(rotation)
                if not args.quiet:
                    note(
                        f"{namespace}: {rotation.memories_rotated} of {rotation.memories} memories and "
                        f"{rotation.versions_rotated} of {rotation.versions} versions "
                        f"{'to rotate' if args.dry_run else 'rotated'}"
                        + (f", {rotation.skipped} skipped (written meanwhile)" if rotation.skipped else "")
                    )
    finally:
        runtime.close()
    write_json(
        {
            "dry_run": args.dry_run,
            "namespaces": counts,
            **{
                field.name: sum(count[field.name] for count in counts.values())
                for field in dataclasses.fields(Rotation)
            },
        }
    )
    return 0


def register(subparsers: "Subparsers[argparse.ArgumentParser]") -> None:
    summary = "Encryption at rest of payload fields: make a key; re-encrypt under the first key."
    parser = subparsers.add_parser("encryption", help=summary, description=summary)
    commands = parser.add_subparsers(dest="encryption_command", metavar="COMMAND", required=True)

    key_summary = "Print a new Fernet key (for SOMA_ENCRYPTION_KEYS or the keys file)."
    new = commands.add_parser(
        "new-key", parents=[logging_options()], help=key_summary, description=key_summary
    )
    new.set_defaults(func=run_new_key, default_log_level=QUIET_LOG_LEVEL)

    rotate_summary = (
        "Re-encrypt every encrypted field of the memories and of their kept versions under the first key "
        "of SOMA_ENCRYPTION_KEYS (or the keys file), and encrypt listed fields stored in clear before they "
        "were listed. Timestamps, versions and the audit log stay as they are; running it again changes "
        "nothing. Safe while the API serves: a memory written meanwhile is read and rotated again "
        "(retried), or left for a later run (skipped). Progress on stderr, a JSON summary on stdout."
    )
    rotate = commands.add_parser(
        "rotate", parents=[logging_options()], help=rotate_summary, description=rotate_summary
    )
    data_dir_option(rotate)
    rotate.add_argument(
        "--namespace",
        dest="namespaces",
        action="append",
        metavar="NAME",
        help="a namespace to rotate (repeat for several; default: every namespace that holds memories)",
    )
    rotate.add_argument(
        "--dry-run", action="store_true", help="count what would be re-encrypted; write nothing"
    )
    quiet_option(rotate)
    rotate.set_defaults(func=run_rotate, default_log_level=QUIET_LOG_LEVEL)
