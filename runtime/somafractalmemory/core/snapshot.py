"""The port a backup reads through: every namespace of a document store as of one moment."""

from collections.abc import Iterator
from typing import Protocol

from somafractalmemory.core.models import Link, Memory, StoredVersion


class StoreSnapshot(Protocol):
    """One database snapshot: every read sees the store as it was when the snapshot was taken, whatever
    is written meanwhile. Each stream holds a bounded number of rows at a time."""

    def namespaces(self) -> list[str]:
        """Every namespace that holds a memory or a link, in name order."""
        ...

    def memories(self, namespace: str) -> Iterator[Memory]: ...

    def links(self, namespace: str) -> Iterator[Link]: ...

    def versions(self, namespace: str) -> Iterator[StoredVersion]:
        """The kept versions of every memory, by memory then number."""
        ...
