"""Decay: what age does to a memory. Field-level forgetting drops listed payload keys once a memory is
old enough (each rule an age and the keys it drops; the rules add up, so an older memory loses the keys
of every rule its age has reached); forgetting deletes a memory that is old enough and less important
than a floor. Pure rules: given a memory and ``now``, what changes."""

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from somafractalmemory.core.models import JSONDict, Memory

DECAY_RULES_VARIABLE = "SOMA_DECAY_RULES"
DECAY_RULES_EXAMPLE = '[{"after_seconds": 86400, "drop": ["scratch"]}]'
DEFAULT_FORGET_AFTER_SECONDS = 86_400.0


@dataclass(frozen=True, slots=True)
class DecayRule:
    """From ``after_seconds`` of age (created_at to now) on, the payload keys ``drop`` are dropped."""

    after_seconds: float
    drop: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Forgetting:
    """Memories at least ``after_seconds`` old whose importance is below ``below_importance`` go."""

    below_importance: float
    after_seconds: float = DEFAULT_FORGET_AFTER_SECONDS


def age(memory: Memory, now: float) -> float:
    return now - memory.created_at


def _rule(position: int, raw: Any) -> DecayRule:
    where = f"{DECAY_RULES_VARIABLE}[{position}]"
    if not isinstance(raw, dict) or set(raw) != {"after_seconds", "drop"}:
        raise ValueError(f'{where} must be an object with exactly "after_seconds" and "drop", got {raw!r}')
    after, drop = raw["after_seconds"], raw["drop"]
    if isinstance(after, bool) or not isinstance(after, int | float) or not math.isfinite(after) or after < 0:
        raise ValueError(f"{where}.after_seconds must be a number of seconds of at least 0, got {after!r}")
    if not isinstance(drop, list) or not drop or not all(isinstance(k, str) and k for k in drop):
        raise ValueError(f"{where}.drop must be a non-empty list of payload keys, got {drop!r}")
    return DecayRule(float(after), tuple(drop))


def parse_decay_rules(raw: Any) -> tuple[DecayRule, ...]:
    """The rules from the JSON text of SOMA_DECAY_RULES (or its parsed list); empty text is no rule. A
    ValueError names the variable and what is wrong."""
    if isinstance(raw, str):
        if not raw.strip():
            return ()
        try:
            raw = json.loads(raw)
        except ValueError as error:
            raise ValueError(
                f"{DECAY_RULES_VARIABLE} is not valid JSON ({error}); expected e.g. {DECAY_RULES_EXAMPLE}"
            ) from None
    if isinstance(raw, tuple) and all(isinstance(rule, DecayRule) for rule in raw):
        return raw
    if not isinstance(raw, list):
        raise ValueError(f"{DECAY_RULES_VARIABLE} must be a JSON list like {DECAY_RULES_EXAMPLE}")
    return tuple(_rule(position, rule) for position, rule in enumerate(raw))


def keys_to_drop(memory: Memory, rules: Sequence[DecayRule], now: float) -> list[str]:
    """The keys the memory holds that the rules its age has reached drop (age == after_seconds counts),
    in payload order; [] when there is nothing to drop (a key already dropped is not dropped again)."""
    reached = {key for rule in rules if age(memory, now) >= rule.after_seconds for key in rule.drop}
    return [key for key in memory.payload if key in reached]


def decayed_payload(memory: Memory, rules: Sequence[DecayRule], now: float) -> JSONDict | None:
    """The payload without the keys to drop; None when it keeps every key."""
    dropped = keys_to_drop(memory, rules, now)
    if not dropped:
        return None
    return {key: value for key, value in memory.payload.items() if key not in dropped}


def forgettable(memory: Memory, forgetting: Forgetting | None, now: float) -> bool:
    """At least ``after_seconds`` old (age == after_seconds counts) and strictly below the floor."""
    if forgetting is None:
        return False
    return age(memory, now) >= forgetting.after_seconds and memory.importance < forgetting.below_importance
