"""``soma``: the entry point. Parses the command line, sets up logging, runs one command, maps errors
to exit statuses (2 for bad input, 1 for a failure) with a one-line message instead of a traceback."""

import argparse
import os
import sys
from collections.abc import Callable

from pydantic import ValidationError

from somafractalmemory import __version__
from somafractalmemory.cli import (
    audit,
    backup,
    batch,
    bench,
    consume,
    encryption,
    evaluation,
    graph,
    importance,
    maintain,
    memories,
    migrate,
    models,
    reindex,
    restore,
    serve,
    transfer,
    versions,
)
from somafractalmemory.cli.errors import FAILURE_EXIT, USAGE_EXIT, CliError
from somafractalmemory.cli.extras import MissingExtra, extra_of
from somafractalmemory.cli.logs import configure_logging
from somafractalmemory.cli.options import Subparsers, add_log_format, settings_from
from somafractalmemory.core.errors import InvalidInput, SomaError
from somafractalmemory.settings import Settings
from somafractalmemory.tokens import TokenError

INTERRUPTED_EXIT = 130

Register = Callable[["Subparsers[argparse.ArgumentParser]"], None]
COMMANDS: list[Register] = [
    serve.register,
    memories.register,
    graph.register,
    versions.register,
    importance.register,
    audit.register,
    maintain.register,
    batch.register,
    transfer.register,
    backup.register,
    restore.register,
    bench.register,
    evaluation.register,
    consume.register,
    migrate.register,
    models.register,
    reindex.register,
    encryption.register,
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="soma",
        description="Soma memory: serve the memory API; store, link and recall memories (in the embedded "
        "store of a data directory, or through a running API with --url); export and import them; benchmark.",
        epilog="Results are printed as JSON on stdout; messages, logs and progress bars go to stderr. Exit "
        "status: 0 done, 1 failed (e.g. server unreachable, not found), 2 bad input. "
        "`soma COMMAND --help` describes each command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    add_log_format(parser, default=None)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for register in COMMANDS:
        register(subparsers)
    return parser


def _validation_message(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())


def log_level(args: argparse.Namespace, settings: Settings) -> str:
    """$SOMA_LOG_LEVEL when it is set, else the command's default (data commands log only warnings)."""
    if "log_level" in settings.model_fields_set:
        return settings.log_level
    level: str = getattr(args, "default_log_level", settings.log_level)
    return level


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    configure_logging(settings.log_format, log_level(args, settings))
    code: int = args.func(args)
    return code


def _fail(command: str, message: str, code: int) -> int:
    sys.stderr.write(f"soma {command}: error: {message}\n")
    return code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args)
    except ValidationError as error:
        return _fail(args.command, f"invalid setting: {_validation_message(error)}", USAGE_EXIT)
    except (InvalidInput, TokenError) as error:
        return _fail(args.command, str(error), USAGE_EXIT)
    except CliError as error:
        return _fail(args.command, str(error), error.exit_code)
    except SomaError as error:
        return _fail(args.command, str(error), FAILURE_EXIT)
    except ModuleNotFoundError as error:
        # A backend's client library, imported where the settings select it, that no extra installed.
        extra = extra_of(error)
        if extra is None:
            raise
        return _fail(args.command, str(MissingExtra(f"{error.name} (not installed)", extra)), FAILURE_EXIT)
    except KeyboardInterrupt:
        return _fail(args.command, "interrupted", INTERRUPTED_EXIT)
    except BrokenPipeError:
        # The reader of stdout went away (e.g. `soma export | head`): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return FAILURE_EXIT
    except OSError as error:  # e.g. a data directory that cannot be created
        return _fail(args.command, str(error), FAILURE_EXIT)
