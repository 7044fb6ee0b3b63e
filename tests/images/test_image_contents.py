"""Each image holds exactly its lock (requirements/*.txt) plus the project: the same versions on every
build of a commit, and in the operator image nothing the operator does not import."""

from __future__ import annotations

import json

import pytest
from lockfiles import lock_script, pins
from podman_cli import podman

pytestmark = [pytest.mark.images, pytest.mark.timeout(1200)]

LIST_DISTRIBUTIONS = (
    "import importlib.metadata as m, json; "
    "print(json.dumps(sorted((d.metadata['Name'], d.version) for d in m.distributions())))"
)


def installed(image: str) -> dict[str, str]:
    listed = podman("run", "--rm", "--entrypoint", "python", image, "-c", LIST_DISTRIBUTIONS).stdout
    return {lock_script.normalize(name): version for name, version in json.loads(listed)}


@pytest.mark.parametrize("lock", ["runtime", "operator"])
def test_the_image_holds_exactly_its_lock_and_the_project(
    lock: str, runtime_image: str, operator_image: str
) -> None:
    image = runtime_image if lock == "runtime" else operator_image
    assert installed(image) == {**pins(lock), "somafractalmemory": "0.1.0"}


def test_the_operator_image_has_no_runtime_dependency(operator_image: str) -> None:
    assert {"fastapi", "uvicorn", "numpy", "httpx", "qdrant-client", "psycopg"} & set(
        installed(operator_image)
    ) == set()


def test_neither_image_has_a_package_installer(runtime_image: str, operator_image: str) -> None:
    for image in (runtime_image, operator_image):
        assert {"pip", "setuptools", "wheel"} & set(installed(image)) == set(), image
