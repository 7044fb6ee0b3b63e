"""`soma bench --scale` says when the `soma serve` it times compiles its imports at every start."""

import py_compile
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from somafractalmemory.cli.bytecode import compiled_at_every_start, uncached


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    (tmp_path / "soma_probe_module.py").write_text("VALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path


def test_a_module_without_cached_bytecode_is_named_where_none_is_written(
    module_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", True)
    names = ["soma_probe_module", "sys", "no_such_module_here"]  # built in, and missing: never named
    assert compiled_at_every_start(names) == ["soma_probe_module"]
    py_compile.compile(str(module_dir / "soma_probe_module.py"))
    assert compiled_at_every_start(names) == []


def test_nothing_is_named_where_python_writes_the_bytecode_it_compiles(
    module_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "dont_write_bytecode", False)
    assert compiled_at_every_start(["soma_probe_module"]) == []
    assert uncached(["soma_probe_module"]) == ["soma_probe_module"]  # not cached, but written at its import
