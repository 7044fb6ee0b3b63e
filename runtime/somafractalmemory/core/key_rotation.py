"""Re-encrypting a namespace under the first key (``soma encryption rotate``), through the ports.

Every envelope of a memory or of a kept version that the first key did not make is encrypted again
under it, and every listed field still in clear (stored before the field was listed) is encrypted; a
memory whose indexed text changed that way is indexed again. Timestamps, versions and the audit log are
left as they are: a rotation is not a write of the memory. What is already under the first key is not
written again, so a second run changes nothing.
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from somafractalmemory.core.models import Memory
from somafractalmemory.core.reindex import DEFAULT_BATCH, batched
from somafractalmemory.core.service import MemoryService
from somafractalmemory.core.text import payload_text

Progress = Callable[[int], object]


@dataclass
class Rotation:
    """What a rotation of one namespace found and (unless a dry run) rewrote."""

    memories: int = 0
    memories_rotated: int = 0
    versions: int = 0
    versions_rotated: int = 0


def _where(memory: Memory) -> str:
    return f"the memory at {list(memory.coordinate)} in namespace {memory.namespace!r}"


def _rotate_versions(service: MemoryService, memory: Memory, rotation: Rotation, dry_run: bool) -> None:
    store, encryption = service.store, service.encryption
    versions = store.versions(memory.namespace, memory.coordinate)
    rotation.versions += len(versions)
    changed = {
        v.number: payload
        for v in versions
        if (payload := encryption.rotated(v.payload, f"version {v.number} of {_where(memory)}")) is not None
    }
    rotation.versions_rotated += len(changed)
    if changed and not dry_run:
        store.replace_version_payloads(memory.namespace, memory.coordinate, changed)


def rotate_namespace(
    service: MemoryService,
    namespace: str,
    *,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
) -> Rotation:
    rotation = Rotation()
    for batch in batched(service.store.iter_memories(namespace), batch_size):
        changed: list[Memory] = []
        for memory in batch:
            payload = service.encryption.rotated(memory.payload, _where(memory))
            if payload is not None:
                changed.append(dataclasses.replace(memory, payload=payload))
            _rotate_versions(service, memory, rotation, dry_run)
        rotation.memories += len(batch)
        rotation.memories_rotated += len(changed)
        if changed and not dry_run:
            _rewrite(service, batch, changed)
        if progress is not None:
            progress(len(batch))
    return rotation


def _rewrite(service: MemoryService, batch: list[Memory], changed: list[Memory]) -> None:
    """The rotated memories in place; the ones whose text lost a clear field are indexed again (in
    evented mode, the outbox has the consumers index them)."""
    before = {memory.coordinate: payload_text(memory.payload) for memory in batch}
    service.rewrite(changed, [m for m in changed if payload_text(m.payload) != before[m.coordinate]])
