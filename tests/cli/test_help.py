"""Every command and every option explains itself in --help."""

import argparse

import pytest
from cli_harness import run_soma

from somafractalmemory.cli.main import build_parser

COMMANDS = [
    "serve", "store", "remember", "get", "delete", "recall", "range", "stats",
    "link", "neighbors", "path", "export", "import", "bench",
]  # fmt: skip


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_issue_command_exists() -> None:
    assert set(COMMANDS) <= set(subcommands())


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_has_help(name: str) -> None:
    command = subcommands()[name]
    assert command.description
    for action in command._actions:
        assert action.help, f"soma {name}: {action.option_strings or action.dest} has no help"


@pytest.mark.parametrize("name", COMMANDS)
def test_help_exits_0(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    result = run_soma([name, "--help"], capsys)
    assert result.code == 0
    assert f"usage: soma {name}" in result.out


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    result = run_soma([], capsys)
    assert result.code == 2
    assert "COMMAND" in result.err
