"""What a JSON value must be to be stored and served back: the checks every way in (store, bulk, import,
the CLI) runs, so nothing is written that a later read cannot serialise."""

import math
import re
from collections.abc import Iterable
from typing import Any

from somafractalmemory.core.errors import InvalidInput

# Objects and arrays nest at most this deep (the payload object itself is level 1). Well inside what
# every serialiser on the way out handles: pydantic stops at 255 levels, Python's json near 1,000.
MAX_PAYLOAD_DEPTH = 64
# Text that holds something besides ASCII whitespace. Spelled out rather than \S, on which Python, the
# Rust regex pydantic uses and ECMAScript (the OpenAPI document's) each differ.
NON_BLANK_PATTERN = r"[^ \t\n\r\f\v]"
_NON_BLANK = re.compile(NON_BLANK_PATTERN)


def is_blank(text: str) -> bool:
    return _NON_BLANK.search(text) is None


def is_unicode(text: str) -> bool:
    """False for a string holding a lone surrogate (JSON's ``"\\ud800"``), which UTF-8 cannot encode."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_text(text: str, what: str) -> str:
    if not is_unicode(text):
        raise InvalidInput(f"{what} holds a lone UTF-16 surrogate (e.g. \\ud800), which is not text")
    # Refused on every backend alike: PostgreSQL's text and jsonb cannot hold it, SQLite could.
    if "\x00" in text:
        raise InvalidInput(f"{what} holds a NUL character (\\u0000), which no text field may hold")
    return text


def _check(value: object, where: str, depth: int) -> None:
    if isinstance(value, str):
        check_text(value, where)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidInput(f"{where} is not a finite number (JSON has no NaN or Infinity)")
    elif isinstance(value, dict | list):
        if depth > MAX_PAYLOAD_DEPTH:
            raise InvalidInput(f"{where} nests objects and arrays deeper than {MAX_PAYLOAD_DEPTH} levels")
        if isinstance(value, list):
            for position, item in enumerate(value):
                _check(item, f"{where}[{position}]", depth + 1)
            return
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidInput(f"{where} has a key that is not a string: {key!r}")
            check_text(key, f"a key of {where}")
            _check(item, f"{where}.{key}", depth + 1)
    elif value is not None and not isinstance(value, int):  # bool is an int
        raise InvalidInput(f"{where} is not a JSON value: {type(value).__name__}")


def _plain(value: Any, depth: int) -> bool:
    """True only for a value (not text or a number) that ``_check`` passes at ``depth``, without naming
    each place as ``_check`` does (a string a value, most of its cost). Every store checks its payload,
    nearly always a good one; only one this answers False for is walked by ``_check``, for the message.
    False also for what it need not decide: a subclass of a JSON type, a key that is not text."""
    if depth > MAX_PAYLOAD_DEPTH:
        return False
    kind = type(value)
    if kind is dict:
        keys = list(value)
        return (
            all(type(key) is str for key in keys)
            and _all_plain(keys, depth)
            and _all_plain(value.values(), depth + 1)
        )
    return kind is list and _all_plain(value, depth + 1)


def _all_plain(values: Iterable[Any], depth: int) -> bool:
    """``_plain`` for each of ``values``, found at ``depth``: text and numbers checked here, without a
    call each."""
    for value in values:
        kind = type(value)
        if kind is str:
            if (not value.isascii() and not is_unicode(value)) or "\x00" in value:
                return False
        elif kind is float:
            if not math.isfinite(value):
                return False
        elif not (kind is int or kind is bool or value is None) and not _plain(value, depth):
            return False
    return True


def check_json_object(value: object, what: str) -> dict[str, Any]:
    """A JSON object of at most ``MAX_PAYLOAD_DEPTH`` levels holding only text and finite numbers."""
    if not isinstance(value, dict):
        raise InvalidInput(f"{what} must be a JSON object")
    if not _plain(value, 1):
        _check(value, what, 1)
    return value


def check_payload(payload: object) -> dict[str, Any]:
    return check_json_object(payload, "payload")
