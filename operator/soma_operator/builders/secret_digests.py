"""Digests of the secret files the runtime reads at start only, as pod template annotations.

The runtime reads its encryption keys (SOMA_ENCRYPTION_KEYS_FILE) and its API token (SOMA_API_TOKEN_FILE)
once, when it starts: a kubelet refreshes a mounted Secret, the process never reads it again. A digest of
each on the pod template makes an edit of the Secret (a rotated key, a new token) roll the pods. The digest
is the first 16 hex characters of the SHA-256 of the value, never the value.
"""

from __future__ import annotations

import hashlib

from soma_operator.builders.context import SecretDigests

ENCRYPTION_KEYS_ANNOTATION = "memory.soma.dev/encryption-keys-digest"
API_TOKEN_ANNOTATION = "memory.soma.dev/api-token-digest"  # noqa: S105 - an annotation name
DIGEST_CHARS = 16


def digest(value: bytes) -> str:
    return hashlib.sha256(value).hexdigest()[:DIGEST_CHARS]


def digest_annotations(digests: SecretDigests) -> dict[str, str]:
    """The annotations of the digests that are known (a Secret not read yet has none)."""
    found = {ENCRYPTION_KEYS_ANNOTATION: digests.encryption_keys, API_TOKEN_ANNOTATION: digests.api_token}
    return {name: value for name, value in found.items() if value is not None}
