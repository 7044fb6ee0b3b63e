"""The generated Secrets: the API token and the database passwords."""

from __future__ import annotations

import base64
from typing import Any

from soma_operator.builders.context import (
    API_TOKEN_KEY,
    POSTGRES_PASSWORD_KEY,
    REDIS_CONFIG_KEY,
    REDIS_PASSWORD_KEY,
    BuildContext,
)
from soma_operator.builders.labels import metadata
from soma_operator.builders.redis import config_file
from soma_operator.spec import Component


def build(ctx: BuildContext) -> list[dict[str, Any]]:
    manifests = []
    version = ctx.system.spec.version
    if ctx.system.spec.api.auth.token_secret_ref is None:
        manifests.append(
            _secret(
                ctx, ctx.api_token_secret_name, "api", version, {API_TOKEN_KEY: ctx.credentials.api_token}
            )
        )
    provisioned = ctx.system.spec.statefulset_data_stores()
    passwords = {}
    if Component.POSTGRES in provisioned:
        passwords[POSTGRES_PASSWORD_KEY] = ctx.credentials.postgres_password
    if Component.REDIS in provisioned:
        passwords[REDIS_PASSWORD_KEY] = ctx.credentials.redis_password
        passwords[REDIS_CONFIG_KEY] = config_file(ctx.credentials.redis_password)
    if passwords:
        manifests.append(_secret(ctx, ctx.db_credentials_secret_name, "credentials", version, passwords))
    return manifests


def _secret(
    ctx: BuildContext, name: str, component: str, version: str, values: dict[str, str]
) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(ctx, name, component, version),
        "type": "Opaque",
        # `data`, not `stringData`: what is applied is what is read back, so a re-apply changes nothing.
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in values.items()},
    }
