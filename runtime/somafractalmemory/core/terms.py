"""The words a query gives the lexical leg of recall.

Two readings of a query:
- ``query_words``: the distinct words (Unicode ``\\w+``, case-folded) but stop words (``core/stop_words.py``,
  kept when the query has nothing else), for recall on free text;
- ``reference_terms``: what the reference service extracts for hybrid recall when the caller names no
  terms: quoted phrases, ``0x`` hex literals and ``[A-Za-z0-9_-]`` words of 4 and more characters, so
  ``item-1791`` stays one term.
"""

import re
from collections.abc import Sequence

from somafractalmemory.core.stop_words import content_words

MAX_TERMS = 64
SCORED_ROWS = 3_000
"""At most about this many texts get a relevance score in one lexical search (BM25 in SQLite costs 1 to 2
µs a text, ``ts_rank`` in PostgreSQL more)."""

WORD = re.compile(r"\w+", re.UNICODE)
QUOTED = re.compile(r'"([^"]*)"')
HEX_LITERAL = re.compile(r"0x[0-9A-Fa-f]+")
REFERENCE_WORD = re.compile(r"[A-Za-z0-9_-]{4,}")


def _distinct(items: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(items))[:MAX_TERMS]


def query_words(query: str) -> list[str]:
    """The query's distinct case-folded words but stop words (all of them when the query has nothing
    else), in order, at most MAX_TERMS."""
    return _distinct(content_words(WORD.findall(query.casefold())))


def reference_terms(query: str) -> list[str]:
    """Quoted phrases first, then hex literals and long words outside the quotes, each once."""
    phrases = [phrase.strip() for phrase in QUOTED.findall(query) if phrase.strip()]
    rest = QUOTED.sub(" ", query)
    return _distinct([*phrases, *HEX_LITERAL.findall(rest), *REFERENCE_WORD.findall(rest)])


def hybrid_terms(query: str, terms: Sequence[str] | None) -> list[str]:
    """The given terms (blank ones dropped), or the reference extraction when none are given."""
    if terms:
        return _distinct([t.strip() for t in terms if isinstance(t, str) and t.strip()])
    return reference_terms(query)


def by_rarity(
    counted: Sequence[tuple[int, str]], scored_rows: int, *, negligible: int | None = None
) -> tuple[list[str], list[str]]:
    """The terms worth a relevance score, and the common ones, from the terms' document frequencies
    (``counted``: each count may stop one past ``scored_rows``).

    - A term in no text is left out.
    - With ``negligible``, a term in that many texts or more is left out when a rarer one is there: the
      engine gives it an inverse document frequency of next to nothing, so it would only order the texts
      that hold nothing else, at the cost of a score for nearly every text.
    - Rare terms are kept rarest first while the texts holding them add up to at most ``scored_rows``
      (the rarest is always kept): the rest are the commonest, with the lowest IDF.
    - The common terms (each in more than ``scored_rows`` texts) are for when no term is rare."""
    present = sorted(((count, term) for count, term in counted if count), key=lambda pair: pair[0])
    informative = [
        (count, term) for count, term in present if negligible is None or count < negligible
    ] or present
    rare: list[str] = []
    held = 0
    for count, term in informative:
        if count > scored_rows or (rare and held + count > scored_rows):
            break
        rare.append(term)
        held += count
    return rare, [term for _, term in informative]
