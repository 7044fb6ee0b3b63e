"""The runtime image as a pod runs it: read-only root filesystem, /tmp its only writable place (the pod's
emptyDir), non-root uid 65532; it serves health, store and recall over HTTP with the token."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import httpx
import pytest
from podman_cli import Container, inspect_image

from support.servers import HOST

pytestmark = [pytest.mark.images, pytest.mark.timeout(1200)]

API_PORT = 9595
NON_ROOT = "65532"


@pytest.fixture(scope="module")
def token() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def runtime(runtime_image: str, token: str) -> Iterator[Container]:
    container = Container(
        runtime_image,
        [
            "--read-only",
            "--read-only-tmpfs=false",  # podman otherwise mounts tmpfs on /tmp, /var/tmp and /run
            "--tmpfs=/tmp:rw,mode=1777,size=64m",
            f"--publish={HOST}::{API_PORT}",
            f"--env=SOMA_API_TOKEN={token}",
        ],
    ).start()
    try:
        yield container
    finally:
        container.remove()


@pytest.fixture(scope="module")
def api(runtime: Container, token: str) -> Iterator[httpx.Client]:
    host, port = runtime.published_port(API_PORT)
    assert host == HOST
    client = httpx.Client(
        base_url=f"http://{host}:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=10
    )

    try:
        runtime.wait_answering(f"http://{host}:{port}/healthz")
        yield client
    finally:
        client.close()


def test_the_image_runs_as_uid_65532_by_default(runtime_image: str, runtime: Container) -> None:
    assert inspect_image(runtime_image)["Config"]["User"] == f"{NON_ROOT}:{NON_ROOT}"
    identity = runtime.exec("id", "-u")
    assert (identity.returncode, identity.stdout) == (0, f"{NON_ROOT}\n")


def test_the_root_filesystem_is_read_only_and_tmp_is_the_only_writable_place(runtime: Container) -> None:
    assert runtime.inspect()["HostConfig"]["ReadonlyRootfs"] is True
    for path in ("/opt/venv/written", "/written", "/var/tmp/written", "/run/written"):
        write = runtime.exec("touch", path)
        assert write.returncode == 1, path
        assert "Read-only file system" in write.stderr, write.stderr
    assert runtime.exec("touch", "/tmp/written").returncode == 0


def test_health_answers_without_a_token(api: httpx.Client) -> None:
    health = httpx.get(api.base_url.join("/healthz"), timeout=10)
    assert health.status_code == 200
    ready = httpx.get(api.base_url.join("/readyz"), timeout=10)
    assert ready.status_code == 200


def test_a_stored_memory_is_recalled(api: httpx.Client) -> None:
    payload = {"text": "the runtime image stores memories on a read-only root", "source": "image-test"}
    before = time.time()
    stored = api.post("/store", json={"coord": "1,2,3", "payload": payload, "type": "semantic"})
    assert (stored.status_code, stored.json()) == (200, {"ok": True})
    recalled = api.post("/recall", json={"query": "runtime image read-only memories", "top_k": 1})
    assert recalled.status_code == 200
    # The reference service's shape: the payload with its coordinate, type, store time and importance.
    [match] = recalled.json()["matches"]
    assert before - 1 <= match.pop("timestamp") <= time.time() + 1
    assert match == {
        **payload,
        "coordinate": [1.0, 2.0, 3.0],
        "memory_type": "semantic",
        "importance_norm": 0.5,
    }


def test_a_request_without_the_token_is_refused(api: httpx.Client) -> None:
    refused = httpx.post(api.base_url.join("/recall"), json={"query": "anything"}, timeout=10)
    assert refused.status_code == 401
