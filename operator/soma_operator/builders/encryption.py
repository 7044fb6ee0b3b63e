"""Encryption at rest of chosen payload fields: the key Secret and how every runtime pod reads it.

The contract with the runtime: ``SOMA_ENCRYPTED_FIELDS`` (comma-separated payload keys) and
``SOMA_ENCRYPTION_KEYS_FILE`` (one Fernet key per line; the first encrypts, every one decrypts, which is
how a key is rotated). The file is the ``keys`` key of a Secret, mounted read-only in every pod that runs
the runtime.

The operator generates the Secret NAME-encryption once, with one fresh key, unless ``keysSecretRef``
names the user's own. It is not rendered with the other children: an apply would overwrite a key the
user rotated, and a new key makes every encrypted memory unreadable (reconcile.ensure_encryption_key
creates it only where none exists).
"""

from __future__ import annotations

import base64
import os
from typing import Any

from soma_operator.builders.context import BuildContext
from soma_operator.builders.labels import metadata
from soma_operator.builders.pods import mount

COMPONENT = "encryption"
KEYS_KEY = "keys"
MOUNT_DIR = "/etc/soma/encryption"
KEYS_FILE = f"{MOUNT_DIR}/{KEYS_KEY}"
VOLUME = "encryption-keys"
# Readable by the owner and the pod's fsGroup (the runtime's group), by nobody else.
FILE_MODE = 0o440
FERNET_KEY_BYTES = 32


def fernet_key() -> str:
    """A fresh Fernet key: the URL-safe base64 of 32 random bytes (44 characters)."""
    return base64.urlsafe_b64encode(os.urandom(FERNET_KEY_BYTES)).decode()


def secret_name(ctx: BuildContext) -> str | None:
    """The Secret holding the keys: the user's, else the generated one; None without encryption."""
    encryption = ctx.system.spec.encryption
    if encryption is None:
        return None
    ref = encryption.keys_secret_ref
    return ref.name if ref is not None else ctx.child_name(COMPONENT)


def generates_secret(ctx: BuildContext) -> bool:
    encryption = ctx.system.spec.encryption
    return encryption is not None and encryption.keys_secret_ref is None


def config_data(ctx: BuildContext) -> dict[str, str]:
    """The runtime settings of encryption; in the ConfigMap, so a change of the fields rolls the pods."""
    encryption = ctx.system.spec.encryption
    if encryption is None:
        return {}
    return {"SOMA_ENCRYPTED_FIELDS": ",".join(encryption.fields), "SOMA_ENCRYPTION_KEYS_FILE": KEYS_FILE}


def mounts(ctx: BuildContext) -> list[dict[str, Any]]:
    return [mount(VOLUME, MOUNT_DIR, read_only=True)] if secret_name(ctx) else []


def volumes(ctx: BuildContext) -> list[dict[str, Any]]:
    name = secret_name(ctx)
    if name is None:
        return []
    items = [{"key": KEYS_KEY, "path": KEYS_KEY}]
    return [{"name": VOLUME, "secret": {"secretName": name, "items": items, "defaultMode": FILE_MODE}}]


def key_secret(ctx: BuildContext, key: str) -> dict[str, Any]:
    """The generated Secret, owned by the MemorySystem, with one key."""
    name = ctx.child_name(COMPONENT)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": metadata(ctx, name, COMPONENT, ctx.system.spec.version),
        "type": "Opaque",
        "data": {KEYS_KEY: base64.b64encode(f"{key}\n".encode()).decode()},
    }
