"""The ConfigMap with the runtime's non-secret settings."""

from __future__ import annotations

from typing import Any

from soma_operator.builders.context import BuildContext
from soma_operator.builders.labels import metadata
from soma_operator.builders.runtime import config_data


def build(ctx: BuildContext) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": metadata(ctx, ctx.config_map_name, "runtime", ctx.system.spec.version),
            "data": config_data(ctx),
        }
    ]
