"""A write of another client made from inside a maintenance or rotation step, after the step read its
memories and before it writes them: the window a compare-and-set must close, hit every time."""

from collections.abc import Callable, Sequence
from typing import Any

from somafractalmemory.core.audit import AuditAction
from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.models import Memory
from somafractalmemory.core.service import MemoryService, Revision

T0 = 1_000_000.0


class Clock:
    """A clock the test sets."""

    now = T0

    def __call__(self) -> float:
        return self.now


def hook_revise(service: MemoryService, write: Callable[[int], None], times: int) -> list[int]:
    """Run ``write(reading)`` inside the ``change`` of the service's next ``times`` readings of
    ``revise``; answers the readings it ran in."""
    original, ran = service.revise, []

    def revise(
        namespace: str,
        coordinates: Sequence[Coordinate],
        change: Callable[[list[Memory]], Sequence[Memory]],
        action: AuditAction,
    ) -> Revision:
        def hooked(current: list[Memory]) -> Sequence[Memory]:
            if len(ran) < times:
                ran.append(len(ran) + 1)
                write(len(ran))
            return change(current)

        return original(namespace, coordinates, hooked, action)

    service.revise = revise  # type: ignore[method-assign]
    return ran


def hook_delete_if(service: MemoryService, write: Callable[[], None]) -> list[int]:
    """Run ``write()`` once, inside the condition of the service's next ``delete_if``."""
    original, ran = service.delete_if, []

    def delete_if(
        namespace: str, coordinate: Coordinate, condition: Callable[[Memory], bool], action: AuditAction
    ) -> Revision:
        def hooked(memory: Memory) -> bool:
            if not ran:
                ran.append(1)
                write()
            return condition(memory)

        return original(namespace, coordinate, hooked, action)

    service.delete_if = delete_if  # type: ignore[method-assign]
    return ran


def hook_rewrite(service: MemoryService, write: Callable[[], None]) -> list[int]:
    """Run ``write()`` once, when the service's next ``rewrite`` (a rotation's) is about to write."""
    original, ran = service.rewrite, []

    def rewrite(memories: Sequence[Memory], reindexed: Sequence[Memory]) -> Any:
        if not ran:
            ran.append(1)
            write()
        return original(memories, reindexed)

    service.rewrite = rewrite  # type: ignore[method-assign]
    return ran
