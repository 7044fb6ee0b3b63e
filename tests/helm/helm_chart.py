"""Install the soma-operator chart with Helm's real engine (helm-sdkpy) into an in-memory API server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fake_apiserver import RunningApiServer

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "helm" / "soma-operator"
RELEASE = "soma-operator"
RELEASE_NAMESPACE = "soma-system"
HELM_INSTALL = REPO / "scripts" / "helm_install.py"


class HelmFailed(Exception):
    """Helm refused the install; the message is Helm's."""


@dataclass(frozen=True)
class Rendered:
    """What one `helm install` of the chart produced."""

    manifests: list[dict[str, Any]]
    notes: str
    applied: list[dict[str, Any]]

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [m for m in self.manifests if m["kind"] == kind]

    def one(self, kind: str) -> dict[str, Any]:
        (manifest,) = self.of_kind(kind)
        return manifest


Render = Callable[[dict[str, Any]], Rendered]


def helm_install(api: RunningApiServer, values: dict[str, Any], workdir: Path) -> dict[str, Any]:
    """`helm upgrade --install` of the chart into the fake API server, in a child process.

    The Go runtime inside helm-sdkpy reads the environment the process started with, so HELM_DRIVER=memory
    (release records in memory, not in Secrets: the fake server speaks JSON only) must be set at its start.
    """
    kubeconfig = workdir / "kubeconfig"
    kubeconfig.write_text(api.kubeconfig)
    arguments = ["--namespace", RELEASE_NAMESPACE, "--kubeconfig", str(kubeconfig), "--no-wait", "--json"]
    done = subprocess.run(
        [
            sys.executable,
            str(HELM_INSTALL),
            str(CHART),
            RELEASE,
            *arguments,
            "--values-json",
            json.dumps(values),
        ],
        env={**os.environ, "HELM_DRIVER": "memory"},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise HelmFailed(done.stderr)
    release: dict[str, Any] = json.loads(done.stdout)
    return release
