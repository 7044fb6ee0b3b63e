"""How hybrid recall scores: cosine similarity plus a boost for the share of terms a memory matches."""

import re
from collections.abc import Sequence

from somafractalmemory.core.models import Memory
from somafractalmemory.core.text import string_values

WORD = re.compile(r"\w+", re.UNICODE)


def search_terms(query: str, terms: Sequence[str] | None) -> list[str]:
    """The given terms (blank ones dropped), or the query's distinct words when none are given."""
    chosen = [t for t in terms if isinstance(t, str) and t.strip()] if terms else WORD.findall(query)
    return list(dict.fromkeys(chosen))


def term_matches(memory: Memory, term: str, *, exact: bool, case_sensitive: bool) -> bool:
    """Keyword semantics shared with keyword search: exact means a string value equals the term,
    otherwise some string value contains it."""
    needle = term if case_sensitive else term.casefold()
    for value in string_values(memory.payload):
        hay = value if case_sensitive else value.casefold()
        if (hay == needle) if exact else (needle in hay):
            return True
    return False


def term_share(memory: Memory, terms: Sequence[str], *, exact: bool, case_sensitive: bool) -> float:
    if not terms:
        return 0.0
    hits = sum(term_matches(memory, t, exact=exact, case_sensitive=case_sensitive) for t in terms)
    return hits / len(terms)
