"""`soma maintain`: one pass of decay, forgetting and consolidation; `soma replay` and `soma reflect`:
the lists of memories to go over again and to reflect on."""

import argparse

from somafractalmemory.cli.importance import list_limit
from somafractalmemory.cli.options import Subparsers, data_command, quiet_option
from somafractalmemory.cli.output import note, write_json
from somafractalmemory.cli.target import MemoryTarget, with_target
from somafractalmemory.core.maintenance import MaintenanceSummary, Progress
from somafractalmemory.core.review import Review
from somafractalmemory.core.service import MAX_TOP_K

REVIEW_HELP = {
    Review.REPLAY: "List the episodic memories to replay: the most important first, then the last written.",
    Review.REFLECT: "List the semantic memories to reflect on: the last written first.",
}


def progress_note(namespace: str, done: MaintenanceSummary) -> None:
    note(
        f"{namespace}: forgot {done.forgotten}, decayed {done.decayed}, "
        f"consolidated {done.consolidated} into {done.created}"
        + (f", retried {done.retried}, skipped {done.skipped}" if done.retried or done.skipped else "")
    )


def maintain(args: argparse.Namespace, target: MemoryTarget) -> int:
    progress: Progress | None = None if args.quiet else progress_note
    write_json(target.maintain(args.namespace is None, args.dry_run, progress))
    return 0


def review(args: argparse.Namespace, target: MemoryTarget) -> int:
    write_json(target.review(Review(args.review), args.limit))
    return 0


def register(subparsers: "Subparsers[argparse.ArgumentParser]") -> None:
    parser = data_command(
        subparsers,
        "maintain",
        "Run one maintenance pass: forget old memories below SOMA_FORGET_BELOW_IMPORTANCE, drop the "
        "payload keys of SOMA_DECAY_RULES by age, consolidate the episodic memories of each "
        "SOMA_CONSOLIDATION_WINDOW_SECONDS window into a semantic memory. Every namespace, unless "
        "--namespace names one (with --url, the server's settings apply). Safe while the API serves: a "
        "memory written meanwhile is read and decided again (retried), or left as written (skipped). "
        'Prints {"namespaces", "decayed", "forgotten", "consolidated", "created", "dry_run", "retried", '
        '"skipped"}.',
    )
    parser.add_argument("--dry-run", action="store_true", help="only count what the pass would change")
    quiet_option(parser)
    parser.set_defaults(func=with_target(maintain))
    for kind in Review:
        parser = data_command(subparsers, kind.value, REVIEW_HELP[kind] + ' Prints {"results": [...]}.')
        parser.add_argument(
            "--limit", type=list_limit, default=10, help=f"at most this many, 1 to {MAX_TOP_K} (default: 10)"
        )
        parser.set_defaults(func=with_target(review), review=kind.value)
