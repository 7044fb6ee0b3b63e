"""Commands on the graph of links: link, neighbors, path."""

import argparse

from somafractalmemory.cli.options import Subparsers, coordinate, data_command, positive_int
from somafractalmemory.cli.output import write_json
from somafractalmemory.cli.target import MemoryTarget, with_target

FROM_HELP = "coordinate of the memory the link leaves, e.g. 1,2,3"
TO_HELP = "coordinate of the memory the link points to, e.g. 4,5,6"


def link(args: argparse.Namespace, target: MemoryTarget) -> int:
    write_json(target.link(args.source, args.target, args.link_type, args.weight))
    return 0


def neighbors(args: argparse.Namespace, target: MemoryTarget) -> int:
    write_json(target.neighbors(args.coord, args.link_type, args.limit))
    return 0


def path(args: argparse.Namespace, target: MemoryTarget) -> int:
    write_json(target.path(args.source, args.target, args.link_type))
    return 0


def register(subparsers: "Subparsers[argparse.ArgumentParser]") -> None:
    parser = data_command(
        subparsers,
        "link",
        "Link two memories with a typed, weighted, directed edge (replacing one of that type).",
    )
    parser.add_argument("source", metavar="FROM", type=coordinate, help=FROM_HELP)
    parser.add_argument("target", metavar="TO", type=coordinate, help=TO_HELP)
    parser.add_argument("--link-type", default="related", help="kind of link (default: related)")
    parser.add_argument(
        "--weight",
        type=float,
        default=1.0,
        help="cost of following the link in shortest paths, at least 0 (default: 1.0)",
    )
    parser.set_defaults(func=with_target(link))

    parser = data_command(
        subparsers, "neighbors", 'List the links leaving a memory; prints {"links": [{from, to, type, ...}]}.'
    )
    parser.add_argument(
        "coord", metavar="COORD", type=coordinate, help="coordinate of the memory, e.g. 1,2,3"
    )
    parser.add_argument("--link-type", help="only links of this kind")
    parser.add_argument("--limit", type=positive_int, help="at most this many links")
    parser.set_defaults(func=with_target(neighbors))

    parser = data_command(
        subparsers,
        "path",
        'Find the path of least total weight along links; prints {"path": [[...]], "found": bool}.',
    )
    parser.add_argument(
        "source", metavar="FROM", type=coordinate, help="coordinate to start from, e.g. 1,2,3"
    )
    parser.add_argument("target", metavar="TO", type=coordinate, help="coordinate to reach, e.g. 4,5,6")
    parser.add_argument("--link-type", help="follow only links of this kind")
    parser.set_defaults(func=with_target(path))
