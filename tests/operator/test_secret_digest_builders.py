"""The digests of the encryption keys and the API token on the runtime pod templates: pinned values, on
every workload that runs the runtime, and never the key or the token themselves."""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from typing import Any

import pytest

from conftest import build_context
from soma_operator.builders import encryption, render
from soma_operator.builders.context import Credentials, SecretDigests
from soma_operator.builders.secret_digests import (
    API_TOKEN_ANNOTATION,
    ENCRYPTION_KEYS_ANNOTATION,
    digest,
    digest_annotations,
)
from soma_operator.secret_refs import (
    SECRETS_FOUND,
    TRIGGER_PREFIX,
    SecretUse,
    missing_message,
    secrets_condition,
    secrets_read,
    to_read,
    trigger_patch,
    uses,
    value_digest,
    watched,
)
from soma_operator.status import Reason

KEY = base64.urlsafe_b64encode(b"k" * 32).decode()
KEY_FILE = f"{KEY}\n"
# sha256 of the keys file and of the token, first 16 hex characters (computed once, pinned).
KEY_FILE_DIGEST = "ee6d05ddcbf79a16"
TOKEN = "the-token"
TOKEN_DIGEST = "c2a73fcf61dfbdca"
DIGESTS = SecretDigests(encryption_keys=KEY_FILE_DIGEST, api_token=TOKEN_DIGEST)
SPEC: dict[str, Any] = {
    "encryption": {"fields": ["email"]},
    "maintenance": {"schedule": "30 4 * * *"},
    "backup": {"schedule": "0 3 * * *", "destination": {"volume": {"size": "1Gi"}}},
}


def system(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "memory.soma.dev/v1alpha1",
        "kind": "MemorySystem",
        "metadata": {"name": "m"},
        "spec": {"mode": "evented", **spec},
    }


def rendered(body: dict[str, Any], digests: SecretDigests = DIGESTS) -> dict[tuple[str, str], dict[str, Any]]:
    ctx = replace(build_context(body, digests=digests), credentials=Credentials(api_token=TOKEN))
    return {(m["kind"], m["metadata"]["name"]): m for m in render(ctx)}


def test_the_digest_is_the_first_16_hex_characters_of_sha256() -> None:
    assert digest(KEY_FILE.encode()) == KEY_FILE_DIGEST
    assert digest(TOKEN.encode()) == TOKEN_DIGEST
    secret = {"data": {"keys": base64.b64encode(KEY_FILE.encode()).decode()}}
    assert value_digest(secret, "keys") == KEY_FILE_DIGEST
    assert value_digest(secret, "other") is None
    assert value_digest(None, "keys") is None


def test_every_runtime_workload_carries_both_digests() -> None:
    children = rendered(system(**SPEC))
    expected = {ENCRYPTION_KEYS_ANNOTATION: KEY_FILE_DIGEST, API_TOKEN_ANNOTATION: TOKEN_DIGEST}
    templates = {
        "api": children["Deployment", "m-api"]["spec"]["template"],
        "consumers": children["Deployment", "m-consumers"]["spec"]["template"],
        "maintenance": children["CronJob", "m-maintenance"]["spec"]["jobTemplate"]["spec"]["template"],
        "backup": children["CronJob", "m-backup"]["spec"]["jobTemplate"]["spec"]["template"],
    }
    for name, template in templates.items():
        annotations = template["metadata"]["annotations"]
        assert {k: v for k, v in annotations.items() if k in expected} == expected, name


def test_a_new_key_changes_the_api_template_and_nothing_else_of_it() -> None:
    before = rendered(system(**SPEC))["Deployment", "m-api"]
    rotated = SecretDigests(encryption_keys="0123456789abcdef", api_token=TOKEN_DIGEST)
    after = rendered(system(**SPEC), rotated)["Deployment", "m-api"]
    assert (
        after["spec"]["template"]["metadata"]["annotations"][ENCRYPTION_KEYS_ANNOTATION] == "0123456789abcdef"
    )
    after["spec"]["template"]["metadata"]["annotations"][ENCRYPTION_KEYS_ANNOTATION] = KEY_FILE_DIGEST
    assert after == before


def test_unknown_digests_add_no_annotation() -> None:
    assert digest_annotations(SecretDigests()) == {}
    assert digest_annotations(SecretDigests(api_token=TOKEN_DIGEST)) == {API_TOKEN_ANNOTATION: TOKEN_DIGEST}
    template = rendered(system(), SecretDigests())["Deployment", "m-api"]["spec"]["template"]
    assert ENCRYPTION_KEYS_ANNOTATION not in template["metadata"]["annotations"]


def test_no_key_or_token_is_rendered_outside_the_token_secret() -> None:
    children = rendered(system(**SPEC))
    text = json.dumps(
        [m for (kind, name), m in children.items() if (kind, name) != ("Secret", "m-api-token")]
    )
    for secret in (KEY, TOKEN):
        assert secret not in text
        assert base64.b64encode(secret.encode()).decode() not in text
    # The generated key Secret is created apart from the children (reconcile.ensure_encryption_key).
    assert ("Secret", "m-encryption") not in children
    ctx = build_context(system(**SPEC))
    assert encryption.key_secret(ctx, KEY)["data"] == {"keys": base64.b64encode(KEY_FILE.encode()).decode()}


