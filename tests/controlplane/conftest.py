"""Fixtures of the control-plane tier: a namespace per test, and the operator watching it."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from support.control_plane import ControlPlane
from support.operator_cluster import (
    OPERATOR_ACCOUNT,
    OPERATOR_NAMESPACE,
    OperatorProcess,
    install_crd,
    shipped_rbac,
)

FAILED_KEY = pytest.StashKey[bool]()


@pytest.fixture(scope="session")
def crd(control_plane: ControlPlane) -> dict[str, Any]:
    return install_crd(control_plane.api)


@pytest.fixture
def namespace(control_plane: ControlPlane, crd: dict[str, Any]) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    control_plane.ensure_namespace(name)
    return name


@pytest.fixture
def operator(
    control_plane: ControlPlane, namespace: str, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[OperatorProcess]:
    """The operator watching the test's namespace, as the shipped Role and ServiceAccount allow it.

    Indirect parametrization passes options of OperatorProcess, e.g. ``{"status_refresh_seconds": 2}``."""
    control_plane.ensure_namespace(OPERATOR_NAMESPACE)
    for document in shipped_rbac(namespace):
        control_plane.api.apply(document)
    kubeconfig = control_plane.service_account_kubeconfig(OPERATOR_NAMESPACE, OPERATOR_ACCOUNT)
    options = getattr(request, "param", {})
    process = OperatorProcess(kubeconfig, [namespace], tmp_path / "operator.log", **options)
    process.start()
    yield process
    process.stop()
    if request.node.stash.get(FAILED_KEY, False):
        sys.stderr.write(f"--- operator log ---\n{process.log()[-20000:]}\n")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call" and report.failed:
        item.stash[FAILED_KEY] = True
    return report
