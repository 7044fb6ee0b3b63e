"""The text of a payload: what the embedder reads and what keyword search looks in."""

from collections.abc import Iterator
from typing import Any

from somafractalmemory.core.envelope import is_envelope

# Separates values so that a search term never matches across two of them.
VALUE_SEPARATOR = "\n"


def string_values(value: Any) -> Iterator[str]:
    """Every string inside a JSON value, depth first, in document order; an encrypted field's envelope
    holds none (it is never indexed)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict) and not is_envelope(value):
        for item in value.values():
            yield from string_values(item)
    elif isinstance(value, list):
        for item in value:
            yield from string_values(item)


def payload_text(payload: dict[str, Any]) -> str:
    return VALUE_SEPARATOR.join(string_values(payload))
