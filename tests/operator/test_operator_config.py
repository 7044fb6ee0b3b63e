"""What ships beside the code: RBAC that covers exactly what the operator touches, the operator's
Deployment, and the kopf settings."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import kopf
import kubernetes_validate
import pytest
import yaml

from conftest import KUBERNETES_VERSION, REPO, SAMPLES, build_context, load_sample
from soma_operator.builders import render
from soma_operator.cli import DEFAULT_LIVENESS_ENDPOINT
from soma_operator.constants import GROUP, PLURAL
from soma_operator.kube import KINDS
from soma_operator.settings import configure

CONFIG_FILES = sorted((REPO / "config" / "rbac").glob("*.yaml")) + sorted(
    (REPO / "config" / "manager").glob("*.yaml")
)


def documents(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def granted(role: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    verbs: dict[tuple[str, str], set[str]] = {}
    for rule in role["rules"]:
        for group in rule["apiGroups"]:
            for resource in rule["resources"]:
                verbs.setdefault((group, resource), set()).update(rule["verbs"])
    return verbs


def roles() -> list[dict[str, Any]]:
    return [doc for path in CONFIG_FILES for doc in documents(path) if doc["kind"] in ("Role", "ClusterRole")]


@pytest.mark.parametrize("path", CONFIG_FILES, ids=[p.name for p in CONFIG_FILES])
def test_shipped_manifests_are_valid_kubernetes(path: Path) -> None:
    for document in documents(path):
        kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_cluster_and_namespace_roles_grant_the_same() -> None:
    cluster_role, role = sorted(roles(), key=lambda doc: doc["kind"])
    assert granted(cluster_role) == granted(role)


def test_rbac_covers_every_kind_the_operator_applies() -> None:
    applied = {m["kind"] for path in SAMPLES for m in render(build_context(load_sample(path)))}
    for role in roles():
        verbs = granted(role)
        for kind in applied:
            api_version, plural = KINDS[kind].api_version, KINDS[kind].plural
            group = api_version.rsplit("/", 1)[0] if "/" in api_version else ""
            assert {"get", "create", "patch"} <= verbs[group, plural], kind
        assert {"get", "list", "patch", "delete"} <= verbs["", "persistentvolumeclaims"]
        assert {"get", "list", "watch", "patch"} <= verbs[GROUP, PLURAL]
        assert "patch" in verbs[GROUP, f"{PLURAL}/status"]
        # Every child's ownerReference sets blockOwnerDeletion (refused without this where
        # OwnerReferencesPermissionEnforcement is on; tests/controlplane runs with it).
        assert verbs[GROUP, f"{PLURAL}/finalizers"] == {"update"}
        assert "create" in verbs["", "events"]


def test_rbac_grants_nothing_the_operator_does_not_use() -> None:
    used = {
        (k.api_version.rsplit("/", 1)[0] if "/" in k.api_version else "", k.plural) for k in KINDS.values()
    }
    used |= {(GROUP, PLURAL), (GROUP, f"{PLURAL}/status"), (GROUP, f"{PLURAL}/finalizers"), ("", "events")}
    for role in roles():
        assert set(granted(role)) <= used
        assert all("*" not in verbs for verbs in granted(role).values())


def test_the_operator_deployment_runs_cluster_wide_with_its_liveness_probe() -> None:
    [deployment] = documents(REPO / "config" / "manager" / "deployment.yaml")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"][:2] == ["run", "--all-namespaces"]
    assert container["livenessProbe"]["httpGet"]["path"] == urlparse(DEFAULT_LIVENESS_ENDPOINT).path
    assert container["ports"][0]["containerPort"] == urlparse(DEFAULT_LIVENESS_ENDPOINT).port
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert deployment["spec"]["replicas"] == 1
    assert deployment["spec"]["strategy"]["type"] == "Recreate"


def test_settings_bound_the_watches_and_keep_kopf_out_of_the_status() -> None:
    settings = kopf.OperatorSettings()
    configure(settings)
    assert settings.watching.server_timeout is not None
    assert settings.watching.client_timeout is not None
    assert settings.watching.server_timeout < settings.watching.client_timeout
    assert settings.watching.connect_timeout is not None
    assert settings.scanning.disabled is True
    assert settings.persistence.finalizer.startswith(f"{GROUP}/")
    assert isinstance(settings.persistence.progress_storage, kopf.AnnotationsProgressStorage)
