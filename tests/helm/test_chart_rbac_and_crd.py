"""The chart ships what the operator's own config ships: the same CRD, the same RBAC rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from fake_apiserver import KUBERNETES_VERSION
from helm_chart import CHART, REPO, Render

Permission = tuple[str, str, str, str]  # (apiGroup, resource, verb, resourceName or "")


def permissions(rules: list[dict[str, Any]]) -> set[Permission]:
    """Every single grant of a rule list, so rules that group them differently still compare equal."""
    return {
        (group, resource, verb, name)
        for rule in rules
        for group in rule.get("apiGroups", [])
        for resource in rule.get("resources", [])
        for verb in rule["verbs"]
        for name in rule.get("resourceNames", [""])
    }


def config_rbac(kind: str) -> list[dict[str, Any]]:
    documents = [
        doc
        for path in sorted((REPO / "config" / "rbac").glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
    ]
    (role,) = [doc for doc in documents if doc and doc["kind"] == kind]
    rules: list[dict[str, Any]] = role["rules"]
    return rules


def test_the_chart_carries_exactly_the_crds_of_crds_directory() -> None:
    originals = {path.name: path.read_bytes() for path in (REPO / "crds").glob("*.yaml")}
    copies = {path.name: path.read_bytes() for path in (CHART / "files" / "crds").glob("*.yaml")}
    assert originals, "crds/ holds no CRD"
    assert copies == originals, "helm/soma-operator/files/crds/ differs from crds/: run `make sync-crds`"


@pytest.mark.parametrize("crd", sorted((CHART / "files" / "crds").glob("*.yaml")), ids=lambda path: path.name)
def test_the_charts_crd_is_a_valid_kubernetes_object(crd: Path) -> None:
    kubernetes_validate.validate(yaml.safe_load(crd.read_text()), KUBERNETES_VERSION, strict=True)


def test_helm_installs_the_crd_before_the_operator_and_keeps_it_on_uninstall(render: Render) -> None:
    rendered = render({})
    applied = [obj["kind"] for obj in rendered.applied]
    assert applied.count("CustomResourceDefinition") == 1
    assert applied.index("CustomResourceDefinition") < applied.index("Deployment")
    crd = rendered.one("CustomResourceDefinition")
    assert crd["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    [original] = [yaml.safe_load(path.read_text()) for path in (REPO / "crds").glob("*.yaml")]
    assert {**crd, "metadata": original["metadata"]} == original


def test_the_chart_leaves_the_crd_alone_when_told_to(render: Render) -> None:
    assert render({"crds": {"create": False}}).of_kind("CustomResourceDefinition") == []


def test_the_cluster_role_grants_what_config_rbac_grants(render: Render) -> None:
    rendered = render({})
    assert permissions(rendered.one("ClusterRole")["rules"]) == permissions(config_rbac("ClusterRole"))


def test_each_watched_namespace_role_grants_what_config_rbac_grants(render: Render) -> None:
    roles = render({"watch": {"namespaces": ["team-a", "team-b"]}}).of_kind("Role")
    assert len(roles) == 2
    for role in roles:
        assert permissions(role["rules"]) == permissions(config_rbac("Role"))
