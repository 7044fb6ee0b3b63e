"""The `render` fixture: the chart installed by Helm's real engine, once per distinct set of values."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from fake_apiserver import running_apiserver
from helm_chart import Render, Rendered, helm_install

pytest.importorskip("helm_sdkpy", reason="helm-sdkpy embeds the Helm engine these tests run")


@pytest.fixture(scope="session")
def render(tmp_path_factory: pytest.TempPathFactory) -> Render:
    """Install the chart with these values into a fresh fake API server; each distinct set renders once."""
    rendered: dict[str, Rendered] = {}

    def _render(values: dict[str, Any]) -> Rendered:
        key = json.dumps(values, sort_keys=True)
        if key not in rendered:
            with running_apiserver() as api:
                release = helm_install(api, values, tmp_path_factory.mktemp("helm"))
                manifests = [doc for doc in yaml.safe_load_all(release["manifest"]) if doc]
                rendered[key] = Rendered(manifests, notes=release["info"]["notes"], applied=api.created())
        return rendered[key]

    return _render
