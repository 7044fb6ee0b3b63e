"""Payload fields as numpy columns, so a metadata filter is evaluated over every row at once.

A filtered recall used to test each candidate's payload in Python (a second at 100k rows when nothing
matched). A column holds, for one (dotted) field, the kind of every row's value and the value itself as
a float64: the number, 0/1 for booleans, or a dictionary code for strings. Every operator of
``core.filters`` is then a few vector comparisons; the result is exactly ``filters.matches``: the only
rows still checked in Python are integers beyond 2**53, where a float64 is not exact.

Columns are built on the first filter that names a field, kept in step on every write, and at most
MAX_COLUMNS of them are kept (the least recently used is dropped and rebuilt when needed again).
"""

import json
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from somafractalmemory.core.filters import ABSENT, Condition, FilterOp, condition_holds, field_value

MAX_COLUMNS = 8
EXACT_INTEGER = 2**53

MISSING, NULL, BOOLEAN, NUMBER, STRING, OTHER, BIG_INTEGER = range(7)

Mask = np.ndarray[Any, np.dtype[np.bool_]]


class _Column:
    def __init__(self, field: str, capacity: int) -> None:
        self.field = field
        self.kinds = np.zeros(capacity, dtype=np.int8)
        self.values = np.zeros(capacity, dtype=np.float64)
        self.codes: dict[str, int] = {}

    def set(self, row: int, payload: Mapping[str, Any]) -> None:
        value = field_value(payload, self.field)
        kind, number = OTHER, 0.0  # an object or an array never equals a scalar, nor compares with one
        if value is ABSENT:
            kind = MISSING
        elif value is None:
            kind = NULL
        elif isinstance(value, bool):
            kind, number = BOOLEAN, float(value)
        elif isinstance(value, int):
            kind, number = (NUMBER, float(value)) if abs(value) <= EXACT_INTEGER else (BIG_INTEGER, 0.0)
        elif isinstance(value, float):
            kind, number = NUMBER, value
        elif isinstance(value, str):
            kind, number = STRING, float(self.codes.setdefault(value, len(self.codes)))
        self.kinds[row] = kind
        self.values[row] = number

    def move(self, target: int, source: int) -> None:
        self.kinds[target] = self.kinds[source]
        self.values[target] = self.values[source]

    def grow(self, capacity: int, used: int) -> None:
        for name in ("kinds", "values"):
            old = getattr(self, name)
            grown = np.zeros(capacity, dtype=old.dtype)
            grown[:used] = old[:used]
            setattr(self, name, grown)

    def equal(self, bound: object, size: int) -> tuple[Mask, Mask]:
        """Rows whose value is the scalar ``bound`` (as ``filters._same`` decides), and rows still unsure."""
        kinds, values = self.kinds[:size], self.values[:size]
        uncertain = kinds == BIG_INTEGER
        if bound is None:
            return kinds == NULL, uncertain
        if isinstance(bound, bool):
            return (kinds == BOOLEAN) & (values == float(bound)), uncertain
        if isinstance(bound, int | float):
            numbers = kinds == NUMBER
            if isinstance(bound, int) and abs(bound) > EXACT_INTEGER:
                uncertain = uncertain | (numbers & (values == float(bound)))
            return numbers & (values == float(bound)), uncertain
        code = self.codes.get(bound) if isinstance(bound, str) else None
        if code is None:
            return np.zeros(size, dtype=np.bool_), uncertain
        return (kinds == STRING) & (values == code), uncertain

    def compare(self, op: FilterOp, bound: float, size: int) -> tuple[Mask, Mask]:
        kinds, values = self.kinds[:size], self.values[:size]
        numbers = kinds == NUMBER
        uncertain = kinds == BIG_INTEGER
        if isinstance(bound, int) and abs(bound) > EXACT_INTEGER:
            uncertain = uncertain | (numbers & (values == float(bound)))
        limit = float(bound)
        if op is FilterOp.GT:
            held = values > limit
        elif op is FilterOp.GTE:
            held = values >= limit
        elif op is FilterOp.LT:
            held = values < limit
        else:
            held = values <= limit
        return numbers & held, uncertain


class PayloadColumns:
    """The filter columns of one shard, sized like its other per-row arrays."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._columns: OrderedDict[str, _Column] = OrderedDict()

    def put(self, row: int, payload: Mapping[str, Any]) -> None:
        for column in self._columns.values():
            column.set(row, payload)

    def move(self, target: int, source: int) -> None:
        for column in self._columns.values():
            column.move(target, source)

    def grow(self, capacity: int, used: int) -> None:
        self._capacity = capacity
        for column in self._columns.values():
            column.grow(capacity, used)

    def _column(self, field: str, payloads: Sequence[str]) -> _Column:
        column = self._columns.get(field)
        if column is not None:
            self._columns.move_to_end(field)
            return column
        column = _Column(field, self._capacity)
        for row, payload in enumerate(payloads):
            column.set(row, json.loads(payload))
        self._columns[field] = column
        if len(self._columns) > MAX_COLUMNS:
            self._columns.popitem(last=False)
        return column

    def mask(self, conditions: Sequence[Condition], payloads: Sequence[str]) -> Mask:
        """The rows whose payload (JSON text) passes every condition: ``filters.matches`` for all
        rows at once."""
        size = len(payloads)
        passed = np.ones(size, dtype=np.bool_)
        for condition in conditions:
            held, uncertain = self._holds(self._column(condition.field, payloads), condition, size)
            for row in np.flatnonzero(uncertain).tolist():
                held[row] = condition_holds(json.loads(payloads[row]), condition)
            passed &= held
        return passed

    @staticmethod
    def _holds(column: _Column, condition: Condition, size: int) -> tuple[Mask, Mask]:
        op = condition.op
        if op is FilterOp.EXISTS:
            present = column.kinds[:size] != MISSING
            return (present if condition.value else ~present), np.zeros(size, dtype=np.bool_)
        if op in (FilterOp.EQ, FilterOp.NE):
            held, uncertain = column.equal(condition.value, size)
        elif op in (FilterOp.IN, FilterOp.NIN):
            held = np.zeros(size, dtype=np.bool_)
            uncertain = np.zeros(size, dtype=np.bool_)
            for option in condition.value:
                one, unsure = column.equal(option, size)
                held |= one
                uncertain |= unsure
        else:
            return column.compare(op, condition.value, size)
        if op in (FilterOp.NE, FilterOp.NIN):
            held = ~held  # an absent field passes $ne and $nin, as in filters.condition_holds
        return held, uncertain
