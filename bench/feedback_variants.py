"""Pseudo-relevance feedback for the neural configuration (docs/evaluation.md): tuning and held-out sets.

Each dataset is stored in a fresh embedded store with the embedder the settings select
($SOMA_EMBEDDING_PROVIDER, e.g. onnx, and $SOMA_EMBEDDING_MODEL_DIR). Each query's dense leg and lexical leg
are recalled once through the service (POOL candidates each), and the first fused ranking is made as recall
makes it without feedback (the provider's fusion). The variants then search again:

- dense feedback (Rocchio, ``core/feedback.py``): the query vector plus weight x the mean of the vectors of
  the first m memories of the first fused (or dense, or lexical) ranking, normalised, searched again among
  the memories' vectors (exact cosine: the embedded index answers a store of this size exactly), fused with
  the lexical leg;
- lexical feedback (RM3-like): the words of the first m memories of a ranking, each weighted by 1 / the rank
  of its memory and its share of the memory's words, stop words and the query's words left out; the best e
  searched as a third lexical leg of its own weight, or added to the query's words.

The row "runtime" is ``MemoryService.recall`` itself with the settings' feedback (SOMA_RECALL_FEEDBACK_*,
else the provider's default): it equals the Rocchio row of the same depth and weight. Run from the
repository root:

    SOMA_EMBEDDING_PROVIDER=onnx SOMA_EMBEDDING_MODEL_DIR=/models/all-minilm \\
      .venv/bin/python bench/feedback_variants.py --tuning locomo-26.jsonl ... --held-out locomo-42.jsonl ...

It prints one JSON object: per variant, recall@10 and MRR on the tuning set, the held-out set and all.
"""

import itertools
import json
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from eval_store import ID_FIELD, payloads, read_dataset, split_arguments, stored

from somafractalmemory.core.feedback import moved_query
from somafractalmemory.core.fusion import FusionWeights, Ranking, reciprocal_rank_fusion
from somafractalmemory.core.models import ScoredMemory
from somafractalmemory.core.ports import Vectors
from somafractalmemory.core.retrieval_metrics import mean_scores
from somafractalmemory.core.service import MemoryService
from somafractalmemory.core.terms import query_words
from somafractalmemory.core.text import payload_text
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import build_runtime

K = 10
POOL = 50
NAMESPACE = "feedback"
RM3 = (("lexical", 5, 10), ("fused", 5, 3), ("fused", 3, 5), ("fused", 2, 5))  # (source, m, e)

Ranked = list[str]


@dataclass
class Query:
    vector: Vectors
    dense: Ranked
    lexical: Ranked
    runtime: Ranked
    expansions: dict[tuple[str, int, int], tuple[Ranked, Ranked]]  # RM3: (expansion alone, query + it)
    relevant: list[str]


@dataclass
class Conversation:
    ids: list[str]
    matrix: Vectors
    queries: list[Query]

    def nearest(self, vector: Vectors) -> Ranked:
        order = np.argsort(-(self.matrix @ vector), kind="stable")[:POOL]
        return [self.ids[n] for n in order]

    def vectors(self, items: Ranked) -> Vectors:
        row = {item: n for n, item in enumerate(self.ids)}
        return self.matrix[[row[item] for item in items]]


Variant = Callable[[Conversation, Query], Ranked]


def fused(fusion: FusionWeights, legs: Sequence[tuple[Ranked, float]], k: int | None = None) -> Ranked:
    ranked = reciprocal_rank_fusion([(r[:POOL], w) for r, w in legs], fusion.k if k is None else k)
    return [item for item, _ in ranked]


def expansion(texts: dict[str, str], ranking: Ranked, depth: int, words: int, query: list[str]) -> list[str]:
    """The ``words`` best words of the first ``depth`` memories (RM3-like weights), not the query's."""
    weight: Counter[str] = Counter()
    for rank, item in enumerate(ranking[:depth], start=1):
        found = query_words(texts[item])
        for word in found:
            weight[word] += 1.0 / (rank * len(found))
    for word in query:
        weight.pop(word, None)
    return [word for word, _ in weight.most_common(words)]


def recalled(path: Path, settings: Settings, fusion: FusionWeights) -> Conversation:
    dataset = read_dataset(path)
    with stored(dataset, settings, NAMESPACE) as service:
        texts = {m.id: m.text for m in dataset.memories}
        conversation = Conversation(
            [m.id for m in dataset.memories],
            service.embedder.embed([payload_text(p) for p in payloads(dataset)]),
            [],
        )
        for query in dataset.queries:
            conversation.queries.append(_legs(service, conversation, fusion, texts, query.query))
            conversation.queries[-1].relevant = list(query.relevant)
        return conversation


def _legs(
    service: MemoryService,
    conversation: Conversation,
    fusion: FusionWeights,
    texts: dict[str, str],
    query: str,
) -> Query:
    def ids(found: Sequence[ScoredMemory]) -> Ranked:
        return [str(hit.memory.payload[ID_FIELD]) for hit in found]

    def lexical(terms: list[str]) -> Ranked:
        if not terms:
            return []
        return ids(
            service.store.lexical_search(NAMESPACE, terms, memory_type=None, conditions=(), limit=POOL)
        )

    words = query_words(query)
    dense = ids(service.recall(NAMESPACE, query, top_k=POOL, ranking=Ranking.DENSE))
    lex = lexical(words)
    first = fused(fusion, [(dense, fusion.dense), (lex, fusion.lexical)])
    expansions = {}
    for source, depth, count in RM3:
        extra = expansion(texts, first if source == "fused" else lex, depth, count, words)
        expansions[(source, depth, count)] = (lexical(extra), lexical(words + extra))
    return Query(
        vector=service.embedder.embed([query])[0],
        dense=dense,
        lexical=lex,
        runtime=ids(service.recall(NAMESPACE, query, top_k=K)),
        expansions=expansions,
        relevant=[],
    )


