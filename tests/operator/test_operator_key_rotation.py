"""An edit of the key Secret (generated or named by keysSecretRef) reaches the pod templates, through the
real operator (its kopf handlers, the Secret watch and its index) against the emulated API server; a named
Secret that does not exist is reported until it does."""

from __future__ import annotations

import base64
from typing import Any

from kube_emulator import DEPLOYMENTS, SECRETS, ApiServerEmulator
from operator_harness import condition, create_system, eventually, patch_spec, request, running_operator
from test_operator_maintenance import ENCRYPTION, NAME, body, events, ready_system, stored_keys

from soma_operator.builders.secret_digests import API_TOKEN_ANNOTATION, ENCRYPTION_KEYS_ANNOTATION, digest

SECRETS_URL = "/api/v1/namespaces/default/secrets"
NEW_KEY = base64.urlsafe_b64encode(b"n" * 32).decode()
MISSING = (
    "Secret my-keys named by spec.encryption.keysSecretRef does not exist "
    "(the runtime pods cannot start without it)"
)


def api_annotations(emulator: ApiServerEmulator) -> dict[str, str]:
    deployment = emulator.live(DEPLOYMENTS, "default", f"{NAME}-api") or {}
    annotations: dict[str, str] = deployment["spec"]["template"]["metadata"].get("annotations", {})
    return annotations


def keys_data(text: str) -> dict[str, Any]:
    return {"keys": base64.b64encode(text.encode()).decode()}


async def test_editing_the_generated_key_secret_rolls_the_api(emulator: ApiServerEmulator) -> None:
    async with running_operator(emulator):
        await ready_system(emulator, {"encryption": ENCRYPTION})
        first = stored_keys(emulator)
        assert api_annotations(emulator)[ENCRYPTION_KEYS_ANNOTATION] == digest(first.encode())

        rotated = f"{NEW_KEY}\n{first}"
        url = f"{SECRETS_URL}/{NAME}-encryption"
        await request(emulator, "PATCH", url, {"data": keys_data(rotated)}, "application/merge-patch+json")
        await eventually(
            lambda: api_annotations(emulator).get(ENCRYPTION_KEYS_ANNOTATION) == digest(rotated.encode()),
            "the API's pod template carries the new keys' digest",
        )
        assert stored_keys(emulator) == rotated  # the operator kept the user's edit


async def test_a_new_api_token_rolls_the_api(emulator: ApiServerEmulator) -> None:
    """The runtime reads SOMA_API_TOKEN_FILE at start only: a new token in the generated Secret rolls it."""
    async with running_operator(emulator):
        await ready_system(emulator, {})
        url = f"{SECRETS_URL}/{NAME}-api-token"
        token = {"token": base64.b64encode(b"a-new-token").decode()}
        await request(emulator, "PATCH", url, {"data": token}, "application/merge-patch+json")
        await eventually(
            lambda: api_annotations(emulator).get(API_TOKEN_ANNOTATION) == digest(b"a-new-token"),
            "the API's pod template carries the new token's digest",
        )
        secret = emulator.live(SECRETS, "default", f"{NAME}-api-token") or {}
        assert secret["data"] == token  # read back and applied as the user left it


async def test_a_missing_keys_secret_is_reported_until_it_exists(emulator: ApiServerEmulator) -> None:
    spec = {"encryption": {**ENCRYPTION, "keysSecretRef": {"name": "my-keys"}}}
    async with running_operator(emulator):
        await create_system(emulator, body(spec))
        await eventually(
            lambda: condition(emulator, NAME, "SecretsFound").get("status") == "False", "reported"
        )
        found = condition(emulator, NAME, "SecretsFound")
        assert (found["reason"], found["message"]) == ("SecretMissing", MISSING)
        await eventually(lambda: ("SecretMissing", MISSING) in events(emulator), "the event")
        assert ENCRYPTION_KEYS_ANNOTATION not in api_annotations(emulator)

        secret = {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "my-keys"},
            "data": keys_data("k\n"),
        }
        await request(emulator, "POST", SECRETS_URL, secret)
        await eventually(
            lambda: api_annotations(emulator).get(ENCRYPTION_KEYS_ANNOTATION) == digest(b"k\n"),
            "the API's pod template carries the digest of the Secret once it exists",
        )
        await eventually(lambda: condition(emulator, NAME, "SecretsFound").get("status") == "True", "found")
        assert condition(emulator, NAME, "SecretsFound")["message"] == "every Secret the spec names exists"


async def test_secrets_found_goes_once_the_spec_names_no_secret(emulator: ApiServerEmulator) -> None:
    """A condition about a Secret the spec no longer names would stay False forever: it is dropped."""
    spec = {"encryption": {**ENCRYPTION, "keysSecretRef": {"name": "my-keys"}}}
    async with running_operator(emulator):
        await create_system(emulator, body(spec))
        await eventually(
            lambda: condition(emulator, NAME, "SecretsFound").get("status") == "False", "reported"
        )
        await patch_spec(emulator, NAME, {"encryption": {"keysSecretRef": None}})
        await eventually(lambda: condition(emulator, NAME, "SecretsFound") == {}, "dropped")
        await eventually(
            lambda: ENCRYPTION_KEYS_ANNOTATION in api_annotations(emulator), "the generated keys are used"
        )
