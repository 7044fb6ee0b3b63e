"""Dense pseudo-relevance feedback (Rocchio) for fused recall.

The first fused ranking's best memories are taken as relevant: the query vector moves towards the mean of
their vectors (``query + weight x mean``, L2-normalised) and the dense leg searches again with it, so that
memories like the ones found first, but sharing no word with the query, reach the dense leg. The lexical
leg is not searched again. The memories' vectors are read back from the vector index.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from somafractalmemory.core.ports import Vectors


@dataclass(frozen=True, slots=True)
class Feedback:
    """``depth``: how many of the first fused ranking's memories feed back (0: none); ``weight``: what
    their mean vector weighs next to the query's (0: none)."""

    depth: int = 0
    weight: float = 0.0

    def __post_init__(self) -> None:
        if self.depth < 0:
            raise ValueError("the feedback depth must not be negative")
        if self.weight < 0:
            raise ValueError("the feedback weight must not be negative")

    @property
    def enabled(self) -> bool:
        return self.depth > 0 and self.weight > 0


NO_FEEDBACK = Feedback()


# The defaults per embedder provider, chosen on LoCoMo conversations 26, 30 and 41 and checked on the other
# seven (docs/retrieval.md): the best recall@10 of depth 1 to 5 and weight 0.25 to 1 for MiniLM. For the
# hashing embedder the tuning set's best (depth 2, weight 1) lost on the held-out conversations: off.
PROVIDER_FEEDBACK: Mapping[str, Feedback] = {
    "hashing": NO_FEEDBACK,
    "onnx": Feedback(depth=2, weight=0.5),
    "sentence-transformers": Feedback(depth=2, weight=0.5),
}


def feedback_for(provider: str, depth: int | None = None, weight: float | None = None) -> Feedback:
    """The provider's defaults, with each value given in its place."""
    default = PROVIDER_FEEDBACK.get(provider, NO_FEEDBACK)
    return Feedback(default.depth if depth is None else depth, default.weight if weight is None else weight)


def moved_query(query: Vectors, relevant: Vectors, weight: float) -> Vectors:
    """``query + weight x`` the mean of the ``relevant`` rows, L2-normalised (float32, as embedders give).
    With no row, or a sum of length 0, the query is kept."""
    if len(relevant) == 0:
        return query
    mean: npt.NDArray[np.float64] = relevant.astype(np.float64).mean(axis=0)
    moved = query.astype(np.float64) + weight * mean
    length = float(np.linalg.norm(moved))
    if length == 0.0:
        return query
    return (moved / length).astype(np.float32)
