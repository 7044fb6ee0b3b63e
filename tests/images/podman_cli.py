"""podman for the image tier: is it usable here, build an image, run a container and talk to it."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from support.servers import wait_until

REPO = Path(__file__).resolve().parents[2]
BASE_IMAGE = "docker.io/library/python:3.11.13-slim-bookworm"
SETUP = "scripts/image_tier_setup.sh"
HOW_TO_GET_PODMAN = (
    f"run `make images-setup` (or `bash {SETUP}`) as root on Debian or Ubuntu: it installs podman "
    "from apt and builds the Python base image when no registry can be reached"
)
# pip inside a build may go through a TLS-intercepting proxy whose CA only the host's bundle holds: it is
# mounted for the build only, so it ends up in no layer.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
BUILD_SECONDS = 900


def unusable_reason() -> str | None:
    """Why podman cannot build and run the images here, or None when it can."""
    podman = shutil.which("podman")
    if podman is None:
        return f"podman is not installed: {HOW_TO_GET_PODMAN}"
    exists = subprocess.run([podman, "image", "exists", BASE_IMAGE], capture_output=True, check=False)
    if exists.returncode != 0:
        return f"the base image {BASE_IMAGE} is not in podman's store: {HOW_TO_GET_PODMAN}"
    return None


def podman(*arguments: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["podman", *arguments], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        raise RuntimeError(
            f"podman {' '.join(arguments)} exited {result.returncode}:\n{result.stderr[-4000:]}"
        )
    return result


def build(dockerfile: str, tag: str, log: Path) -> float:
    """Build the image from the repository root; the seconds it took. The build's output goes to ``log``."""
    command = ["podman", "build", "--file", dockerfile, "--tag", tag, "--layers"]
    if HOST_CA_BUNDLE.is_file():
        command += ["--volume", f"{HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro"]
    started = time.monotonic()
    with log.open("w") as output:
        result = subprocess.run(
            [*command, "."],
            cwd=REPO,
            stdout=output,
            stderr=subprocess.STDOUT,
            timeout=BUILD_SECONDS,
            check=False,
        )
    if result.returncode != 0:
        raise RuntimeError(f"building {dockerfile} failed:\n{log.read_text(errors='replace')[-6000:]}")
    return time.monotonic() - started


def inspect_image(tag: str) -> dict[str, Any]:
    [image] = json.loads(podman("image", "inspect", tag).stdout)
    return dict(image)


@dataclass
class Container:
    """A detached container, removed on ``remove()``."""

    image: str
    options: list[str]
    command: list[str] = field(default_factory=list)
    name: str = field(default_factory=lambda: f"soma-test-{uuid.uuid4().hex[:10]}")

    def start(self) -> Container:
        podman("run", "--detach", "--name", self.name, *self.options, self.image, *self.command)
        return self

    def running(self) -> bool:
        state = podman("container", "inspect", "--format", "{{.State.Running}}", self.name, check=False)
        return state.stdout.strip() == "true"

    def wait_answering(self, url: str, timeout: float = 60) -> None:
        """Until ``url`` answers 200; fails with the container's log when it exits first."""

        def answering() -> bool:
            if not self.running():
                raise RuntimeError(f"{self.image} exited:\n{self.logs()[-4000:]}")
            try:
                return httpx.get(url, timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(answering, timeout=timeout, what=f"{url} of {self.image}", interval=0.2)

    def published_port(self, container_port: int) -> tuple[str, int]:
        host, _, port = podman("port", self.name, f"{container_port}/tcp").stdout.strip().rpartition(":")
        return host, int(port)

    def exec(self, *command: str) -> subprocess.CompletedProcess[str]:
        return podman("exec", self.name, *command, check=False)

    def inspect(self) -> dict[str, Any]:
        [container] = json.loads(podman("container", "inspect", self.name).stdout)
        return dict(container)

    def logs(self) -> str:
        result = podman("logs", self.name, check=False)
        return result.stdout + result.stderr

    def remove(self) -> None:
        podman("rm", "--force", "--time", "5", self.name, check=False)
