"""Everything the commands write: JSON results on stdout, messages and progress bars on stderr.

The rule: a command that answers with data prints one JSON document on stdout (pretty on a terminal,
one line otherwise), so scripts can pipe it to ``jq``; ``export`` prints NDJSON. Messages and progress
bars go to stderr, and progress bars only when stderr is a terminal and ``--quiet`` is not given.
"""

import json
import sys
from collections.abc import Sequence
from typing import Any

from tqdm import tqdm


def write_json(value: Any) -> None:
    indent = 2 if sys.stdout.isatty() else None
    sys.stdout.write(json.dumps(value, indent=indent) + "\n")


def write_bytes(data: bytes) -> None:
    sys.stdout.buffer.write(data)


def write_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Left-aligned columns separated by two spaces."""
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    for row in [header, *rows]:
        sys.stdout.write(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
        sys.stdout.write("\n")


def note(message: str) -> None:
    """A message for the person at the terminal, never mixed into the results on stdout."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def progress(*, total: float | None, unit: str, description: str, quiet: bool) -> "tqdm[Any]":
    """A progress bar on stderr; silent when stderr is not a terminal or when quiet."""
    return tqdm(
        total=total,
        unit=unit,
        unit_scale=True,
        desc=description,
        file=sys.stderr,
        disable=quiet or not sys.stderr.isatty(),
        leave=False,
    )
