"""Retrieval quality of one ranked answer, and the mean over many: recall@k, MRR and nDCG@k.

Relevance is binary: an id is relevant or it is not. ``ranked`` is what a recall answered, best first;
``relevant`` the ids that hold the answer. A query with no relevant id has nothing to find and is refused:
it would count as a miss (or a hit) whatever the ranking.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from somafractalmemory.core.errors import InvalidInput


def _checked(relevant: Iterable[str], k: int) -> frozenset[str]:
    if k < 1:
        raise InvalidInput(f"k must be at least 1, got {k}")
    wanted = frozenset(relevant)
    if not wanted:
        raise InvalidInput("a query needs at least one relevant id")
    return wanted


def recall_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """The share of the relevant ids found among the first ``k`` answers."""
    wanted = _checked(relevant, k)
    return len(wanted.intersection(ranked[:k])) / len(wanted)


def reciprocal_rank(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """1 / the rank of the first relevant answer among the first ``k``; 0 when none is there."""
    wanted = _checked(relevant, k)
    for rank, found in enumerate(ranked[:k], start=1):
        if found in wanted:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Discounted gain of the relevant answers in the first ``k`` (1 / log2(rank + 1) each, an id
    counted once), over the gain of the ideal ranking (every relevant id first)."""
    wanted = _checked(relevant, k)
    seen: set[str] = set()
    gain = 0.0
    for rank, found in enumerate(ranked[:k], start=1):
        if found in wanted and found not in seen:
            seen.add(found)
            gain += 1.0 / math.log2(rank + 1)
    ideal = sum(1.0 / math.log2(rank + 1) for rank in range(1, min(len(wanted), k) + 1))
    return gain / ideal


@dataclass(frozen=True, slots=True)
class Scores:
    """Means over the queries of one run."""

    queries: int
    k: int
    recall: float
    mrr: float
    ndcg: float


def mean_scores(answers: Sequence[tuple[Sequence[str], Iterable[str]]], k: int) -> Scores:
    """The mean recall@k, MRR@k and nDCG@k of ``(ranked, relevant)`` pairs."""
    if not answers:
        raise InvalidInput("no query to score")
    pairs = [(ranked, _checked(relevant, k)) for ranked, relevant in answers]
    count = len(pairs)
    return Scores(
        queries=count,
        k=k,
        recall=sum(recall_at_k(ranked, wanted, k) for ranked, wanted in pairs) / count,
        mrr=sum(reciprocal_rank(ranked, wanted, k) for ranked, wanted in pairs) / count,
        ndcg=sum(ndcg_at_k(ranked, wanted, k) for ranked, wanted in pairs) / count,
    )
