"""Commands on importance: set it, report an outcome, list the most recent and most important memories."""

import argparse
import json
from typing import Any

from somafractalmemory.cli.options import MEMORY_TYPES, Subparsers, coordinate, data_command, positive_int
from somafractalmemory.cli.output import write_json
from somafractalmemory.cli.target import MemoryTarget, with_target
from somafractalmemory.core.importance import MemoryOrder
from somafractalmemory.core.service import MAX_TOP_K

COORD_HELP = "coordinate of the memory, e.g. 1,2,3"


def json_value(text: str) -> Any:
    """Any JSON value; text that is no JSON is taken as a string (``success`` means "success")."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def importance_value(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be from 0 to 1, got {text}")
    return value


def set_importance(args: argparse.Namespace, target: MemoryTarget) -> int:
    write_json(target.set_importance(args.coord, args.importance))
    return 0


def report_outcome(args: argparse.Namespace, target: MemoryTarget) -> int:
    write_json(target.report_outcome(args.coord, args.outcome))
    return 0


def list_limit(text: str) -> int:
    value = positive_int(text)
    if value > MAX_TOP_K:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_TOP_K}, got {value}")
    return value


def listed(args: argparse.Namespace, target: MemoryTarget) -> int:
    write_json(target.listed(MemoryOrder(args.order), args.limit, args.type))
    return 0


def _list_command(
    subparsers: "Subparsers[argparse.ArgumentParser]", order: MemoryOrder, summary: str
) -> None:
    parser = data_command(subparsers, order.value, summary + ' Prints {"results": [memory, ...]}.')
    parser.add_argument(
        "--limit", type=list_limit, default=10, help=f"at most this many, 1 to {MAX_TOP_K} (default: 10)"
    )
    parser.add_argument("--type", choices=MEMORY_TYPES, help="only memories of this type")
    parser.set_defaults(func=with_target(listed), order=order.value)


def register(subparsers: "Subparsers[argparse.ArgumentParser]") -> None:
    parser = data_command(
        subparsers,
        "set-importance",
        "Set a memory's importance, 0 to 1 (the memory before it is kept as a version); prints the memory.",
    )
    parser.add_argument("coord", metavar="COORD", type=coordinate, help=COORD_HELP)
    parser.add_argument("importance", metavar="IMPORTANCE", type=importance_value, help="from 0 to 1")
    parser.set_defaults(func=with_target(set_importance))

    parser = data_command(
        subparsers,
        "report-outcome",
        "Record what happened in a memory's payload (reported_outcome); when it predicted otherwise "
        "(predicted_outcome), its importance drops by 0.1 and a corrective semantic memory linked from it "
        'records the mismatch. Prints {"memory", "mispredicted", "corrective"}.',
    )
    parser.add_argument("coord", metavar="COORD", type=coordinate, help=COORD_HELP)
    parser.add_argument(
        "outcome", metavar="OUTCOME", type=json_value, help="a JSON value, or text taken as a string"
    )
    parser.set_defaults(func=with_target(report_outcome))

    _list_command(subparsers, MemoryOrder.RECENT, "List the most recently written memories, last first.")
    _list_command(
        subparsers, MemoryOrder.IMPORTANT, "List the most important memories, most important first."
    )
