"""The chart on a real control plane of its own (so the chart, not a fixture, installs the CRD): `helm upgrade
--install` with Helm's engine (helm-sdkpy), the operator running under the chart's own ServiceAccount and
RBAC, and a changed CRD upgraded in place by `helm upgrade`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from support.control_plane import REPO, AssetsMissing, ControlPlane, started_control_plane
from support.operator_cluster import MS_API, OperatorProcess, memory_system
from support.servers import wait_until

CHART = REPO / "helm" / "soma-operator"
HELM_INSTALL = REPO / "scripts" / "helm_install.py"
RELEASE, RELEASE_NAMESPACE, WATCHED = "soma", "soma-system", "team-a"
CRD_NAME = "memorysystems.memory.soma.dev"


@pytest.fixture(scope="module")
def plane() -> Iterator[ControlPlane]:
    try:
        yield from started_control_plane()
    except AssetsMissing as missing:
        pytest.skip(str(missing))


def helm_upgrade_install(plane: ControlPlane, chart: Path, values: dict[str, Any]) -> dict[str, Any]:
    done = subprocess.run(
        [
            sys.executable,
            str(HELM_INSTALL),
            str(chart),
            RELEASE,
            "--namespace",
            RELEASE_NAMESPACE,
            "--create-namespace",
            "--kubeconfig",
            str(plane.admin_kubeconfig),
            "--no-wait",
            "--json",
            "--values-json",
            json.dumps(values),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    release: dict[str, Any] = json.loads(done.stdout)
    return release


def served_crd(plane: ControlPlane) -> dict[str, Any]:
    crd = plane.api.get("apiextensions.k8s.io/v1", "CustomResourceDefinition", CRD_NAME)
    assert crd is not None
    return crd


def test_the_chart_installs_and_its_rbac_runs_the_operator_and_upgrades_the_crd(
    plane: ControlPlane, tmp_path: Path
) -> None:
    api = plane.api
    plane.ensure_namespace(WATCHED)  # the chart's Roles go into watched namespaces that exist
    values = {"watch": {"namespaces": [WATCHED]}, "logFormat": "plain"}
    release = helm_upgrade_install(plane, CHART, values)
    assert release["info"]["status"] == "deployed"

    crd = served_crd(plane)
    assert crd["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    wait_until(
        lambda: any(
            c["type"] == "Established" and c["status"] == "True"
            for c in served_crd(plane)["status"]["conditions"]
        ),
        timeout=30,
        what="the chart's CRD Established",
    )
    api.forget_discovery()

    operator_deployment = api.get("apps/v1", "Deployment", f"{RELEASE}-soma-operator", RELEASE_NAMESPACE)
    assert operator_deployment is not None
    pod_spec = operator_deployment["spec"]["template"]["spec"]
    [container] = pod_spec["containers"]
    assert container["args"][:3] == ["run", f"--namespace={WATCHED}", "--log-format=plain"]

    # The operator as the chart's pod would run it: the chart's ServiceAccount, the chart's Role.
    kubeconfig = plane.service_account_kubeconfig(RELEASE_NAMESPACE, pod_spec["serviceAccountName"])
    operator = OperatorProcess(kubeconfig, [WATCHED], tmp_path / "operator.log")
    operator.start()
    try:
        created = api.apply(memory_system("charted", WATCHED, {"mode": "direct"}))
        uid = created["metadata"]["uid"]

        def api_deployment_owned() -> bool:
            live = api.get("apps/v1", "Deployment", "charted-api", WATCHED)
            return live is not None and live["metadata"]["ownerReferences"][0]["uid"] == uid

        try:
            wait_until(api_deployment_owned, timeout=60, what="the API Deployment of charted", interval=0.2)
        except TimeoutError as error:
            raise AssertionError(f"{error}\n{operator.log()[-6000:]}") from None
    finally:
        operator.stop()

    # A new chart version whose CRD changed: `helm upgrade` brings the change to the server in place.
    upgraded_chart = tmp_path / "chart"
    shutil.copytree(CHART, upgraded_chart)
    [crd_file] = (upgraded_chart / "files" / "crds").glob("*.yaml")
    changed = yaml.safe_load(crd_file.read_text())
    changed["spec"]["versions"][0]["additionalPrinterColumns"].append(
        {"name": "Mode", "type": "string", "jsonPath": ".spec.mode"}
    )
    crd_file.write_text(yaml.safe_dump(changed, sort_keys=False))
    assert helm_upgrade_install(plane, upgraded_chart, values)["version"] == 2

    columns = [c["name"] for c in served_crd(plane)["spec"]["versions"][0]["additionalPrinterColumns"]]
    assert columns == ["Phase", "Ready", "Endpoint", "Age", "Mode"]
    assert api.get(MS_API, "MemorySystem", "charted", WATCHED) is not None
