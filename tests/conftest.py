"""Fixtures every tier may use: the real control plane, started once per session when a test asks."""

from collections.abc import Iterator

import pytest

from support.control_plane import AssetsMissing, ControlPlane, started_control_plane


@pytest.fixture(scope="session")
def control_plane() -> Iterator[ControlPlane]:
    """etcd, kube-apiserver and kube-controller-manager on 127.0.0.1 (see support/control_plane.py)."""
    try:
        yield from started_control_plane()
    except AssetsMissing as missing:
        pytest.skip(str(missing))
