"""The ServiceAccount the runtime pods run as: no API token mounted, the runtime never calls Kubernetes."""

from __future__ import annotations

from typing import Any

from soma_operator.builders.context import BuildContext
from soma_operator.builders.labels import metadata


def build(ctx: BuildContext) -> list[dict[str, Any]]:
    return [
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": metadata(ctx, ctx.service_account_name, "runtime", ctx.system.spec.version),
            "automountServiceAccountToken": False,
        }
    ]
