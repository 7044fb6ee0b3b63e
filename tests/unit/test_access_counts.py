"""Access counts gathered in process: written in batches, kept when a write fails, flushed on close."""

import threading
from collections import Counter
from collections.abc import Mapping

import pytest

from somafractalmemory.adapters.access_counts import (
    DEFAULT_ENTRIES,
    DEFAULT_INTERVAL_SECONDS,
    AccessCounts,
    Key,
)


class Table:
    """Where the batches go: a counter, which refuses the writes while ``down``."""

    def __init__(self) -> None:
        self.counts: Counter[Key] = Counter()
        self.batches = 0
        self.down = False
        self.written = threading.Event()

    def write(self, batch: Mapping[Key, int]) -> None:
        if self.down:
            raise ConnectionError("the database is down")
        self.counts.update(batch)
        self.batches += 1
        self.written.set()


def test_increments_wait_in_process_until_a_flush_writes_them_in_one_batch() -> None:
    table = Table()
    counts = AccessCounts(table.write, interval=3600)
    counts.add([("ns", "a"), ("ns", "b")])
    counts.add([("ns", "a")])
    assert (counts.pending(("ns", "a")), counts.pending(("ns", "b")), table.batches) == (2, 1, 0)
    counts.flush()
    assert (table.counts, table.batches) == (Counter({("ns", "a"): 2, ("ns", "b"): 1}), 1)
    assert counts.pending(("ns", "a")) == 0
    counts.close()


def test_a_failed_write_keeps_the_increments_for_the_next() -> None:
    table = Table()
    counts = AccessCounts(table.write, interval=3600)
    counts.add([("ns", "a")])
    table.down = True
    with pytest.raises(ConnectionError):
        counts.flush()
    assert counts.pending(("ns", "a")) == 1
    table.down = False
    counts.add([("ns", "a")])
    counts.close()
    assert table.counts == Counter({("ns", "a"): 2})


def test_the_writer_wakes_at_the_entry_limit_and_close_writes_the_rest() -> None:
    table = Table()
    counts = AccessCounts(table.write, interval=3600, entries=2)
    counts.add([("ns", "a"), ("ns", "b")])
    assert table.written.wait(30)  # the interval is an hour: the limit woke the writer
    counts.add([("ns", "c")])
    counts.close()
    assert table.counts == Counter({("ns", "a"): 1, ("ns", "b"): 1, ("ns", "c"): 1})


def test_the_defaults() -> None:
    assert (DEFAULT_INTERVAL_SECONDS, DEFAULT_ENTRIES) == (0.2, 1000)
