"""The text of a payload: what the embedder reads and what keyword search looks in."""

from typing import Any

from somafractalmemory.core.envelope import is_envelope

# Separates values so that a search term never matches across two of them.
VALUE_SEPARATOR = "\n"


def string_values(value: Any) -> list[str]:
    """Every string inside a JSON value, depth first, in document order; an encrypted field's envelope
    holds none (it is never indexed)."""
    found: list[str] = []
    _collect(value, found)
    return found


def _collect(value: Any, found: list[str]) -> None:
    # Appends to one list rather than yielding through nested generators: every write reads its
    # payload's text twice (the store's text indexes, the embedder), and this is a third cheaper.
    if isinstance(value, str):
        found.append(value)
    elif isinstance(value, dict):
        if not is_envelope(value):
            for item in value.values():
                _collect(item, found)
    elif isinstance(value, list):
        for item in value:
            _collect(item, found)


def payload_text(payload: dict[str, Any]) -> str:
    return VALUE_SEPARATOR.join(string_values(payload))
