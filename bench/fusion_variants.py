"""The fusion variants tried for the neural configuration (docs/evaluation.md): tuning and held-out sets.

Each dataset is stored twice, in fresh embedded stores: with the embedder the settings select
($SOMA_EMBEDDING_PROVIDER, e.g. onnx and $SOMA_EMBEDDING_MODEL_DIR) and with the hashing embedder. Each
query's legs are recalled once, POOL candidates each: the selected embedder's dense leg, the hashing dense
leg, and the lexical leg searching the query's words but stop words (as recall does), the reference's
terms (as hybrid recall extracts them), and those terms without stop words. Every variant then fuses them
as ``core/fusion.py`` does, without the neural providers' dense feedback (``core/feedback.py``, measured by
``bench/feedback_variants.py``). Run from the repository root:

    SOMA_EMBEDDING_PROVIDER=onnx SOMA_EMBEDDING_MODEL_DIR=/models/all-minilm \\
      .venv/bin/python bench/fusion_variants.py --tuning locomo-26.jsonl ... --held-out locomo-42.jsonl ...

It prints one JSON object: per variant, recall@10 and MRR on the tuning set, the held-out set and both.
"""

import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from eval_store import ID_FIELD, read_dataset, split_arguments, stored

from somafractalmemory.core.fusion import Ranking, reciprocal_rank_fusion
from somafractalmemory.core.models import ScoredMemory
from somafractalmemory.core.retrieval_metrics import mean_scores
from somafractalmemory.core.stop_words import content_words
from somafractalmemory.core.terms import query_words, reference_terms
from somafractalmemory.settings import Settings

K = 10
POOL = 100
NAMESPACE = "variants"

Legs = dict[str, list[tuple[str, float]]]  # per query: leg -> (id, score), best first; "relevant" -> ids
Fuse = Callable[[Legs], list[str]]


def recalled(path: Path, settings: Settings, neural: bool) -> list[Legs]:
    """Each query's legs from one store of the dataset: the dense leg as "dense" (neural) or "hashing",
    and, from the neural store, the lexical legs."""
    dataset = read_dataset(path)
    with stored(dataset, settings, NAMESPACE) as service:

        def ids(found: Sequence[ScoredMemory]) -> list[tuple[str, float]]:
            return [(str(hit.memory.payload[ID_FIELD]), hit.score) for hit in found]

        def lexical(terms: list[str]) -> list[tuple[str, float]]:
            if not terms:
                return []
            return ids(
                service.store.lexical_search(NAMESPACE, terms, memory_type=None, conditions=(), limit=POOL)
            )

        legs: list[Legs] = []
        for query in dataset.queries:
            dense = ids(service.recall(NAMESPACE, query.query, top_k=POOL, ranking=Ranking.DENSE))
            if not neural:
                legs.append({"hashing": dense})
                continue
            reference = reference_terms(query.query)
            legs.append(
                {
                    "dense": dense,
                    "words": lexical(query_words(query.query)),
                    "reference": lexical(reference),
                    "reference_content": lexical(
                        list(dict.fromkeys(content_words([t.casefold() for t in reference])))
                    ),
                    "relevant": [(relevant, 1.0) for relevant in query.relevant],
                }
            )
        return legs


def rrf(spec: Sequence[tuple[str, float, int]], k: int) -> Fuse:
    """Reciprocal rank fusion of the legs named, each (name, weight, candidates)."""
    return lambda legs: [
        item for item, _ in reciprocal_rank_fusion([([i for i, _ in legs[n][:c]], w) for n, w, c in spec], k)
    ]


def adaptive(scale: float, k: int) -> Fuse:
    """RRF with the lexical weight ``scale`` x the best BM25 score / 10, within 0.3 to 3."""

    def fuse(legs: Legs) -> list[str]:
        words = legs["words"]
        weight = min(3.0, max(0.3, scale * words[0][1] / 10)) if words else 1.0
        return rrf([("dense", 1, 50), ("words", weight, 50)], k)(legs)

    return fuse


def convex(alpha: float) -> Fuse:
    """Scores, not ranks: alpha x cosine + (1 - alpha) x BM25 / the best BM25."""

    def fuse(legs: Legs) -> list[str]:
        top = legs["words"][0][1] if legs["words"] else 1.0
        score: dict[str, float] = {}
        for item, cosine in legs["dense"][:50]:
            score[item] = score.get(item, 0.0) + alpha * cosine
        for item, bm25 in legs["words"][:50]:
            score[item] = score.get(item, 0.0) + (1 - alpha) * bm25 / top
        return sorted(score, key=lambda item: -score[item])

    return fuse


VARIANTS: dict[str, Fuse] = {
    "defaults 1:1 k10": rrf([("dense", 1, 50), ("words", 1, 50)], 10),
    "three legs, hashing 0.25, k10": rrf([("dense", 1, 50), ("words", 1, 50), ("hashing", 0.25, 50)], 10),
    "three legs, hashing 0.5, lexical 1.5, k10": rrf(
        [("dense", 1, 50), ("words", 1.5, 50), ("hashing", 0.5, 50)], 10
    ),
    "three legs, hashing 1, lexical 2, k20": rrf(
        [("dense", 1, 50), ("words", 2, 50), ("hashing", 1, 50)], 20
    ),
    "reference terms, k10": rrf([("dense", 1, 50), ("reference", 1, 50)], 10),
    "reference terms without stop words, k10": rrf([("dense", 1, 50), ("reference_content", 1, 50)], 10),
    "30 dense, 50 lexical, k10": rrf([("dense", 1, 30), ("words", 1, 50)], 10),
    "100 a leg, k8": rrf([("dense", 1, 100), ("words", 1, 100)], 8),
    "lexical weight 1.5 x top BM25 / 10, k10": adaptive(1.5, 10),
    "0.5 cosine + 0.5 BM25 / top": convex(0.5),
}


def scored(legs: list[Legs], fuse: Fuse) -> dict[str, float]:
    scores = mean_scores([(fuse(query)[:K], [i for i, _ in query["relevant"]]) for query in legs], K)
    return {"recall": round(scores.recall, 4), "mrr": round(scores.mrr, 4)}


def main(argv: Sequence[str]) -> int:
    tuning, held_out = split_arguments(__doc__.splitlines()[0], argv)
    settings = Settings()
    hashing = settings.model_copy(update={"embedding_provider": "hashing"})
    sets: dict[str, list[Legs]] = {"tuning": [], "held_out": []}
    for name, paths in (("tuning", tuning), ("held_out", held_out)):
        for path in paths:
            for neural, hashed in zip(
                recalled(path, settings, True), recalled(path, hashing, False), strict=True
            ):
                sets[name].append({**neural, **hashed})
    sets["all"] = sets["tuning"] + sets["held_out"]
    report = {
        variant: {name: scored(legs, fuse) for name, legs in sets.items()}
        for variant, fuse in VARIANTS.items()
    }
    json.dump({"embedder": settings.embedding_provider, "variants": report}, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
