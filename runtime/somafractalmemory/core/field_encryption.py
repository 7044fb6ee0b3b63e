"""Encryption at rest of chosen top-level payload fields, with Fernet keys that rotate.

A listed field's value is stored as an envelope (core.envelope) holding the Fernet token of its JSON, so
any JSON value round-trips. The first key encrypts; every key decrypts (MultiFernet), so a new key goes
first and the old ones stay until ``soma encryption rotate`` has re-encrypted everything under it.
Sealing leaves an envelope as it is, so a memory read from the store can be written again unchanged.
"""

import dataclasses
import json
from collections.abc import Iterable, Sequence
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from somafractalmemory.core.envelope import ENVELOPE_KEY, is_envelope
from somafractalmemory.core.errors import InvalidInput, SomaError
from somafractalmemory.core.filters import MemoryFilter
from somafractalmemory.core.models import Link, Memory, MemoryVersion, StoredVersion

Payload = dict[str, Any]


class UndecryptableField(SomaError):
    """A stored field that no configured key decrypts: a key was removed before the rotation ran (the
    server's configuration, not the request, is wrong: maps to 500 with this message)."""


def new_key() -> str:
    return Fernet.generate_key().decode("ascii")


def parse_keys(keys: Sequence[str]) -> list[Fernet]:
    """Fernet keys in order; a malformed key is named by its position, never by its content."""
    fernets: list[Fernet] = []
    for position, key in enumerate(keys, start=1):
        try:
            fernets.append(Fernet(key.strip().encode("ascii")))
        except (ValueError, UnicodeEncodeError):
            raise InvalidInput(
                f"encryption key {position} of {len(keys)} is not a Fernet key (the URL-safe base64 of "
                "32 bytes, as `soma encryption new-key` prints)"
            ) from None
    return fernets


@dataclasses.dataclass(frozen=True)
class FieldEncryption:
    """The fields to encrypt and the keys (the first encrypts). Without keys it is off: payloads pass
    through as they are."""

    fields: frozenset[str] = frozenset()
    keys: tuple[Fernet, ...] = ()

    def __post_init__(self) -> None:
        if self.fields and not self.keys:
            raise InvalidInput(
                "SOMA_ENCRYPTED_FIELDS is set but no key is: set SOMA_ENCRYPTION_KEYS or "
                "SOMA_ENCRYPTION_KEYS_FILE (`soma encryption new-key` prints one)"
            )

    @property
    def enabled(self) -> bool:
        return bool(self.keys)

    def _multi(self) -> MultiFernet:
        return MultiFernet(list(self.keys))

    def _envelope(self, value: Any) -> dict[str, str]:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return {ENVELOPE_KEY: self.keys[0].encrypt(text.encode("utf-8")).decode("ascii")}

    def seal(self, payload: Payload) -> Payload:
        """The payload with every listed field in an envelope (one already in an envelope stays)."""
        listed = [k for k in self.fields if k in payload and not is_envelope(payload[k])]
        if not listed:
            return payload
        return {**payload, **{k: self._envelope(payload[k]) for k in listed}}

    def open(self, payload: Payload, where: str) -> Payload:
        """The payload with every envelope (of a listed field or of one listed before) decrypted."""
        if not self.enabled:
            return payload
        sealed = [k for k, value in payload.items() if is_envelope(value)]
        if not sealed:
            return payload
        multi = self._multi()
        opened = dict(payload)
        for key in sealed:
            try:
                text = multi.decrypt(payload[key][ENVELOPE_KEY].encode("ascii"))
            except (InvalidToken, UnicodeEncodeError):
                raise UndecryptableField(
                    f"field {key!r} of {where} cannot be decrypted with any of the {len(self.keys)} "
                    "configured encryption keys: the key that encrypted it was removed (put it back in "
                    "SOMA_ENCRYPTION_KEYS after the first key, run `soma encryption rotate`, then remove it)"
                ) from None
            opened[key] = json.loads(text)
        return opened

    def rotated(self, payload: Payload, where: str) -> Payload | None:
        """The payload with every envelope under the first key and every listed field sealed; None when
        nothing changes (so a second rotation writes nothing)."""
        changed: Payload = {}
        for key, value in payload.items():
            if is_envelope(value):
                token = value[ENVELOPE_KEY].encode("ascii")
                try:
                    self.keys[0].decrypt(token)
                except InvalidToken:
                    changed[key] = self._envelope(self.open({key: value}, where)[key])
            elif key in self.fields:
                changed[key] = self._envelope(value)
        return {**payload, **changed} if changed else None

    def memory(self, memory: Memory) -> Memory:
        """The memory as a reader sees it."""
        where = f"the memory at {list(memory.coordinate)} in namespace {memory.namespace!r}"
        payload = self.open(memory.payload, where)
        return memory if payload is memory.payload else dataclasses.replace(memory, payload=payload)

    def memories(self, memories: Iterable[Memory]) -> list[Memory]:
        return [self.memory(m) for m in memories]

    def version(self, version: MemoryVersion, where: str) -> MemoryVersion:
        """A kept version of the memory ``where`` names, as a reader sees it."""
        payload = self.open(version.payload, f"version {version.number} of {where}")
        return dataclasses.replace(version, payload=payload)

    def sealed(self, memories: Sequence[Memory]) -> Sequence[Memory]:
        """The memories as the store keeps them."""
        if not self.fields:
            return memories
        return [dataclasses.replace(m, payload=self.seal(m.payload)) for m in memories]

    def check_clear(self, payload: Payload) -> None:
        """A caller's payload may not hold an envelope of its own (it would be read as a token)."""
        if not self.enabled:
            return
        for key, value in payload.items():
            if is_envelope(value):
                raise InvalidInput(
                    f"payload field {key!r} is an object whose only key is {ENVELOPE_KEY!r}: that form is "
                    "reserved for encrypted fields"
                )

    def _check_restorable(self, payload: Payload, where: str) -> None:
        try:
            self.open(payload, where)
        except UndecryptableField as error:
            raise InvalidInput(str(error)) from None

    def imported(self, record: Memory | Link | StoredVersion) -> Memory | Link | StoredVersion:
        """An imported record as the store takes it. A record (of a backup, which holds the store's
        envelopes) may hold envelopes that a configured key decrypts, and no other; a version, which the
        store takes as it is, is sealed here (a memory is sealed by the write)."""
        if isinstance(record, Memory):
            self._check_restorable(record.payload, f"the record at {list(record.coordinate)}")
        elif isinstance(record, StoredVersion):
            version = record.version
            where = f"version {version.number} of the record at {list(record.coordinate)}"
            self._check_restorable(version.payload, where)
            sealed = dataclasses.replace(version, payload=self.seal(version.payload))
            return dataclasses.replace(record, version=sealed)
        return record

    def check_filters(self, conditions: MemoryFilter) -> None:
        """A filter on an encrypted field could never match: refused rather than answered empty."""
        for condition in conditions:
            field = condition.field.split(".", 1)[0]
            if field in self.fields:
                raise InvalidInput(
                    f"cannot filter on {condition.field!r}: the field {field!r} is encrypted at rest "
                    "(SOMA_ENCRYPTED_FIELDS), so the store cannot compare its value"
                )


OFF = FieldEncryption()
