"""Helm's real engine renders the chart into valid Kubernetes manifests for every supported setup."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest
from fake_apiserver import KUBERNETES_VERSION
from helm_chart import RELEASE_NAMESPACE, Render, Rendered

from soma_operator.cli import _parser

WATCHED = ["team-a", "team-b"]
VALUE_SETS: dict[str, dict[str, Any]] = {
    "defaults (cluster-wide)": {},
    "two watched namespaces": {"watch": {"namespaces": WATCHED}},
    "custom image and resources": {
        "image": {"repository": "registry.example/soma/operator", "tag": "1.2.3", "pullPolicy": "Always"},
        "runtimeImage": {"repository": "registry.example/soma/runtime"},
        "resources": {
            "requests": {"cpu": "250m", "memory": "200Mi"},
            "limits": {"cpu": "1", "memory": "400Mi"},
        },
    },
    "plain logs": {"logFormat": "plain"},
}


@pytest.fixture(params=list(VALUE_SETS), ids=list(VALUE_SETS))
def rendered(request: pytest.FixtureRequest, render: Render) -> Rendered:
    return render(VALUE_SETS[request.param])


def operator_container(rendered: Rendered) -> dict[str, Any]:
    containers: list[dict[str, Any]] = rendered.one("Deployment")["spec"]["template"]["spec"]["containers"]
    (container,) = containers
    return container


def test_every_manifest_is_valid_for_kubernetes(rendered: Rendered) -> None:
    for manifest in rendered.manifests:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_namespaced_objects_go_to_the_release_namespace_unless_they_grant_a_watched_one(
    rendered: Rendered,
) -> None:
    for manifest in rendered.of_kind("Deployment") + rendered.of_kind("ServiceAccount"):
        assert manifest["metadata"]["namespace"] == RELEASE_NAMESPACE


def test_the_operator_pod_is_locked_down(rendered: Rendered) -> None:
    pod = rendered.one("Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] != 0
    container = operator_container(rendered)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"]
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]
    assert container["resources"]["limits"]["memory"]


def test_the_operator_accepts_the_arguments_the_chart_gives_it(rendered: Rendered) -> None:
    arguments = _parser().parse_args(operator_container(rendered)["args"])
    assert arguments.command == "run"


def test_the_liveness_probe_targets_the_port_the_operator_serves_it_on(rendered: Rendered) -> None:
    container = operator_container(rendered)
    probe = container["livenessProbe"]["httpGet"]
    (port,) = [p for p in container["ports"] if p["name"] == probe["port"]]
    assert f"--liveness=http://0.0.0.0:{port['containerPort']}{probe['path']}" in container["args"]


def test_by_default_it_watches_every_namespace_with_a_cluster_role(render: Render) -> None:
    rendered = render({})
    assert "--all-namespaces" in operator_container(rendered)["args"]
    assert not any(arg.startswith("--namespace") for arg in operator_container(rendered)["args"])
    assert rendered.of_kind("Role") == rendered.of_kind("RoleBinding") == []
    binding = rendered.one("ClusterRoleBinding")
    assert binding["roleRef"]["name"] == rendered.one("ClusterRole")["metadata"]["name"]
    assert binding["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": rendered.one("ServiceAccount")["metadata"]["name"],
            "namespace": RELEASE_NAMESPACE,
        }
    ]


def test_watched_namespaces_get_a_role_each_and_no_cluster_role(render: Render) -> None:
    rendered = render(VALUE_SETS["two watched namespaces"])
    args = operator_container(rendered)["args"]
    assert [arg for arg in args if arg.startswith("--namespace")] == [f"--namespace={ns}" for ns in WATCHED]
    assert "--all-namespaces" not in args
    assert rendered.of_kind("ClusterRole") == rendered.of_kind("ClusterRoleBinding") == []
    assert [role["metadata"]["namespace"] for role in rendered.of_kind("Role")] == WATCHED
    for binding in rendered.of_kind("RoleBinding"):
        assert binding["subjects"][0]["namespace"] == RELEASE_NAMESPACE
    assert all(ns in rendered.notes for ns in WATCHED)


def test_image_resources_and_runtime_image_come_from_values(render: Render) -> None:
    values = VALUE_SETS["custom image and resources"]
    container = operator_container(render(values))
    assert container["image"] == "registry.example/soma/operator:1.2.3"
    assert container["imagePullPolicy"] == "Always"
    assert container["resources"] == values["resources"]
    assert {"name": "SOMA_RUNTIME_IMAGE", "value": "registry.example/soma/runtime"} in container["env"]


def test_the_image_tag_defaults_to_the_charts_app_version(render: Render) -> None:
    rendered = render({})
    version = rendered.one("Deployment")["metadata"]["labels"]["app.kubernetes.io/version"]
    assert operator_container(rendered)["image"] == f"ghcr.io/soma-platform/soma-operator:{version}"


@pytest.mark.parametrize("log_format", ["json", "plain"])
def test_the_log_format_reaches_the_operator(render: Render, log_format: str) -> None:
    assert f"--log-format={log_format}" in operator_container(render({"logFormat": log_format}))["args"]


def test_the_notes_tell_what_to_apply_next(render: Render) -> None:
    notes = render({}).notes
    assert "kubectl apply -f config/samples/minimal.yaml" in notes
    assert "kubectl get memorysystems" in notes


def test_a_release_named_after_the_chart_names_its_objects_like_config_manager(render: Render) -> None:
    rendered = render({})
    assert rendered.one("Deployment")["metadata"]["name"] == "soma-operator"
    assert rendered.one("ServiceAccount")["metadata"]["name"] == "soma-operator"
