"""The one-line JSON summary `soma backup` and `soma restore` end with: on stdout and, when asked, in a
file (the operator points it at the pod's termination log). A failure writes one too, then fails."""

import argparse
import json
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from somafractalmemory.core.backup_format import Manifest, parse_backup_id, rfc3339

SUCCEEDED = "Succeeded"
FAILED = "Failed"

log = logging.getLogger(__name__)


@dataclass
class Attempt:
    """What a command knows so far: the id of the backup it works on, once known."""

    backup_id: str | None = None


@dataclass(frozen=True, slots=True)
class Counts:
    """The records a command backed up or restored."""

    memories: int
    links: int
    versions: int


def succeeded(manifest: Manifest, counts: Counts, namespaces: int, size: int) -> dict[str, Any]:
    return {
        "id": manifest.backup_id,
        "time": manifest.created,
        "bytes": size,
        "memories": counts.memories,
        "links": counts.links,
        "versions": counts.versions,
        "namespaces": namespaces,
        "result": SUCCEEDED,
    }


def failed(attempt: Attempt, error: BaseException, now: datetime) -> dict[str, Any]:
    moment = parse_backup_id(attempt.backup_id) if attempt.backup_id else None
    return {
        "id": attempt.backup_id,
        "time": rfc3339(moment or now),
        "result": FAILED,
        "message": str(error) or type(error).__name__,
    }


def emit(summary: dict[str, Any], summary_file: Path | None) -> None:
    line = json.dumps(summary, separators=(",", ":")) + "\n"
    sys.stdout.write(line)
    sys.stdout.flush()
    if summary_file is not None:
        try:
            summary_file.write_text(line)
        except OSError as error:
            log.warning("cannot write the summary to %s: %s", summary_file, error.strerror)


Body = Callable[[argparse.Namespace, Attempt], dict[str, Any]]


def summarised(body: Body) -> Callable[[argparse.Namespace], int]:
    """The command's ``func``: runs ``body``, emits its summary; on any failure emits a Failed summary
    and lets the error reach ``soma``'s error handling (its message on stderr, a non-zero status)."""

    def run(args: argparse.Namespace) -> int:
        attempt = Attempt()
        try:
            summary = body(args, attempt)
        except BaseException as error:
            emit(failed(attempt, error, datetime.now(UTC)), args.summary_file)
            raise
        emit(summary, args.summary_file)
        return 0

    return run


def summary_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--summary-file",
        type=Path,
        metavar="PATH",
        help="also write the one-line JSON summary to this file (e.g. /dev/termination-log)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or closing message")