def test_the_secrets_a_system_reads_and_the_index_of_them() -> None:
    generated = build_context(system(**SPEC))
    assert uses(generated) == [
        SecretUse("m-encryption", "keys", ENCRYPTION_KEYS_ANNOTATION, None),
        SecretUse("m-api-token", "token", API_TOKEN_ANNOTATION, None),
    ]
    named = build_context(
        system(
            encryption={"fields": ["email"], "keysSecretRef": {"name": "my-keys"}},
            api={"auth": {"tokenSecretRef": {"name": "my-token", "key": "bearer"}}},
        )
    )
    assert uses(named) == [
        SecretUse("my-keys", "keys", ENCRYPTION_KEYS_ANNOTATION, "spec.encryption.keysSecretRef"),
        SecretUse("my-token", "bearer", API_TOKEN_ANNOTATION, "spec.api.auth.tokenSecretRef"),
    ]
    assert watched(named) == {
        ("default", "my-keys"): ("m", "keys", ENCRYPTION_KEYS_ANNOTATION),
        ("default", "my-token"): ("m", "bearer", API_TOKEN_ANNOTATION),
    }
    assert watched(build_context(system())) == {
        ("default", "m-api-token"): ("m", "token", API_TOKEN_ANNOTATION)
    }


def test_a_missing_secret_is_named_with_the_field_that_names_it() -> None:
    keys = SecretUse("my-keys", "keys", ENCRYPTION_KEYS_ANNOTATION, "spec.encryption.keysSecretRef")
    assert (
        missing_message(keys, None) == "Secret my-keys named by spec.encryption.keysSecretRef does not exist"
    )
    assert missing_message(keys, {"data": {"other": "eA=="}}) == (
        "Secret my-keys named by spec.encryption.keysSecretRef has no key keys"
    )
    condition = secrets_condition([missing_message(keys, None)])
    assert (condition.type, condition.ready, condition.reason) == (
        SECRETS_FOUND,
        False,
        Reason.SECRET_MISSING,
    )
    assert condition.message == (
        "Secret my-keys named by spec.encryption.keysSecretRef does not exist "
        "(the runtime pods cannot start without it)"
    )
    found = secrets_condition([])
    assert found.type == "SecretsFound"
    assert (found.ready, found.reason, found.message) == (
        True,
        Reason.SECRETS_FOUND,
        "every Secret the spec names exists",
    )


def keys_secret(text: str) -> dict[str, Any]:
    return {"data": {"keys": base64.b64encode(text.encode()).decode()}}


NAMED = system(
    encryption={"fields": ["email"], "keysSecretRef": {"name": "my-keys"}},
    api={"auth": {"tokenSecretRef": {"name": "my-token", "key": "bearer"}}},
)


def test_a_reconcile_reads_the_key_secret_and_knows_the_generated_token() -> None:
    ctx = replace(build_context(system(**SPEC)), credentials=Credentials(api_token=TOKEN))
    assert [use.secret for use in to_read(ctx)] == ["m-encryption"]
    found = secrets_read(ctx, [keys_secret(KEY_FILE)])
    assert found.digests == DIGESTS
    assert found.condition is None  # the spec names no Secret of its own
    assert secrets_read(build_context(system()), []).condition is None


def test_named_secrets_are_read_and_each_missing_one_is_named() -> None:
    ctx = build_context(NAMED)
    assert [use.secret for use in to_read(ctx)] == ["my-keys", "my-token"]
    token = {"data": {"bearer": base64.b64encode(TOKEN.encode()).decode()}}
    found = secrets_read(ctx, [keys_secret(KEY_FILE), token])
    assert found.digests == DIGESTS
    assert found.condition == secrets_condition([])
    with pytest.raises(ValueError, match="zip"):
        secrets_read(ctx, [None])
    none = secrets_read(ctx, [None, {"data": {"token": "eA=="}}])
    assert none.digests == SecretDigests()
    assert none.condition is not None
    assert (none.condition.type, none.condition.ready) == ("SecretsFound", False)
    assert none.condition.message == (
        "Secret my-keys named by spec.encryption.keysSecretRef does not exist; "
        "Secret my-token named by spec.api.auth.tokenSecretRef has no key bearer "
        "(the runtime pods cannot start without it)"
    )
    only_token = build_context(system(api={"auth": {"tokenSecretRef": {"name": "my-token"}}}))
    assert secrets_read(only_token, [None]).condition == secrets_condition(
        ["Secret my-token named by spec.api.auth.tokenSecretRef does not exist"]
    )


def test_the_watch_writes_the_digest_outside_the_operators_prefix() -> None:
    assert TRIGGER_PREFIX + ENCRYPTION_KEYS_ANNOTATION == "secrets.memory.soma.dev/encryption-keys-digest"
    assert trigger_patch(keys_secret(KEY_FILE), "keys", ENCRYPTION_KEYS_ANNOTATION) == {
        "metadata": {"annotations": {"secrets.memory.soma.dev/encryption-keys-digest": KEY_FILE_DIGEST}}
    }
    assert trigger_patch(None, "token", API_TOKEN_ANNOTATION) == {
        "metadata": {"annotations": {"secrets.memory.soma.dev/api-token-digest": None}}
    }
