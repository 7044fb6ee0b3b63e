"""Moving a namespace in and out as NDJSON: export and import."""

import argparse
import os
import sys
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from typing import IO, Any

from tqdm import tqdm

from somafractalmemory.cli.errors import UsageError
from somafractalmemory.cli.options import Subparsers, data_command, quiet_option
from somafractalmemory.cli.output import note, progress, write_bytes, write_json
from somafractalmemory.cli.target import MemoryTarget, with_target

STDIO = "-"


def _counted(lines: Iterable[bytes], bar: "tqdm[Any]", by_bytes: bool) -> Iterator[bytes]:
    for line in lines:
        bar.update(len(line) if by_bytes else 1)
        yield line


def _open(path: str, mode: str) -> IO[bytes]:
    try:
        return open(path, mode)
    except OSError as error:
        raise UsageError(f"cannot open {path}: {error.strerror}") from None


def export(args: argparse.Namespace, target: MemoryTarget) -> int:
    records = 0
    with ExitStack() as stack:
        write = write_bytes if args.output == STDIO else stack.enter_context(_open(args.output, "wb")).write
        bar = stack.enter_context(
            progress(total=None, unit="records", description="export", quiet=args.quiet)
        )
        for line in _counted(target.export_lines(), bar, by_bytes=False):
            write(line)
            records += 1
    if not args.quiet:
        where = "stdout" if args.output == STDIO else args.output
        note(f"exported {records} records of namespace {target.namespace!r} to {where}")
    return 0


def import_(args: argparse.Namespace, target: MemoryTarget) -> int:
    with ExitStack() as stack:
        if args.input == STDIO:
            source, size = sys.stdin.buffer, None
        else:
            source = stack.enter_context(_open(args.input, "rb"))
            size = os.fstat(source.fileno()).st_size
        bar = stack.enter_context(progress(total=size, unit="B", description="import", quiet=args.quiet))
        report = target.import_lines(_counted(source, bar, by_bytes=True))
    write_json(report)
    if report["errors"]:
        note(f"{len(report['errors'])} lines were not imported; the report lists each with its line number")
        return 1
    return 0


def register(subparsers: "Subparsers[argparse.ArgumentParser]") -> None:
    parser = data_command(
        subparsers,
        "export",
        "Write every memory, then every link, of the namespace as NDJSON (one JSON object a line).",
    )
    parser.add_argument(
        "-o", "--output", default=STDIO, help="file to write (default: - for stdout); it is overwritten"
    )
    quiet_option(parser)
    parser.set_defaults(func=with_target(export))

    parser = data_command(
        subparsers,
        "import",
        'Read NDJSON as export writes it into the namespace; prints {"memories", "links", "errors"} and '
        "exits with status 1 when some line could not be imported.",
    )
    parser.add_argument(
        "input", metavar="FILE", nargs="?", default=STDIO, help="NDJSON file to read (default: - for stdin)"
    )
    quiet_option(parser)
    parser.set_defaults(func=with_target(import_))
