"""Metadata filter conditions translated into a Qdrant filter that may only ever over-select.

Qdrant's match semantics differ from the core's evaluator on a few points (a match on an array field matches
any element, "is empty" also matches null and []), so only conditions whose Qdrant form selects a superset of
what the core accepts are pushed down: equality, any-of, numeric ranges, "does not exist". Negations are not
pushed down (a ``must_not`` on an array field would drop points the core keeps); the index checks every hit
with the core's evaluator and pages further, so a filtered search still returns top_k when enough match.
"""

import re

from qdrant_client import models

from somafractalmemory.core.filters import RANGE_OPS, Condition, FilterOp, MemoryFilter, Scalar

PAYLOAD_FIELD = "payload"

# Field names Qdrant's key syntax takes verbatim; others are left to the evaluator alone.
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*")


def _equals(key: str, value: Scalar) -> models.Condition:
    if value is None:
        return models.IsNullCondition(is_null=models.PayloadField(key=key))
    if isinstance(value, bool | str):
        return models.FieldCondition(key=key, match=models.MatchValue(value=value))
    # Numbers: a range matches 1 and 1.0 alike, as the evaluator does.
    return models.FieldCondition(key=key, range=models.Range(gte=value, lte=value))


def _range(key: str, op: FilterOp, bound: float) -> models.Condition:
    bounds = {FilterOp.GT: "gt", FilterOp.GTE: "gte", FilterOp.LT: "lt", FilterOp.LTE: "lte"}
    return models.FieldCondition(key=key, range=models.Range(**{bounds[op]: bound}))


def pushed_down(condition: Condition) -> models.Condition | None:
    """The Qdrant condition selecting a superset of what ``condition`` accepts, or None if there is none."""
    if not _PLAIN_KEY.fullmatch(condition.field):
        return None
    key = f"{PAYLOAD_FIELD}.{condition.field}"
    if condition.op is FilterOp.EQ:
        return _equals(key, condition.value)
    if condition.op is FilterOp.IN:
        return models.Filter(should=[_equals(key, option) for option in condition.value])
    if condition.op in RANGE_OPS:
        return _range(key, condition.op, condition.value)
    if condition.op is FilterOp.EXISTS and condition.value is False:
        return models.IsEmptyCondition(is_empty=models.PayloadField(key=key))
    return None


def query_filter(namespace: str, memory_type: str | None, conditions: MemoryFilter) -> models.Filter:
    must: list[models.Condition] = [
        models.FieldCondition(key="namespace", match=models.MatchValue(value=namespace))
    ]
    if memory_type is not None:
        must.append(models.FieldCondition(key="memory_type", match=models.MatchValue(value=memory_type)))
    for condition in conditions:
        translated = pushed_down(condition)
        if translated is not None:
            must.append(translated)
    return models.Filter(must=must)
