"""`soma audit`: who did what to a namespace's memories, newest first."""

import argparse

from somafractalmemory.cli.options import Subparsers, coordinate, data_command, positive_int
from somafractalmemory.cli.output import write_json
from somafractalmemory.cli.target import MemoryTarget, with_target
from somafractalmemory.core.audit import MAX_AUDIT_PAGE


def page_size(text: str) -> int:
    value = positive_int(text)
    if value > MAX_AUDIT_PAGE:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_AUDIT_PAGE}, got {value}")
    return value


def audit(args: argparse.Namespace, target: MemoryTarget) -> int:
    write_json(target.audit(args.coord, args.limit, args.before))
    return 0


def register(subparsers: "Subparsers[argparse.ArgumentParser]") -> None:
    parser = data_command(
        subparsers,
        "audit",
        "List who did what to the namespace's memories, newest first (stores, imports, deletes, evictions, "
        "version restores, importance changes, outcome reports, shares); "
        'prints {"entries": [...], "next_before"}.',
    )
    parser.add_argument("--coord", type=coordinate, help="only the entries of the memory at this coordinate")
    parser.add_argument(
        "--limit",
        type=page_size,
        default=100,
        help=f"at most this many, 1 to {MAX_AUDIT_PAGE} (default: 100)",
    )
    parser.add_argument(
        "--before", type=positive_int, metavar="ENTRY", help="only entries older than this one (next_before)"
    )
    parser.set_defaults(func=with_target(audit))
