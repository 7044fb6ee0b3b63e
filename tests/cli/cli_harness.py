"""Running ``soma`` in-process, in the embedded mode or against a served API, and reading its output."""

import io
import json
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from somafractalmemory.cli.main import main

TOKEN = "cli-test-token-0123456789"


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


def run_soma(argv: list[str], capsys: pytest.CaptureFixture[str], stdin: bytes | None = None) -> Result:
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
    try:
        code = main(argv)
    except SystemExit as exited:  # argparse's usage errors and --help
        code = exited.code if isinstance(exited.code, int) else 1
    finally:
        sys.stdin = sys.__stdin__
    captured = capsys.readouterr()
    return Result(code, captured.out, captured.err)


@dataclass(frozen=True)
class Soma:
    """``soma(command, *arguments)`` with the options that select where the memories are."""

    mode: str
    where: list[str]
    capsys: pytest.CaptureFixture[str]

    def __call__(self, command: str, *arguments: str, stdin: bytes | None = None) -> Result:
        return run_soma([command, *self.where, *arguments], self.capsys, stdin)

    def ok(self, command: str, *arguments: str) -> Any:
        """Run a command that must succeed and answer its JSON."""
        result = self(command, *arguments)
        assert result.code == 0, result.err
        return result.json
