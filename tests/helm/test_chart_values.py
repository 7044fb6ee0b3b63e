"""Helm itself lints the chart and refuses values that values.schema.json rules out."""

from __future__ import annotations

import asyncio
from typing import Any

import helm_sdkpy
import pytest
from helm_chart import CHART, HelmFailed, Render

# Helm's lint severities: 1 info, 2 warning, 3 error.
LINT_WARNING = 2

BAD_VALUES: dict[str, tuple[dict[str, Any], str]] = {
    "namespaces as a string": ({"watch": {"namespaces": "team-a"}}, "/watch/namespaces"),
    "namespace that is no DNS label": ({"watch": {"namespaces": ["Team_A"]}}, "/watch/namespaces/0"),
    "unknown log format": ({"logFormat": "xml"}, "/logFormat"),
    "unknown pull policy": ({"image": {"pullPolicy": "Sometimes"}}, "/image/pullPolicy"),
    "port as a string": ({"liveness": {"port": "8080"}}, "/liveness/port"),
    "resource quantity with a typo": (
        {"resources": {"limits": {"memory": "256 MB"}}},
        "/resources/limits/memory",
    ),
    "misspelt top-level key": ({"watchNamespaces": ["team-a"]}, "watchNamespaces"),
}


def test_helm_lint_finds_no_warning_or_error() -> None:
    configuration = helm_sdkpy.Configuration(namespace="soma-system")
    result = asyncio.run(helm_sdkpy.Lint(configuration).run(str(CHART)))
    assert result["TotalChartsLinted"] == 1
    flagged = [message["Path"] for message in result["Messages"] if message["Severity"] >= LINT_WARNING]
    assert flagged == [], f"helm lint flags {flagged}"


@pytest.mark.parametrize("case", list(BAD_VALUES))
def test_helm_refuses_values_the_schema_rules_out(render: Render, case: str) -> None:
    values, where = BAD_VALUES[case]
    with pytest.raises(HelmFailed, match="values don't meet the specifications of the schema") as refused:
        render(values)
    assert where in str(refused.value)
