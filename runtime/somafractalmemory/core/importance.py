"""Importance set directly, and outcome feedback: a memory that predicted an outcome is told the outcome
that happened; a mismatch lowers its importance and leaves a corrective semantic memory linked to it."""

import dataclasses
import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from somafractalmemory.core.coordinates import Coordinate
from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.models import JSONDict, Memory

PREDICTED = "predicted_outcome"
REPORTED = "reported_outcome"
CORRECTIVE_LINK = "corrective"
OUTCOME_PENALTY = 0.1  # what a mispredicting memory loses of its importance (which lives in [0, 1])


class MemoryOrder(StrEnum):
    """The orders a namespace's memories can be listed in."""

    RECENT = "recent"  # last written first
    IMPORTANT = "important"  # most important first, then last written


def check_importance(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"importance must be a number from 0 to 1, got {value!r}")
    if not 0.0 <= value <= 1.0:
        raise InvalidInput(f"importance must be a number from 0 to 1, got {value!r}")
    return float(value)


@dataclass(frozen=True, slots=True)
class OutcomeReport:
    """The memory as the report left it, whether it had predicted otherwise, and the corrective memory
    a misprediction stored (None when it predicted right or predicted nothing)."""

    memory: Memory
    mispredicted: bool
    corrective: Memory | None


def mispredicted(payload: JSONDict, outcome: Any) -> bool:
    return PREDICTED in payload and payload[PREDICTED] != outcome


def reported(current: Memory, outcome: Any, now: float) -> Memory:
    """The memory with the outcome recorded in its payload, its importance lowered on a misprediction."""
    importance = current.importance
    if mispredicted(current.payload, outcome):
        importance = max(0.0, round(importance - OUTCOME_PENALTY, 12))
    return dataclasses.replace(
        current, payload={**current.payload, REPORTED: outcome}, importance=importance, updated_at=now
    )


def corrective_payload(coordinate: Coordinate, predicted: Any, outcome: Any) -> JSONDict:
    return {
        "fact": f"prediction mismatch at {list(coordinate)}: expected {predicted!r}, got {outcome!r}",
        "corrective_for": list(coordinate),
        PREDICTED: predicted,
        REPORTED: outcome,
    }
