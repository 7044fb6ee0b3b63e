"""A store also remembers each namespace's number of memories, for the same ttl, in a bounded table, and a
common term's count longer, each for its own share of the common ttl."""

from somafractalmemory.adapters.term_counts import DEFAULT_COMMON_TTL_SECONDS, TermCounts


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


def test_a_common_term_is_remembered_for_a_half_to_all_of_the_common_ttl() -> None:
    clock = Clock()
    shares = iter([0.0, 1.0])
    counts = TermCounts(ttl=30.0, clock=clock, common_ttl=300.0, spread=lambda: next(shares))
    counts.remember("ns", "early", 3001, common=True)  # spread 0: half of 300 s
    counts.remember("ns", "late", 3001, common=True)  # spread 1: all of 300 s
    counts.remember("ns", "rare", 12)
    clock.now = 130.0
    assert [counts.get("ns", t) for t in ("early", "late", "rare")] == [3001, 3001, None]
    clock.now = 249.9
    assert [counts.get("ns", t) for t in ("early", "late")] == [3001, 3001]
    clock.now = 250.0
    assert [counts.get("ns", t) for t in ("early", "late")] == [None, 3001]
    clock.now = 400.0
    assert counts.get("ns", "late") is None


def test_the_common_ttl_default() -> None:
    assert DEFAULT_COMMON_TTL_SECONDS == 300.0
