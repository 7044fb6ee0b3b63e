"""Every command, file and link the hand-written docs mention exists in this repository."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from docs_generator import DOCS, REPO

from soma_operator.cli import _parser

PAGES = [*sorted(DOCS.glob("*.md")), REPO / "kind" / "README.md"]
REPO_PATH = re.compile(r"(?<![\w/.-])((?:config|crds|kind|helm|scripts|tests)/[\w./-]*\w)")
LINK = re.compile(r"\]\(([^)#\s]+\.md)(?:#([\w-]+))?\)")


def shell_blocks(page: Path) -> list[str]:
    """The commands of the page's ```sh blocks, continuation lines joined, comments dropped."""
    blocks = re.findall(r"```sh\n(.*?)```", page.read_text(), flags=re.DOTALL)
    joined = "\n".join(blocks).replace("\\\n", " ")
    return [line.split(" #")[0].strip() for line in joined.splitlines() if line.strip()]


def make_targets() -> set[str]:
    makefiles = [REPO / "Makefile", *sorted((REPO / "mk").glob("*.mk"))]
    return {
        target
        for makefile in makefiles
        for target in re.findall(r"^([\w-]+):", makefile.read_text(), flags=re.MULTILINE)
    }


def anchors(page: Path) -> set[str]:
    headings = re.findall(r"^#+ (.+)$", page.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^\w -]", "", heading).strip().lower().replace(" ", "-") for heading in headings}


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_make_target_exists(page: Path) -> None:
    mentioned = re.findall(r"`make ([\w-]+)`|^make ([\w-]+)", page.read_text(), flags=re.MULTILINE)
    mentioned += [("", command.split()[1]) for command in shell_blocks(page) if command.startswith("make ")]
    for target in {name for pair in mentioned for name in pair if name}:
        assert target in make_targets(), f"{page.name}: make {target}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_repository_path_exists(page: Path) -> None:
    for path in set(REPO_PATH.findall(page.read_text())):
        assert (REPO / path).exists(), f"{page.name}: {path}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_every_link_reaches_a_page_and_heading(page: Path) -> None:
    for target, anchor in LINK.findall(page.read_text()):
        linked = (page.parent / target).resolve()
        assert linked.exists(), f"{page.name}: {target}"
        if anchor:
            assert anchor in anchors(linked), f"{page.name}: {target}#{anchor}"


def test_soma_operator_accepts_the_documented_commands() -> None:
    commands = [
        shlex.split(command)[1:]
        for page in PAGES
        for command in shell_blocks(page)
        + re.findall(r"`\.venv/bin/(soma-operator [^`]+)`", page.read_text())
        if command.startswith("soma-operator ")
    ]
    assert commands, "the docs show soma-operator render"
    for arguments in commands:
        _parser().parse_args(arguments)


def test_the_documented_chart_values_exist() -> None:
    values = yaml.safe_load((REPO / "helm" / "soma-operator" / "values.yaml").read_text())
    text = "".join(page.read_text() for page in PAGES)
    for dotted in set(re.findall(r"`((?:watch|runtimeImage|image|logFormat)[\w.]*)`", text)) | {"logFormat"}:
        node = values
        for key in dotted.split("."):
            assert isinstance(node, dict) and key in node, f"chart value {dotted}"
            node = node[key]
