"""Commands on many memories at once, chosen by a filter: delete-many and share."""

import argparse

from somafractalmemory.cli.options import MEMORY_TYPES, Subparsers, data_command, json_object
from somafractalmemory.cli.output import write_json
from somafractalmemory.cli.target import MemoryTarget, with_target

RESULT = 'Prints {"matched", "coords", "applied", "dry_run"}.'


def delete_many(args: argparse.Namespace, target: MemoryTarget) -> int:
    write_json(target.delete_many(args.filters, args.type, args.dry_run))
    return 0


def share(args: argparse.Namespace, target: MemoryTarget) -> int:
    write_json(target.share(args.to, args.filters, args.type, args.dry_run))
    return 0


def _selection(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--filter",
        dest="filters",
        type=json_object,
        help='the memories whose payload passes this filter, e.g. {"source": "ticket"} (as recall --filter)',
    )
    parser.add_argument("--type", choices=MEMORY_TYPES, help="only memories of this type")
    parser.add_argument("--dry-run", action="store_true", help="only say which memories match")


def register(subparsers: "Subparsers[argparse.ArgumentParser]") -> None:
    parser = data_command(
        subparsers,
        "delete-many",
        "Delete the memories that pass --filter (of --type; one of them is required), with their versions "
        "and links; more than SOMA_MAX_SCAN_ROWS matching is refused. " + RESULT,
    )
    _selection(parser)
    parser.set_defaults(func=with_target(delete_many))

    parser = data_command(
        subparsers,
        "share",
        "Copy the memories that pass --filter (of --type; one of them is required) into namespace --to, at "
        "the same coordinates. " + RESULT,
    )
    parser.add_argument("--to", required=True, metavar="NS", help="the namespace to copy into")
    _selection(parser)
    parser.set_defaults(func=with_target(share))
