"""Options the commands share, the argument types that check them, and the settings they select."""

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from somafractalmemory.core.coordinates import Coordinate, parse_coordinate
from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.models import MemoryType
from somafractalmemory.settings import Settings

URL_VARIABLE = "SOMA_URL"
DEFAULT_TIMEOUT_SECONDS = 30.0
MEMORY_TYPES = [kind.value for kind in MemoryType]
LOG_FORMATS = ["plain", "json"]
QUIET_LOG_LEVEL = "WARNING"
NEGATIVE_COORDINATES = (
    "A coordinate that starts with '-' must come after '--', options before it: "
    'soma store --type semantic -- -1,2,3 \'{"text": "..."}\''
)

# Attributes of the parsed arguments that override the settings read from the environment.
SETTING_OVERRIDES = (
    "data_dir",
    "namespace",
    "host",
    "port",
    "log_format",
    "api_token_file",
    "consume_in_process",
)


# --- argument types: a bad value becomes argparse's usage error (exit status 2) -----------------


def coordinate(text: str) -> Coordinate:
    try:
        return parse_coordinate(text)
    except InvalidInput as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def json_object(text: str) -> dict[str, Any]:
    """A JSON object given inline, or ``-`` to read it from stdin."""
    source = sys.stdin.read() if text == "-" else text
    try:
        value = json.loads(source)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON ({error}): {source[:80]!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f'must be a JSON object like \'{{"text": "..."}}\', got {source[:80]!r}'
        )
    return value


def api_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"{text!r} is not an http(s) URL like http://127.0.0.1:9595")
    return text.rstrip("/")


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be greater than 0, got {text}")
    return value


# --- shared option groups (argparse parents) ----------------------------------------------------


def logging_options() -> argparse.ArgumentParser:
    """--log-format, accepted after the subcommand too (it never overwrites one given before it)."""
    parser = argparse.ArgumentParser(add_help=False)
    add_log_format(parser, default=argparse.SUPPRESS)
    return parser


def add_log_format(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default=default,
        help="log lines as plain text or one JSON object a line, on stderr "
        "(default: $SOMA_LOG_FORMAT, else plain)",
    )


def data_dir_option(container: "argparse._ActionsContainer") -> None:
    container.add_argument(
        "--data-dir",
        type=Path,
        metavar="DIR",
        help="directory of the embedded store (default: $SOMA_DATA_DIR, else the per-user data directory, "
        "e.g. ~/.local/share/soma)",
    )


def target_options() -> argparse.ArgumentParser:
    """Where a data command works: the embedded store in --data-dir, or a running API at --url."""
    parser = argparse.ArgumentParser(add_help=False)
    group = parser.add_argument_group("where the memories are")
    data_dir_option(group)
    group.add_argument(
        "--url",
        type=api_url,
        default=os.environ.get(URL_VARIABLE),
        help="work against the API running at this URL, e.g. http://127.0.0.1:9595, instead of opening the "
        f"embedded store (default: ${URL_VARIABLE}). Use it while `soma serve` runs on the same data "
        "directory",
    )
    group.add_argument(
        "--token-file",
        dest="api_token_file",
        metavar="FILE",
        type=Path,
        help="file holding the API token for --url (default: $SOMA_API_TOKEN, else $SOMA_API_TOKEN_FILE, "
        "else the token `soma serve` generated in --data-dir)",
    )
    group.add_argument(
        "--timeout",
        type=positive_float,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"seconds to wait for the API to answer (default: {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    group.add_argument(
        "--namespace",
        metavar="NAME",
        help="namespace of the memories (default: $SOMA_NAMESPACE, else 'default')",
    )
    return parser


def quiet_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or progress messages")


Subparsers = argparse._SubParsersAction  # what add_subparsers returns


def add_command(
    subparsers: "Subparsers[argparse.ArgumentParser]",
    name: str,
    summary: str,
    parents: list[argparse.ArgumentParser],
) -> argparse.ArgumentParser:
    return subparsers.add_parser(name, parents=parents, help=summary, description=summary)


def data_command(
    subparsers: "Subparsers[argparse.ArgumentParser]", name: str, summary: str
) -> argparse.ArgumentParser:
    """A subcommand that works on memories, embedded or over --url; it logs only warnings by default."""
    parser = add_command(subparsers, name, summary, [logging_options(), target_options()])
    parser.epilog = NEGATIVE_COORDINATES
    parser.set_defaults(default_log_level=QUIET_LOG_LEVEL)
    return parser


# --- settings -----------------------------------------------------------------------------------


def settings_from(args: argparse.Namespace) -> Settings:
    """The environment's settings with the options given on the command line on top."""
    given: dict[str, Any] = {
        name: value for name in SETTING_OVERRIDES if (value := getattr(args, name, None)) is not None
    }
    if "api_token_file" in given:
        given["api_token"] = None  # an explicit --token-file wins over $SOMA_API_TOKEN
    return Settings(**given)
