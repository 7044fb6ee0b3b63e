"""Commands on memories: store, remember, get, delete, recall, range, stats."""

import argparse

from somafractalmemory.cli.options import (
    MEMORY_TYPES,
    Subparsers,
    coordinate,
    data_command,
    json_object,
    positive_int,
)
from somafractalmemory.cli.output import note, write_json
from somafractalmemory.cli.target import MemoryTarget, RecallQuery, with_target
from somafractalmemory.core.coordinates import coordinate_key

COORD_HELP = "coordinate: comma-separated numbers, e.g. 1,2,3"
PAYLOAD_HELP = (
    'the memory as a JSON object, e.g. \'{"text": "met Ana in Lisbon"}\', or - to read it from stdin'
)


def store(args: argparse.Namespace, target: MemoryTarget) -> int:
    write_json(target.store(args.coord, args.payload, args.type))
    return 0


def remember(args: argparse.Namespace, target: MemoryTarget) -> int:
    write_json(target.remember(args.payload, args.type))
    return 0


def get(args: argparse.Namespace, target: MemoryTarget) -> int:
    write_json(target.get(args.coord))
    return 0


def delete(args: argparse.Namespace, target: MemoryTarget) -> int:
    deleted = target.delete(args.coord)
    write_json({"deleted": deleted, "coord": list(args.coord)})
    if not deleted:
        note(f"no memory at {coordinate_key(args.coord)} in namespace {target.namespace!r}")
        return 1
    return 0


def recall(args: argparse.Namespace, target: MemoryTarget) -> int:
    query = RecallQuery(
        query=args.query,
        top_k=args.top_k,
        memory_type=args.type,
        filters=args.filters,
        hybrid=args.hybrid or bool(args.terms),
        terms=args.terms,
    )
    write_json(target.recall(query))
    return 0


def coordinate_range(args: argparse.Namespace, target: MemoryTarget) -> int:
    write_json(target.coordinate_range(args.low, args.high, args.type))
    return 0


def stats(args: argparse.Namespace, target: MemoryTarget) -> int:
    write_json(target.stats())
    return 0


def _add_type(parser: argparse.ArgumentParser, help_text: str, default: str | None) -> None:
    parser.add_argument("--type", choices=MEMORY_TYPES, default=default, help=help_text)


def register(subparsers: "Subparsers[argparse.ArgumentParser]") -> None:
    parser = data_command(
        subparsers, "store", "Store a memory at a coordinate (replacing any memory there); prints it as JSON."
    )
    parser.add_argument("coord", metavar="COORD", type=coordinate, help=COORD_HELP)
    parser.add_argument("payload", metavar="PAYLOAD", type=json_object, help=PAYLOAD_HELP)
    _add_type(parser, "memory type (default: episodic)", "episodic")
    parser.set_defaults(func=with_target(store))

    parser = data_command(
        subparsers, "remember", "Store a memory under a coordinate assigned for it; prints it as JSON."
    )
    parser.add_argument("payload", metavar="PAYLOAD", type=json_object, help=PAYLOAD_HELP)
    _add_type(parser, "memory type (default: episodic)", "episodic")
    parser.set_defaults(func=with_target(remember))

    parser = data_command(
        subparsers, "get", "Print the memory at a coordinate as JSON (exit status 1 when there is none)."
    )
    parser.add_argument("coord", metavar="COORD", type=coordinate, help=COORD_HELP)
    parser.set_defaults(func=with_target(get))

    parser = data_command(
        subparsers,
        "delete",
        "Delete the memory at a coordinate and its vector (exit status 1 when there was none).",
    )
    parser.add_argument("coord", metavar="COORD", type=coordinate, help=COORD_HELP)
    parser.set_defaults(func=with_target(delete))

    parser = data_command(
        subparsers, "recall", 'Recall memories by meaning; prints {"results": [{memory, score}]}.'
    )
    parser.add_argument("query", metavar="QUERY", help="what to recall, in words")
    parser.add_argument(
        "-k", "--top-k", type=positive_int, default=5, help="how many memories at most (default: 5)"
    )
    _add_type(parser, "only memories of this type", None)
    parser.add_argument(
        "--filter",
        dest="filters",
        type=json_object,
        help='metadata filter as a JSON object: {"field": value}, {"field": [any, of]} or '
        '{"field": {"$gt": 1}} with $eq $ne $in $nin $gt $gte $lt $lte $exists; dotted names reach '
        "into nested objects",
    )
    parser.add_argument(
        "--hybrid", action="store_true", help="also score keyword matches of the query's words (or of --term)"
    )
    parser.add_argument(
        "--term",
        dest="terms",
        action="append",
        help="a keyword for hybrid recall (repeat for more; implies --hybrid)",
    )
    parser.set_defaults(func=with_target(recall))

    parser = data_command(
        subparsers, "range", 'List the coordinates inside a box; prints {"coords": [[...]]}.'
    )
    parser.add_argument("low", metavar="MIN", type=coordinate, help="lowest corner, e.g. 0,0,0")
    parser.add_argument("high", metavar="MAX", type=coordinate, help="highest corner, e.g. 10,10,10")
    _add_type(parser, "only memories of this type", None)
    parser.set_defaults(func=with_target(coordinate_range))

    parser = data_command(
        subparsers, "stats", "Count the memories of the namespace, in total, by type and by embedder."
    )
    parser.set_defaults(func=with_target(stats))
