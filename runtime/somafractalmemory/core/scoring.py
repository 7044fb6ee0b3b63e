"""Keyword search's matching rule: a term equals a string value of the payload, or is contained in one."""

from somafractalmemory.core.models import Memory
from somafractalmemory.core.text import string_values


def term_matches(memory: Memory, term: str, *, exact: bool, case_sensitive: bool) -> bool:
    """Keyword semantics: exact means a string value equals the term, otherwise some string value
    contains it."""
    needle = term if case_sensitive else term.casefold()
    for value in string_values(memory.payload):
        hay = value if case_sensitive else value.casefold()
        if (hay == needle) if exact else (needle in hay):
            return True
    return False
