"""The counts a store remembers: per namespace and term, for ttl seconds, never a 0, in a bounded table."""

from somafractalmemory.adapters.term_counts import DEFAULT_ENTRIES, DEFAULT_TTL_SECONDS, TermCounts


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_count_is_known_in_its_namespace_until_its_ttl_passes() -> None:
    clock = Clock()
    counts = TermCounts(ttl=30.0, clock=clock)
    assert counts.get("ns", "red") is None
    counts.remember("ns", "red", 7)
    assert counts.get("ns", "red") == 7
    assert counts.get("other", "red") is None
    assert counts.get("ns", "blue") is None
    clock.now = 129.9
    assert counts.get("ns", "red") == 7
    clock.now = 130.0
    assert counts.get("ns", "red") is None
    counts.remember("ns", "red", 9)  # counted again: another ttl, the new count
    clock.now = 159.9
    assert counts.get("ns", "red") == 9


def test_a_term_in_no_text_is_not_remembered() -> None:
    counts = TermCounts(clock=Clock())
    counts.remember("ns", "zebra", 0)
    assert counts.get("ns", "zebra") is None


def test_a_full_table_starts_over() -> None:
    counts = TermCounts(entries=2, clock=Clock())
    counts.remember("ns", "a", 1)
    counts.remember("ns", "b", 2)
    counts.remember("ns", "c", 3)  # the table held 2: emptied first
    assert [counts.get("ns", term) for term in "abc"] == [None, None, 3]


def test_the_defaults() -> None:
    assert (DEFAULT_TTL_SECONDS, DEFAULT_ENTRIES) == (30.0, 10_000)