def rocchio(
    fusion: FusionWeights,
    depth: int,
    weight: float,
    *,
    source: str = "fused",
    k: int | None = None,
    rounds: int = 1,
    first_dense: float = 0.0,
) -> Variant:
    """Dense feedback from the first ``depth`` memories of ``source``; ``first_dense`` keeps the first
    dense leg as a third leg of that weight (the second then weighs 1 - it)."""

    def variant(conversation: Conversation, query: Query) -> Ranked:
        ranking = fused(fusion, [(query.dense, fusion.dense), (query.lexical, fusion.lexical)])
        for _ in range(rounds):
            chosen = {"fused": ranking, "dense": query.dense, "lexical": query.lexical}[source][:depth]
            if not chosen:
                return ranking
            second = conversation.nearest(moved_query(query.vector, conversation.vectors(chosen), weight))
            legs = [(second, fusion.dense * (1 - first_dense)), (query.lexical, fusion.lexical)]
            if first_dense:
                legs.append((query.dense, fusion.dense * first_dense))
            ranking = fused(fusion, legs, k)
        return ranking

    return variant


def rm3(
    fusion: FusionWeights, key: tuple[str, int, int], leg: float | None, dense_weight: float = 0.0
) -> Variant:
    """Lexical feedback: the expansion as a third leg of weight ``leg``, or (None) added to the query's
    words; with ``dense_weight``, the dense leg fed back as well (Rocchio from the same memories)."""

    def variant(conversation: Conversation, query: Query) -> Ranked:
        alone, joined = query.expansions[key]
        if leg is None:
            return fused(fusion, [(query.dense, fusion.dense), (joined, fusion.lexical)])
        dense = query.dense
        if dense_weight:
            first = fused(fusion, [(query.dense, fusion.dense), (query.lexical, fusion.lexical)])
            chosen = conversation.vectors(first[: key[1]])
            dense = conversation.nearest(moved_query(query.vector, chosen, dense_weight))
        return fused(fusion, [(dense, fusion.dense), (query.lexical, fusion.lexical), (alone, leg)])

    return variant


def variants(fusion: FusionWeights) -> dict[str, Variant]:
    found: dict[str, Variant] = {
        "defaults (no feedback)": lambda _, q: fused(
            fusion, [(q.dense, fusion.dense), (q.lexical, fusion.lexical)]
        ),
        "runtime (recall with the settings' feedback)": lambda _, q: q.runtime,
    }
    for depth, weight in itertools.product((1, 2, 3, 5), (0.25, 0.5, 0.75, 1.0)):
        found[f"rocchio fused m{depth} w{weight}"] = rocchio(fusion, depth, weight)
    found["rocchio fused m2 w0.5, k 5"] = rocchio(fusion, 2, 0.5, k=5)
    found["rocchio fused m2 w0.5, two rounds"] = rocchio(fusion, 2, 0.5, rounds=2)
    found["rocchio fused m2 w0.5, first dense leg kept (0.5 + 0.5)"] = rocchio(
        fusion, 2, 0.5, first_dense=0.5
    )
    found["rocchio dense m2 w0.5"] = rocchio(fusion, 2, 0.5, source="dense")
    found["rocchio lexical m3 w0.5"] = rocchio(fusion, 3, 0.5, source="lexical")
    for key in RM3:
        source, depth, count = key
        found[f"rm3 {source} m{depth} e{count}, third leg 0.5"] = rm3(fusion, key, 0.5)
        found[f"rm3 {source} m{depth} e{count}, added to the query"] = rm3(fusion, key, None)
    found["rocchio fused m2 w0.5 + rm3 fused m2 e5, third leg 0.25"] = rm3(fusion, ("fused", 2, 5), 0.25, 0.5)
    return found


def scored(pairs: list[tuple[Ranked, list[str]]]) -> dict[str, float]:
    scores = mean_scores([(ranked[:K], relevant) for ranked, relevant in pairs], K)
    return {"recall": round(scores.recall, 4), "mrr": round(scores.mrr, 4)}


def main(argv: Sequence[str]) -> int:
    tuning, held_out = split_arguments(__doc__.splitlines()[0], argv)
    settings = Settings()
    with tempfile.TemporaryDirectory(prefix="soma-feedback-") as scratch:
        runtime = build_runtime(settings.model_copy(update={"data_dir": Path(scratch)}))
        fusion, feedback = runtime.service.fusion, runtime.service.feedback
        runtime.close()
    sets = {
        name: [recalled(p, settings, fusion) for p in paths]
        for name, paths in (("tuning", tuning), ("held_out", held_out))
    }
    sets["all"] = sets["tuning"] + sets["held_out"]
    report = {
        name: {
            part: scored([(variant(c, q), q.relevant) for c in conversations for q in c.queries])
            for part, conversations in sets.items()
        }
        for name, variant in variants(fusion).items()
    }
    summary = {"embedder": settings.embedding_provider, "feedback": [feedback.depth, feedback.weight]}
    json.dump({**summary, "variants": report}, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
