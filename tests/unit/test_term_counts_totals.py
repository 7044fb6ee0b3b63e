"""A store also remembers each namespace's number of memories, for the same ttl, in a bounded table."""

from somafractalmemory.adapters.term_counts import TermCounts


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_namespace_s_total_is_known_until_its_ttl_passes() -> None:
    clock = Clock()
    counts = TermCounts(ttl=30.0, clock=clock)
    assert counts.total("ns") is None
    counts.remember_total("ns", 0)  # an empty namespace is remembered too: a write does not hide a term
    assert counts.total("ns") == 0
    counts.remember_total("ns", 12)
    assert (counts.total("ns"), counts.total("other")) == (12, None)
    clock.now = 129.9
    assert counts.total("ns") == 12
    clock.now = 130.0
    assert counts.total("ns") is None


def test_a_full_totals_table_starts_over() -> None:
    counts = TermCounts(entries=2, clock=Clock())
    counts.remember_total("a", 1)
    counts.remember_total("b", 2)
    counts.remember_total("c", 3)
    assert [counts.total(ns) for ns in "abc"] == [None, None, 3]
