"""The CRD on a real kube-apiserver: it installs, the server applies its defaults and enforces its CEL
rules, and every sample is accepted by server-side apply. No operator runs here: the API server's own word."""

from __future__ import annotations

from typing import Any

import pytest

from support.control_plane import ApiError, ControlPlane
from support.operator_cluster import MS_API, SAMPLES_DIR, memory_system, sample


def conditions(live: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in live["status"]["conditions"]}


def test_the_crd_installs_and_is_served(crd: dict[str, Any], control_plane: ControlPlane) -> None:
    assert conditions(crd)["Established"] == "True"
    assert conditions(crd)["NamesAccepted"] == "True"
    assert crd["status"]["acceptedNames"]["shortNames"] == ["msys"]
    assert control_plane.api.resource(MS_API, "MemorySystem").plural == "memorysystems"


@pytest.mark.parametrize("file_name", sorted(p.name for p in SAMPLES_DIR.glob("*.yaml")))
def test_every_sample_is_accepted_by_server_side_apply(
    file_name: str, control_plane: ControlPlane, namespace: str
) -> None:
    document = sample(file_name)
    document["metadata"]["namespace"] = namespace
    accepted = control_plane.api.apply(document, dry_run=True)
    assert accepted["metadata"]["name"] == document["metadata"]["name"]
    # The server filled in what the sample leaves out.
    assert accepted["spec"]["storagePolicy"]["onDelete"] in {"Retain", "Delete"}


def test_the_server_applies_the_crd_defaults(control_plane: ControlPlane, namespace: str) -> None:
    created = control_plane.api.apply(memory_system("defaults", namespace, {}))
    spec = created["spec"]
    assert spec["mode"] == "evented"
    assert spec["api"]["replicas"] == 2
    assert spec["storagePolicy"] == {"onDelete": "Retain"}
    assert spec["paused"] is False


def refusal(control_plane: ControlPlane, document: dict[str, Any]) -> ApiError:
    with pytest.raises(ApiError) as caught:
        control_plane.api.apply(document)
    assert caught.value.status == 422, caught.value.message
    return caught.value


def postgres_storage(size: str) -> dict[str, Any]:
    return {"postgres": {"storage": {"size": size}}}


def test_the_server_refuses_a_storage_shrink(control_plane: ControlPlane, namespace: str) -> None:
    control_plane.api.apply(memory_system("shrink", namespace, postgres_storage("10Gi")))
    grown = control_plane.api.apply(memory_system("shrink", namespace, postgres_storage("12Gi")))
    assert grown["spec"]["postgres"]["storage"]["size"] == "12Gi"
    error = refusal(control_plane, memory_system("shrink", namespace, postgres_storage("11Gi")))
    assert "storage may grow but not shrink" in error.message
    assert "spec.postgres.storage" in error.message


def test_the_server_refuses_a_changed_storage_class(control_plane: ControlPlane, namespace: str) -> None:
    spec = {"redis": {"storage": {"size": "1Gi", "storageClassName": "fast"}}}
    control_plane.api.apply(memory_system("klass", namespace, spec))
    changed = {"redis": {"storage": {"size": "1Gi", "storageClassName": "slow"}}}
    error = refusal(control_plane, memory_system("klass", namespace, changed))
    assert "storageClassName is immutable" in error.message


def test_the_server_refuses_external_with_provisioned_settings(
    control_plane: ControlPlane, namespace: str
) -> None:
    spec = {
        "qdrant": {"external": {"secretRef": {"name": "q", "key": "url"}}, "storage": {"size": "1Gi"}},
    }
    error = refusal(control_plane, memory_system("both", namespace, spec))
    assert "external and provisioned settings are exclusive" in error.message


def test_the_server_refuses_a_name_longer_than_40(control_plane: ControlPlane, namespace: str) -> None:
    error = refusal(control_plane, memory_system("n" * 41, namespace, {}))
    assert "at most 40 characters" in error.message
    control_plane.api.apply(memory_system("n" * 40, namespace, {}))


def test_the_server_refuses_values_outside_the_schema(control_plane: ControlPlane, namespace: str) -> None:
    error = refusal(control_plane, memory_system("bad", namespace, {"mode": "sideways"}))
    assert 'Unsupported value: "sideways"' in error.message
    error = refusal(control_plane, memory_system("bad", namespace, {"api": {"replicas": 0}}))
    assert "spec.api.replicas" in error.message
