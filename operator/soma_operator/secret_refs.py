"""The Secrets whose content the runtime reads at start only: the encryption keys and the API token.

Their digests go on the runtime pod templates (builders/secret_digests), so an edit of one rolls the
pods. The operator learns of an edit through a watch on Secrets: an index maps each Secret to the
MemorySystems that use it (generated or named by a ``...SecretRef``), and the watch writes the new digest
into an annotation of each of them (secrets.memory.soma.dev/...), whose change makes kopf reconcile it.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from soma_operator.builders import encryption
from soma_operator.builders.context import BuildContext, SecretDigests
from soma_operator.builders.secret_digests import API_TOKEN_ANNOTATION, ENCRYPTION_KEYS_ANNOTATION, digest
from soma_operator.status import Condition, Reason

SECRETS_FOUND = "SecretsFound"
KEYS_REF_FIELD = "spec.encryption.keysSecretRef"
TOKEN_REF_FIELD = "spec.api.auth.tokenSecretRef"  # noqa: S105 - a field name


@dataclass(frozen=True)
class SecretUse:
    """One Secret the runtime reads: its name, the data key read, the annotation of its digest, and the
    spec field naming it (None for a Secret the operator generates)."""

    secret: str
    key: str
    annotation: str
    ref_field: str | None


def uses(ctx: BuildContext) -> list[SecretUse]:
    found = []
    keys_secret = encryption.secret_name(ctx)
    if keys_secret is not None:
        keys_ref = None if encryption.generates_secret(ctx) else KEYS_REF_FIELD
        found.append(SecretUse(keys_secret, encryption.KEYS_KEY, ENCRYPTION_KEYS_ANNOTATION, keys_ref))
    token_ref = TOKEN_REF_FIELD if ctx.system.spec.api.auth.token_secret_ref is not None else None
    found.append(
        SecretUse(ctx.api_token_secret_name, ctx.api_token_secret_key, API_TOKEN_ANNOTATION, token_ref)
    )
    return found


def value_digest(secret: Mapping[str, Any] | None, key: str) -> str | None:
    """The digest of one key of a Secret as the API returns it; None if the Secret or the key is absent."""
    value = ((secret or {}).get("data") or {}).get(key)
    return digest(base64.b64decode(value)) if value else None


@dataclass(frozen=True)
class SecretsRead:
    digests: SecretDigests
    condition: Condition | None  # only for a spec that names a Secret of its own


def to_read(ctx: BuildContext) -> list[SecretUse]:
    """The Secrets a reconcile reads: all but the generated token, which is in the credentials already (read
    back, or generated with the other credentials)."""
    return [use for use in uses(ctx) if use.annotation != API_TOKEN_ANNOTATION or use.ref_field is not None]


def secrets_read(ctx: BuildContext, secrets: Sequence[Mapping[str, Any] | None]) -> SecretsRead:
    """The digests, and whether the Secrets the spec names exist, from the Secrets of ``to_read(ctx)`` as
    read (None for an absent one)."""
    found: dict[str, str | None] = {API_TOKEN_ANNOTATION: digest(ctx.credentials.api_token.encode())}
    missing = []
    for use, secret in zip(to_read(ctx), secrets, strict=True):
        found[use.annotation] = value_digest(secret, use.key)
        if use.ref_field is not None and found[use.annotation] is None:
            missing.append(missing_message(use, secret))
    digests = SecretDigests(found.get(ENCRYPTION_KEYS_ANNOTATION), found[API_TOKEN_ANNOTATION])
    named = any(use.ref_field is not None for use in uses(ctx))
    return SecretsRead(digests, secrets_condition(missing) if named else None)


def missing_message(use: SecretUse, secret: Mapping[str, Any] | None) -> str:
    if secret is None:
        return f"Secret {use.secret} named by {use.ref_field} does not exist"
    return f"Secret {use.secret} named by {use.ref_field} has no key {use.key}"


def secrets_condition(missing: list[str]) -> Condition:
    if missing:
        message = "; ".join(missing) + " (the runtime pods cannot start without it)"
        return Condition(SECRETS_FOUND, False, Reason.SECRET_MISSING, message)
    return Condition(SECRETS_FOUND, True, Reason.SECRETS_FOUND, "every Secret the spec names exists")


def watched(ctx: BuildContext) -> dict[tuple[str, str], tuple[str, str, str]]:
    """The index entries of one MemorySystem: (namespace, Secret) -> (system, data key, annotation)."""
    return {(ctx.namespace, use.secret): (ctx.name, use.key, use.annotation) for use in uses(ctx)}


# The annotations on the MemorySystem that the watch writes: not under the operator's own prefix, whose
# annotations (kopf's progress records) kopf leaves out of the changes it reacts to.
TRIGGER_PREFIX = "secrets."


def trigger_patch(secret: Mapping[str, Any] | None, key: str, annotation: str) -> dict[str, Any]:
    """The merge patch of a user's annotation: the digest of the Secret's key, or null when it is absent."""
    return {"metadata": {"annotations": {TRIGGER_PREFIX + annotation: value_digest(secret, key)}}}
