"""The reference library's replay and reflect lists, defined plainly (the reference sampled memories of a
type at random; these lists are deterministic and read from the store's ordered index, never a scan).

- replay: the episodic memories worth going over again, the most important first (then the most
  recently written): what an agent rehearses.
- reflect: the semantic memories learned most recently (consolidations, corrections, facts stored),
  the last written first: what an agent reflects on.
"""

from enum import StrEnum

from somafractalmemory.core.importance import MemoryOrder
from somafractalmemory.core.models import MemoryType


class Review(StrEnum):
    REPLAY = "replay"
    REFLECT = "reflect"

    @property
    def order(self) -> MemoryOrder:
        return MemoryOrder.IMPORTANT if self is Review.REPLAY else MemoryOrder.RECENT

    @property
    def memory_type(self) -> MemoryType:
        return MemoryType.EPISODIC if self is Review.REPLAY else MemoryType.SEMANTIC
