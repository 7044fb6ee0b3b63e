"""``soma eval``: retrieval quality (recall@k, MRR, nDCG@k) of recall on a JSONL dataset.

The dataset's memories are stored (in a fresh temporary data directory, or through a running API in a
namespace of their own), each query is recalled, and the ids of the answers are scored against the
query's relevant ids. The embedder is the one the settings select ($SOMA_EMBEDDING_PROVIDER).
"""

import argparse
import secrets
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from somafractalmemory.cli.errors import CommandFailed, UsageError
from somafractalmemory.cli.eval_dataset import EvalDataset, EvalMemory, parse_dataset
from somafractalmemory.cli.options import (
    Subparsers,
    add_command,
    logging_options,
    positive_int,
    quiet_option,
    settings_from,
    target_options,
)
from somafractalmemory.cli.output import progress, write_json
from somafractalmemory.cli.target import MemoryTarget, RecallQuery, open_target
from somafractalmemory.core.retrieval_metrics import mean_scores
from somafractalmemory.core.service import NewMemory

DEFAULT_K = 10
STORE_BATCH = 500
ID_FIELD = "eval_id"  # the payload field that carries a memory's dataset id


def read_dataset(path: Path) -> EvalDataset:
    try:
        with path.open(encoding="utf-8") as lines:
            return parse_dataset(lines)
    except OSError as error:
        raise UsageError(f"cannot read the dataset: {error}") from None
    except UnicodeDecodeError as error:
        raise UsageError(f"the dataset is not UTF-8 text: {error}") from None


def store_memories(target: MemoryTarget, memories: Sequence[EvalMemory], quiet: bool) -> None:
    with progress(total=len(memories), unit="memory", description="storing", quiet=quiet) as bar:
        for start in range(0, len(memories), STORE_BATCH):
            batch = [
                NewMemory((float(start + offset),), {"text": memory.text, ID_FIELD: memory.id})
                for offset, memory in enumerate(memories[start : start + STORE_BATCH])
            ]
            stored = target.store_many(batch)
            if stored != len(batch):
                raise CommandFailed(f"stored {stored} of a batch of {len(batch)} memories")
            bar.update(len(batch))


def answer_ids(answer: dict[str, Any]) -> list[str]:
    return [str(found["memory"]["payload"].get(ID_FIELD)) for found in answer["results"]]


def evaluate(target: MemoryTarget, dataset: EvalDataset, k: int, hybrid: bool, quiet: bool) -> dict[str, Any]:
    started = time.perf_counter()
    store_memories(target, dataset.memories, quiet)
    stored = time.perf_counter()
    answers = []
    with progress(total=len(dataset.queries), unit="query", description="recalling", quiet=quiet) as bar:
        for query in dataset.queries:
            ranked = answer_ids(target.recall(RecallQuery(query.query, top_k=k, hybrid=hybrid)))
            answers.append((ranked, query.relevant))
            bar.update(1)
    scores = mean_scores(answers, k)
    return {
        "memories": len(dataset.memories),
        "queries": scores.queries,
        "k": k,
        "ranking": "hybrid" if hybrid else "recall",
        f"recall_at_{k}": round(scores.recall, 4),
        "mrr": round(scores.mrr, 4),
        f"ndcg_at_{k}": round(scores.ndcg, 4),
        "store_seconds": round(stored - started, 2),
        "recall_seconds": round(time.perf_counter() - stored, 2),
    }


def run(args: argparse.Namespace) -> int:
    dataset = read_dataset(args.dataset)
    if args.namespace is None:
        args.namespace = f"eval-{secrets.token_hex(4)}"
    with tempfile.TemporaryDirectory(prefix="soma-eval-") as scratch:
        if not args.url:
            args.data_dir = Path(scratch)  # the embedded store starts empty and is gone afterwards
        settings = settings_from(args)
        where: dict[str, Any] = (
            {"target": args.url}
            if args.url
            else {
                "target": "embedded" if settings.embedded else "configured backends",
                "embedder": settings.embedding_provider,
            }
        )
        target = open_target(settings, args.url, args.timeout)
        try:
            result = evaluate(target, dataset, args.k, args.hybrid, args.quiet)
        finally:
            target.close()
    write_json({"dataset": args.dataset.name, **where, "namespace": settings.namespace, **result})
    return 0


def register(subparsers: "Subparsers[argparse.ArgumentParser]") -> None:
    parser = add_command(
        subparsers,
        "eval",
        "Measure recall quality on a JSONL dataset of memories and queries: store the memories, recall each "
        "query, print recall@k, MRR and nDCG@k as JSON. Without --url the memories go into a fresh temporary "
        "data directory; with --url through the API. Either way into a namespace of their own "
        "(default: a new eval-XXXXXXXX).",
        [logging_options(), target_options()],
    )
    parser.add_argument(
        "dataset",
        type=Path,
        metavar="FILE",
        help='JSONL: {"type": "memory", "id", "text"} lines and {"type": "query", "query", "relevant": '
        "[ids]} lines",
    )
    parser.add_argument(
        "-k", type=positive_int, default=DEFAULT_K, help=f"answers scored per query (default: {DEFAULT_K})"
    )
    parser.add_argument("--hybrid", action="store_true", help="rank with hybrid recall instead of recall")
    quiet_option(parser)
    parser.set_defaults(func=run, default_log_level="WARNING")
