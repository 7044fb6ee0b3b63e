"""Cron schedules as the CronJob controller reads them (standard five fields, or a descriptor).

Checked here so that a bad schedule is refused with the MemorySystem's other spec errors, rather than by
the API server when the operator applies the CronJob. The grammar is the controller's parser's
(github.com/robfig/cron ParseStandard): lists of ``*``, ``?``, values and ranges, each with an optional
``/step``; month and weekday names; and the descriptors below. ``@every`` and time zones are not accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DESCRIPTORS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")
# The shape only: five fields or a descriptor. The CRD carries the same pattern; cron_problem does the rest.
CRON_PATTERN = r"^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|\S+(\s+\S+){4})$"

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class _Field:
    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()

    def value(self, text: str) -> int:
        lowered = text.lower()
        if lowered in self.names:
            return self.names.index(lowered) + self.low
        if not text.isdigit():
            raise ValueError(f"{self.name}: {text!r} is not a number")
        number = int(text)
        if not self.low <= number <= self.high:
            raise ValueError(f"{self.name}: {number} is outside {self.low}-{self.high}")
        return number


FIELDS = (
    _Field("minute", 0, 59),
    _Field("hour", 0, 23),
    _Field("day of month", 1, 31),
    _Field("month", 1, 12, _MONTHS),
    _Field("day of week", 0, 6, _WEEKDAYS),
)


def _check_term(field: _Field, term: str) -> None:
    span, slash, step = term.partition("/")
    if slash and not (step.isdigit() and int(step) > 0):
        raise ValueError(f"{field.name}: step {step!r} is not a positive number")
    if span in ("*", "?"):
        return
    low, dash, high = span.partition("-")
    first = field.value(low)
    if dash and field.value(high) < first:
        raise ValueError(f"{field.name}: range {span} runs backwards")


def cron_problem(schedule: str) -> str | None:
    """Why the schedule is not one the CronJob controller runs, or None when it is."""
    if schedule in DESCRIPTORS:
        return None
    if not re.fullmatch(CRON_PATTERN, schedule):
        fields = "minute hour day-of-month month day-of-week"
        return f"expected five fields ({fields}) or one of {', '.join(DESCRIPTORS)}"
    try:
        for field, text in zip(FIELDS, schedule.split(), strict=True):
            for term in text.split(","):
                _check_term(field, term)
    except ValueError as error:
        return str(error)
    return None
