"""Fixtures of the image tier: the images built with podman once per session (skipped, with how to get
podman, where it cannot exist)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from podman_cli import build, inspect_image, unusable_reason

RUNTIME_TAG = "localhost/soma-runtime:test"
OPERATOR_TAG = "localhost/soma-operator:test"


@pytest.fixture(scope="session")
def podman_ready() -> None:
    reason = unusable_reason()
    if reason is not None:
        pytest.skip(reason)


def _built(dockerfile: str, tag: str, request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    capture = request.config.pluginmanager.get_plugin("capturemanager")

    def say(line: str) -> None:
        if reporter is not None and capture is not None:
            with capture.global_and_fixture_disabled():
                reporter.write_line(f"[images] {line}")

    say(f"podman build {dockerfile} (under a minute with a warm layer cache, more when cold)")
    seconds = build(dockerfile, tag, folder / f"{dockerfile}.log")
    size = int(inspect_image(tag)["Size"])
    say(f"{tag}: built in {seconds:.0f} s, {size / 1e6:.0f} MB")
    yield tag


@pytest.fixture(scope="session")
def runtime_image(
    podman_ready: None, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    yield from _built("Dockerfile.runtime", RUNTIME_TAG, request, tmp_path_factory.mktemp("build"))


@pytest.fixture(scope="session")
def operator_image(
    podman_ready: None, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    yield from _built("Dockerfile.operator", OPERATOR_TAG, request, tmp_path_factory.mktemp("build"))
