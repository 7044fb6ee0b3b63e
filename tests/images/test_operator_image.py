"""The operator image runs `soma-operator run` on the host network against the real control plane, under the
shipped RBAC, and creates the children of a sample MemorySystem."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from podman_cli import REPO, Container

from soma_operator.cli import render_file
from soma_operator.config import OperatorConfig
from support import operator_cluster as harness
from support.control_plane import ControlPlane, load_documents
from support.servers import HOST, free_port, wait_until

pytestmark = [pytest.mark.images, pytest.mark.timeout(1200)]

NON_ROOT = "65532"
SAMPLE = REPO / "config" / "samples" / "minimal.yaml"


@pytest.fixture
def namespace(control_plane: ControlPlane) -> str:
    harness.install_crd(control_plane.api)
    name = f"img-{uuid.uuid4().hex[:8]}"
    control_plane.ensure_namespace(name)
    control_plane.ensure_namespace(harness.OPERATOR_NAMESPACE)
    for document in harness.shipped_rbac(name):
        control_plane.api.apply(document)
    return name


@pytest.fixture
def operator(
    operator_image: str, control_plane: ControlPlane, namespace: str, tmp_path: Path
) -> Iterator[Container]:
    """The operator image watching the namespace with the ServiceAccount's kubeconfig, as a pod would."""
    account = control_plane.service_account_kubeconfig(harness.OPERATOR_NAMESPACE, harness.OPERATOR_ACCOUNT)
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(account.read_text())
    kubeconfig.chmod(0o644)  # read by uid 65532 in the container
    liveness = free_port()
    container = Container(
        operator_image,
        [
            "--network=host",
            "--read-only",
            "--read-only-tmpfs=false",
            "--tmpfs=/tmp:rw,mode=1777,size=16m",
            f"--volume={kubeconfig}:/etc/soma/kubeconfig:ro",
            "--env=KUBECONFIG=/etc/soma/kubeconfig",
        ],
        [
            "run",
            "--namespace",
            namespace,
            "--log-format=plain",
            f"--liveness=http://{HOST}:{liveness}/healthz",
        ],
    ).start()

    try:
        container.wait_answering(f"http://{HOST}:{liveness}/healthz")
        yield container
    finally:
        container.remove()


def owned_by(child: dict[str, Any] | None, owner: dict[str, Any]) -> bool:
    if child is None:
        return False
    references = child["metadata"].get("ownerReferences") or []
    return [(r["kind"], r["name"], r["uid"], r.get("controller")) for r in references] == [
        ("MemorySystem", owner["metadata"]["name"], owner["metadata"]["uid"], True)
    ]


def test_the_operator_image_creates_every_child_of_a_sample(
    operator: Container, control_plane: ControlPlane, namespace: str
) -> None:
    identity = operator.exec("id", "-u")
    assert (identity.returncode, identity.stdout) == (0, f"{NON_ROOT}\n")
    api = control_plane.api
    [sample] = load_documents(SAMPLE)
    sample["metadata"]["namespace"] = namespace
    system = api.apply(sample)
    # What `soma-operator render` says the operator applies for this sample.
    expected = [
        (child["apiVersion"], child["kind"], child["metadata"]["name"])
        for child in yaml.safe_load_all(render_file(SAMPLE, OperatorConfig()))
    ]
    assert ("apps/v1", "Deployment", "minimal-api") in expected

    def missing() -> list[tuple[str, str, str]]:
        return [c for c in expected if not owned_by(api.get(c[0], c[1], c[2], namespace), system)]

    try:
        wait_until(lambda: not missing(), timeout=90, what="every child of the sample")
    except TimeoutError:
        pytest.fail(f"missing {missing()}; the operator's log:\n{operator.logs()[-6000:]}")
