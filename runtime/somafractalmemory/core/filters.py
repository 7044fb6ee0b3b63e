"""Metadata filters on payload fields, parsed once and evaluated by the index that runs the query.

Wire form: ``{"field": value}`` (equality), ``{"field": [a, b]}`` (any of), or operators
``{"field": {"$gt": 1, "$lte": 5}}`` with ``$eq $ne $in $nin $gt $gte $lt $lte $exists``.
Dotted names reach into nested objects (``"meta.source"``).
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.payloads import check_text


class FilterOp(StrEnum):
    EQ = "$eq"
    NE = "$ne"
    IN = "$in"
    NIN = "$nin"
    GT = "$gt"
    GTE = "$gte"
    LT = "$lt"
    LTE = "$lte"
    EXISTS = "$exists"


RANGE_OPS = frozenset({FilterOp.GT, FilterOp.GTE, FilterOp.LT, FilterOp.LTE})
Scalar = str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Condition:
    field: str
    op: FilterOp
    value: Any


MemoryFilter = tuple[Condition, ...]

ABSENT = object()  # what field_value answers for a field the payload does not have


def _check_scalar(field: str, value: object) -> None:
    if not isinstance(value, str | int | float | bool) and value is not None:
        raise InvalidInput(f"filter on {field!r} compares with a string, number, boolean or null")
    if isinstance(value, str):
        check_text(value, f"the filter on {field!r}")


def _parse_operator(field: str, name: str, value: object) -> Condition:
    try:
        op = FilterOp(name)
    except ValueError:
        known = ", ".join(op.value for op in FilterOp)
        raise InvalidInput(f"unknown filter operator {name!r} on {field!r}; use one of {known}") from None
    if op in (FilterOp.IN, FilterOp.NIN):
        if not isinstance(value, list):
            raise InvalidInput(f"{name} on {field!r} takes an array")
        for item in value:
            _check_scalar(field, item)
        return Condition(field, op, tuple(value))
    if op is FilterOp.EXISTS:
        if not isinstance(value, bool):
            raise InvalidInput(f"$exists on {field!r} takes true or false")
        return Condition(field, op, value)
    if op in RANGE_OPS and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise InvalidInput(f"{name} on {field!r} takes a number")
    _check_scalar(field, value)
    return Condition(field, op, value)


def parse_filters(raw: Mapping[str, Any] | None) -> MemoryFilter:
    if not raw:
        return ()
    if not isinstance(raw, Mapping):
        raise InvalidInput("filters must be a JSON object of field: value")
    conditions: list[Condition] = []
    for field, spec in raw.items():
        if not isinstance(field, str) or not field:
            raise InvalidInput("filter field names must be non-empty strings")
        check_text(field, "a filter field name")
        if isinstance(spec, Mapping):
            if not spec:
                raise InvalidInput(f"filter on {field!r} has no operator")
            conditions.extend(_parse_operator(field, name, value) for name, value in spec.items())
        elif isinstance(spec, list):
            for item in spec:
                _check_scalar(field, item)
            conditions.append(Condition(field, FilterOp.IN, tuple(spec)))
        else:
            _check_scalar(field, spec)
            conditions.append(Condition(field, FilterOp.EQ, spec))
    return tuple(conditions)


def field_value(payload: Mapping[str, Any], dotted: str) -> Any:
    value: Any = payload
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return ABSENT
        value = value[part]
    return value


def _same(left: Any, right: Any) -> bool:
    # True == 1 in Python; a filter for true must not match the number 1.
    return bool(left == right and isinstance(left, bool) == isinstance(right, bool))


def _compare(value: Any, op: FilterOp, bound: float) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if op is FilterOp.GT:
        return value > bound
    if op is FilterOp.GTE:
        return value >= bound
    if op is FilterOp.LT:
        return value < bound
    return value <= bound


def condition_holds(payload: Mapping[str, Any], condition: Condition) -> bool:
    value = field_value(payload, condition.field)
    op = condition.op
    if op is FilterOp.EXISTS:
        return (value is not ABSENT) is condition.value
    if value is ABSENT:
        return op in (FilterOp.NE, FilterOp.NIN)
    if op is FilterOp.EQ:
        return _same(value, condition.value)
    if op is FilterOp.NE:
        return not _same(value, condition.value)
    if op is FilterOp.IN:
        return any(_same(value, option) for option in condition.value)
    if op is FilterOp.NIN:
        return not any(_same(value, option) for option in condition.value)
    return _compare(value, op, condition.value)


def matches(payload: Mapping[str, Any], conditions: MemoryFilter) -> bool:
    return all(condition_holds(payload, condition) for condition in conditions)
