"""Commands on a memory's versions: list its history, restore one."""

import argparse

from somafractalmemory.cli.options import Subparsers, coordinate, data_command, positive_int
from somafractalmemory.cli.output import write_json
from somafractalmemory.cli.target import MemoryTarget, with_target

COORD_HELP = "coordinate of the memory, e.g. 1,2,3"


def versions(args: argparse.Namespace, target: MemoryTarget) -> int:
    write_json(target.versions(args.coord))
    return 0


def restore_version(args: argparse.Namespace, target: MemoryTarget) -> int:
    write_json(target.restore_version(args.coord, args.number))
    return 0


def register(subparsers: "Subparsers[argparse.ArgumentParser]") -> None:
    parser = data_command(
        subparsers,
        "versions",
        "List a memory's earlier versions, newest first (each replace keeps one; SOMA_MAX_VERSIONS "
        'per memory); prints {"namespace", "coord", "versions": [{number, payload, type, ...}]}.',
    )
    parser.add_argument("coord", metavar="COORD", type=coordinate, help=COORD_HELP)
    parser.set_defaults(func=with_target(versions))

    parser = data_command(
        subparsers,
        "restore-version",
        "Make a version the memory's current content (the replaced content is kept as a version); "
        "prints the memory.",
    )
    parser.add_argument("coord", metavar="COORD", type=coordinate, help=COORD_HELP)
    parser.add_argument("number", metavar="NUMBER", type=positive_int, help="the version's number")
    parser.set_defaults(func=with_target(restore_version))
