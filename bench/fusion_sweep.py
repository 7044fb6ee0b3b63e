"""Sweeps fused recall's weights and RRF k on `soma eval` datasets without re-embedding for each setting.

Each dataset is stored once, in a namespace of its own, with the backends and the embedder the settings
select ($SOMA_EMBEDDING_PROVIDER, ...; a fresh embedded store unless $SOMA_POSTGRES_URL names a
database). Each query's dense and lexical legs are recalled once (the candidates fused recall hands to
fusion), and every setting of the grid fuses them as recall does (``core/fusion.py``), without the
dense feedback of a neural provider (``core/feedback.py``; ``bench/feedback_variants.py`` measures it). The
settings' own weights reproduce ``soma eval``'s numbers when the feedback is off (always for hashing;
SOMA_RECALL_FEEDBACK_DEPTH=0 otherwise). Run from the repository root:

    .venv/bin/python bench/fusion_sweep.py bench/eval/sample.jsonl locomo-26.jsonl ... > sweep.json

It prints one JSON object: per setting ("dense:lexical:k"), recall@10, MRR and nDCG@10 over the queries of
all the datasets given (each dataset in a store of its own), and "dense leg" and "lexical leg" alone.
"""

import argparse
import json
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path

from eval_store import ID_FIELD, read_dataset, stored

from somafractalmemory.cli.eval_dataset import EvalDataset
from somafractalmemory.core.fusion import Ranking, fusion_for, reciprocal_rank_fusion
from somafractalmemory.core.retrieval_metrics import mean_scores
from somafractalmemory.core.service import fusion_pool
from somafractalmemory.settings import Settings

K = 10
DENSE_WEIGHTS = (1.0,)
LEXICAL_WEIGHTS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)
RRF_KS = (10, 20, 40, 60)

Legs = list[tuple[list[str], list[str], list[str]]]  # per query: dense ids, lexical ids, relevant ids


def legs(dataset: EvalDataset) -> Legs:
    """Each query's two legs, as fused recall gets them (``fusion_pool(K)`` candidates each)."""
    namespace = f"sweep-{secrets.token_hex(4)}"  # a shared database: own namespace
    with stored(dataset, Settings(), namespace) as service:
        found: Legs = []
        for query in dataset.queries:
            pool = fusion_pool(K)
            dense, lexical = (
                [
                    str(s.memory.payload[ID_FIELD])
                    for s in service.recall(namespace, query.query, top_k=pool, ranking=r)
                ]
                for r in (Ranking.DENSE, Ranking.LEXICAL)
            )
            found.append((dense, lexical, list(query.relevant)))
        return found


def scored(all_legs: Legs, dense_weight: float, lexical_weight: float, k: int) -> dict[str, float]:
    answers = []
    for dense, lexical, relevant in all_legs:
        fused = reciprocal_rank_fusion([(dense, dense_weight), (lexical, lexical_weight)], k)
        answers.append(([item for item, _ in fused[:K]], relevant))
    scores = mean_scores(answers, K)
    return {"recall": round(scores.recall, 4), "mrr": round(scores.mrr, 4), "ndcg": round(scores.ndcg, 4)}


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+", type=Path)
    args = parser.parse_args(argv)
    all_legs: Legs = []
    for path in args.datasets:
        all_legs += legs(read_dataset(path))
    settings = Settings()
    grid = {
        f"{d:g}:{w:g}:{k}": scored(all_legs, d, w, k)
        for d in DENSE_WEIGHTS
        for w in LEXICAL_WEIGHTS
        for k in RRF_KS
    }
    # Each leg alone, as recall ranks with it (ranking dense or lexical): a weight of 0 would still let
    # the other leg's candidates fill the ten after this leg's own.
    grid["dense leg"] = scored([(dense, [], relevant) for dense, _, relevant in all_legs], 1.0, 0.0, 60)
    grid["lexical leg"] = scored([([], lexical, relevant) for _, lexical, relevant in all_legs], 0.0, 1.0, 60)
    weights = fusion_for(
        settings.embedding_provider,
        settings.recall_dense_weight,
        settings.recall_lexical_weight,
        settings.recall_rrf_k,
    )
    current = f"{weights.dense:g}:{weights.lexical:g}:{weights.k}"
    grid.setdefault(current, scored(all_legs, weights.dense, weights.lexical, weights.k))
    json.dump(
        {
            "embedder": settings.embedding_provider,
            "queries": len(all_legs),
            "settings": current,
            "grid": grid,
        },
        sys.stdout,
        indent=1,
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
