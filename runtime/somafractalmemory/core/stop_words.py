"""English function words: what a text says, not what it is about.

Recall leaves them out of the lexical leg's query words and out of the hashing embedder's features (a
text of nothing else keeps them). They are in a large share of texts, so BM25 gives them a small IDF,
but not none: summed over several of them (what, did, you, the ...) they rank texts that share a
question's phrasing above those that share its subject. In the hashing embedder, which has no IDF at
all, they otherwise weigh as much as the words that carry the meaning. The list holds pronouns,
determiners, auxiliaries, prepositions, conjunctions, question words and the pieces contractions
leave once split at the apostrophe (``didn't`` is ``didn`` and ``t``). Measured with ``soma eval`` on
LoCoMo (docs/evaluation.md).
"""

STOP_WORD_LIST = """
a about above after again against all am an and any are aren as at be because been before being below
between both but by can could couldn d did didn do does doesn doing don down during each few for from
further had hadn has hasn have haven having he her here hers herself him himself his how i if in into is
isn it its itself just ll m me more most my myself no nor not now of off on once only or other our ours
ourselves out over own re s same she should shouldn so some such t than that the their theirs them
themselves then there these they this those through to too under until up ve very was wasn we were weren
what when where which while who whom why will with won would wouldn you your yours yourself yourselves
"""
STOP_WORDS = frozenset(STOP_WORD_LIST.split())


def content_words(words: list[str]) -> list[str]:
    """The words that are not stop words (case-folded words expected), or all of them when none is."""
    return [word for word in words if word not in STOP_WORDS] or words
