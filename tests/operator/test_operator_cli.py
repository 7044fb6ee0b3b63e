"""`soma-operator render`: the manifests the operator would apply, with no cluster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

from conftest import KUBERNETES_VERSION, REPO, build_context, load_sample
from soma_operator.builders import render
from soma_operator.cli import main

MINIMAL = REPO / "config" / "samples" / "minimal.yaml"


def without_secret_values(manifests: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{**m, "data": sorted(m["data"])} if m["kind"] == "Secret" else m for m in manifests]  # type: ignore[call-overload]


def test_render_minimal_prints_what_the_operator_applies() -> None:
    result = subprocess.run(
        [Path(sys.executable).with_name("soma-operator"), "render", str(MINIMAL)],
        capture_output=True,
        text=True,
        check=True,
    )
    printed = list(yaml.safe_load_all(result.stdout))
    expected = render(build_context(load_sample(MINIMAL)))
    # Owner uids are assigned by the API server; a file has none.
    for manifest in expected:
        manifest["metadata"]["ownerReferences"][0]["uid"] = ""
    assert without_secret_values(printed) == without_secret_values(expected)
    for manifest in printed:
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)


def test_render_refuses_an_invalid_spec_with_the_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(MINIMAL.read_text().replace("spec: {}", "spec: {api: {replicas: 0}}"))
    assert main(["render", str(broken)]) == 1
    assert "spec.api.replicas" in capsys.readouterr().err


def test_render_refuses_other_kinds(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n")
    assert main(["render", str(other)]) == 1
    assert "expected kind MemorySystem" in capsys.readouterr().err


def test_run_requires_a_watch_scope(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["run"])
    assert "--namespace" in capsys.readouterr().err
