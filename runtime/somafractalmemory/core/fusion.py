"""Reciprocal rank fusion of ranked lists: how recall combines its dense and lexical legs.

Each leg is a ranking (best first) with a weight; an item at rank ``r`` (1-based) of a leg earns
``weight / (k + r)`` from it, and its fused score is the sum over the legs that hold it. Ranks, not raw
scores, are fused, so a cosine similarity and a BM25 score need no common scale. Ties keep the order in
which items were first met (the first leg first), so the fused order is deterministic.
"""

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

Key = TypeVar("Key", bound=Hashable)

DEFAULT_RRF_K = 60


class Ranking(StrEnum):
    """How recall orders its results."""

    FUSED = "fused"
    DENSE = "dense"
    LEXICAL = "lexical"


@dataclass(frozen=True, slots=True)
class FusionWeights:
    """The weight of each leg and the RRF constant ``k`` (larger: ranks further down count more)."""

    dense: float = 1.0
    lexical: float = 1.0
    k: int = DEFAULT_RRF_K

    def __post_init__(self) -> None:
        if self.dense < 0 or self.lexical < 0:
            raise ValueError("fusion weights must not be negative")
        if self.k < 1:
            raise ValueError("the RRF constant k must be at least 1")


def reciprocal_rank_fusion(legs: Sequence[tuple[Sequence[Key], float]], k: int) -> list[tuple[Key, float]]:
    """Every item of every leg with its fused score, best first."""
    fused: dict[Key, float] = {}
    for ranking, weight in legs:
        for rank, item in enumerate(ranking, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda pair: pair[1], reverse=True)


DEFAULT_FUSION = FusionWeights()

# The defaults per embedder provider, chosen on LoCoMo conversations 26, 30 and 41 and checked on the other
# seven (docs/retrieval.md). The hashing embedder is itself lexical and weaker than BM25: the lexical leg
# weighs three times as much. A neural embedder's dense leg finds what shares no word with the query:
# both legs weigh alike, and a small k lets the first ranks of each decide.
PROVIDER_FUSION = {
    "hashing": FusionWeights(dense=1.0, lexical=3.0, k=20),
    "onnx": FusionWeights(dense=1.0, lexical=1.0, k=10),
    "sentence-transformers": FusionWeights(dense=1.0, lexical=1.0, k=10),
}


def fusion_for(
    provider: str, dense: float | None = None, lexical: float | None = None, k: int | None = None
) -> FusionWeights:
    """The provider's defaults, with each value given in its place."""
    default = PROVIDER_FUSION.get(provider, DEFAULT_FUSION)
    return FusionWeights(
        default.dense if dense is None else dense,
        default.lexical if lexical is None else lexical,
        default.k if k is None else k,
    )
