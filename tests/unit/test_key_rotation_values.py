"""Key rotation's counts, batches, progress and retries, pinned to their values (issue 14): what a rotation
of several batches counts, what it does when another client writes a memory between its read and its
write (the batch read and rotated again, up to REVISE_ATTEMPTS readings, then skipped), and the messages
that name the memory or version a key cannot open."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from embedded_service import close_service, open_service

from somafractalmemory.core import service as service_module
from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.field_encryption import FieldEncryption, UndecryptableField, new_key, parse_keys
from somafractalmemory.core.key_rotation import Rotation, rotate_namespace
from somafractalmemory.core.models import Memory
from somafractalmemory.core.service import MemoryService, NewMemory

NS = "keys"
OLD, NEW, GONE = new_key(), new_key(), new_key()


def encryption(*keys: str) -> FieldEncryption:
    return FieldEncryption(frozenset({"secret"}), tuple(parse_keys(list(keys))))


@pytest.fixture
def sealed_under_old(tmp_path: Path) -> Iterator[Path]:
    """Five memories sealed under the old key, the first two with a kept version each."""
    service = open_service(tmp_path, encryption=encryption(OLD), max_versions=5)
    for n in range(5):
        service.store_memory(NS, NewMemory((float(n),), {"text": f"note {n}", "secret": f"s{n}"}))
    for n in range(2):
        service.store_memory(NS, NewMemory((float(n),), {"text": f"note {n} again", "secret": f"t{n}"}))
    close_service(service)
    yield tmp_path


def rotating(directory: Path) -> MemoryService:
    return open_service(directory, encryption=encryption(NEW, OLD), max_versions=5)


def test_counts_add_up_over_batches_and_progress_gets_each_batch_size(sealed_under_old: Path) -> None:
    service = rotating(sealed_under_old)
    try:
        seen: list[int] = []
        rotation = rotate_namespace(service, NS, batch_size=2, progress=seen.append)
        assert seen == [2, 2, 1]
        assert rotation == Rotation(memories=5, memories_rotated=5, versions=2, versions_rotated=2)
        assert rotate_namespace(service, NS, batch_size=2) == Rotation(5, 0, 2, 0)
        assert rotate_namespace(service, "elsewhere") == Rotation()
    finally:
        close_service(service)
    after = open_service(sealed_under_old, encryption=encryption(NEW))
    try:
        assert after.get(NS, (4.0,)).payload == {"text": "note 4", "secret": "s4"}
        assert [v.payload for v in after.versions(NS, (1.0,))] == [{"text": "note 1", "secret": "s1"}]
    finally:
        close_service(after)


class Interfering:
    """Another client writing a memory of the batch between the rotation's read and its write, memory 0
    at the first write of the rotation, memory 1 at the second ..., ``times`` times (real writes through
    the service, sealed under the first key, so the rotation's compare-and-set finds them)."""

    def __init__(self, service: MemoryService, times: int) -> None:
        self.service = service
        self.written = 0
        self.times = times
        self.rewrite = service.rewrite
        service.rewrite = self  # type: ignore[method-assign]

    def __call__(self, memories: list[Memory], reindexed: list[Memory]) -> list[Coordinate]:
        if self.written < self.times:
            payload = {"text": f"written meanwhile {self.written}", "secret": f"w{self.written}"}
            self.service.store_memory(NS, NewMemory((float(self.written),), payload))
            self.written += 1
        return self.rewrite(memories, reindexed)


def test_a_batch_written_meanwhile_is_read_and_rotated_again(sealed_under_old: Path) -> None:
    service = rotating(sealed_under_old)
    try:
        Interfering(service, times=1)
        rotation = rotate_namespace(service, NS, batch_size=5)
        # the second reading finds memory 0 under the new key (the other client wrote it) and the
        # version that write kept under the old one; versions are counted at the first reading only
        assert rotation == Rotation(memories=5, memories_rotated=4, versions=2, versions_rotated=3, retried=1)
        assert rotate_namespace(service, NS) == Rotation(5, 0, 3, 0)
        assert service.get(NS, (0.0,)).payload == {"text": "written meanwhile 0", "secret": "w0"}
    finally:
        close_service(service)


def test_a_batch_written_at_every_reading_is_skipped_after_the_last(sealed_under_old: Path) -> None:
    assert service_module.REVISE_ATTEMPTS == 3
    service = rotating(sealed_under_old)
    try:
        Interfering(service, times=3)
        rotation = rotate_namespace(service, NS, batch_size=5)
        # three readings, each beaten by a write: what the third found to rotate is left as written
        assert rotation == Rotation(5, 0, 2, 4, retried=2, skipped=3)
        again = rotate_namespace(service, NS, batch_size=5)  # a later run rotates it
        assert again == Rotation(5, 2, 5, 1)  # memories 3 and 4; memory 2 was written under the new key
    finally:
        close_service(service)


def test_a_batch_written_twice_is_rotated_at_the_third_reading(sealed_under_old: Path) -> None:
    service = rotating(sealed_under_old)
    try:
        Interfering(service, times=2)
        assert rotate_namespace(service, NS, batch_size=5) == Rotation(5, 3, 2, 4, retried=2, skipped=0)
        assert rotate_namespace(service, NS, batch_size=5) == Rotation(5, 0, 4, 0)
    finally:
        close_service(service)


def test_a_dry_run_counts_and_writes_nothing(sealed_under_old: Path) -> None:
    service = rotating(sealed_under_old)
    try:
        Interfering(service, times=1)
        assert rotate_namespace(service, NS, dry_run=True, batch_size=3) == Rotation(5, 5, 2, 2)
        assert rotate_namespace(service, NS, dry_run=True, batch_size=3) == Rotation(5, 5, 2, 2)
    finally:
        close_service(service)


def test_a_memory_no_key_opens_is_named_in_the_error(sealed_under_old: Path) -> None:
    service = open_service(sealed_under_old, encryption=encryption(NEW, GONE), max_versions=5)
    try:
        with pytest.raises(UndecryptableField) as caught:
            rotate_namespace(service, NS)
        assert str(caught.value).startswith(
            "field 'secret' of the memory at [0.0] in namespace 'keys' cannot be decrypted with any of the 2 "
        )
    finally:
        close_service(service)


def test_a_version_no_key_opens_is_named_in_the_error(tmp_path: Path) -> None:
    first = open_service(tmp_path, encryption=encryption(OLD), max_versions=5)
    first.store_memory(NS, NewMemory((1.0,), {"text": "then", "secret": "old"}))
    close_service(first)
    second = open_service(tmp_path, encryption=encryption(NEW, OLD), max_versions=5)
    second.store_memory(NS, NewMemory((1.0,), {"text": "now", "secret": "new"}))
    close_service(second)
    service = open_service(tmp_path, encryption=encryption(NEW, GONE), max_versions=5)
    try:
        with pytest.raises(UndecryptableField) as caught:
            rotate_namespace(service, NS)
        assert str(caught.value).startswith(
            "field 'secret' of version 1 of the memory at [1.0] in namespace 'keys' cannot be decrypted"
        )
    finally:
        close_service(service)
