"""Re-encrypting a namespace under the first key (``soma encryption rotate``), through the ports.

Every envelope of a memory or of a kept version that the first key did not make is encrypted again
under it, and every listed field still in clear (stored before the field was listed) is encrypted; a
memory whose indexed text changed that way is indexed again. Timestamps, versions and the audit log are
left as they are: a rotation is not a write of the memory. What is already under the first key is not
written again, so a second run changes nothing.

It runs while the API serves: each batch is put back on the condition that none of its memories was
written since it was read (compare-and-set on ``updated_at``, in the store's transaction). When one was,
the batch is read again and rotated again (the new content, and the version the write kept), up to
REVISE_ATTEMPTS readings; then it is left as written (``skipped``: a later run rotates it).
"""

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.models import Memory
from somafractalmemory.core.reindex import DEFAULT_BATCH, batched
from somafractalmemory.core.service import REVISE_ATTEMPTS, MemoryService
from somafractalmemory.core.text import payload_text

Progress = Callable[[int], object]


@dataclass
class Rotation:
    """What a rotation of one namespace found and (unless a dry run) rewrote; ``retried``: batches read
    again because another client wrote one of their memories in the meantime; ``skipped``: memories
    left unrotated because others still wrote them after REVISE_ATTEMPTS readings."""

    memories: int = 0
    memories_rotated: int = 0
    versions: int = 0
    versions_rotated: int = 0
    retried: int = 0
    skipped: int = 0


def _where(memory: Memory) -> str:
    return f"the memory at {list(memory.coordinate)} in namespace {memory.namespace!r}"


def _rotate_versions(
    service: MemoryService, memory: Memory, rotation: Rotation, dry_run: bool, *, again: bool
) -> None:
    """Re-encrypt the memory's kept versions; ``again`` (a reading after a write of another client):
    they were counted already, those rotated then are left as they are."""
    store, encryption = service.store, service.encryption
    versions = store.versions(memory.namespace, memory.coordinate)
    rotation.versions += 0 if again else len(versions)
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
        rotation.memories += len(batch)
        _rotate_batch(service, namespace, batch, rotation, dry_run)
        if progress is not None:
            progress(len(batch))
    return rotation


def _rotate_batch(
    service: MemoryService, namespace: str, batch: list[Memory], rotation: Rotation, dry_run: bool
) -> None:
    read = batch
    for attempt in range(1, REVISE_ATTEMPTS + 1):
        changed: list[Memory] = []
        for memory in read:
            payload = service.encryption.rotated(memory.payload, _where(memory))
            if payload is not None:
                changed.append(dataclasses.replace(memory, payload=payload))
            _rotate_versions(service, memory, rotation, dry_run, again=attempt > 1)
        if dry_run or not changed or not _rewrite(service, read, changed):
            rotation.memories_rotated += len(changed)
            return
        if attempt < REVISE_ATTEMPTS:
            rotation.retried += 1
            found = service.store.get_many(namespace, [m.coordinate for m in changed])
            read = list(found.values())
        else:
            rotation.skipped += len(changed)


def _rewrite(service: MemoryService, read: list[Memory], changed: list[Memory]) -> list[Coordinate]:
    """The rotated memories in place, unless one was written since it was read (answered); the ones
    whose text lost a clear field are indexed again (in evented mode, the outbox has the consumers
    index them)."""
    before = {memory.coordinate: payload_text(memory.payload) for memory in read}
    return service.rewrite(changed, [m for m in changed if payload_text(m.payload) != before[m.coordinate]])
