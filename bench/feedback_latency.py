"""Fused recall's latency with and without dense pseudo-relevance feedback (docs/retrieval.md).

Stores the memories of the datasets given (``soma eval``'s JSONL) in one fresh embedded store with the
embedder the settings select, then recalls every question of them (top 10, fused) with feedback off and on,
taking turns question by question so both see the same load. Run from the repository root:

    SOMA_EMBEDDING_PROVIDER=onnx SOMA_EMBEDDING_MODEL_DIR=/models/all-minilm \\
      .venv/bin/python bench/feedback_latency.py locomo-26.jsonl locomo-30.jsonl ...

It prints one JSON object: the memories, the questions, the feedback measured (the settings', else depth 2
and weight 0.5) and the p50 / p95 in milliseconds of each.
"""

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from somafractalmemory.cli.eval_dataset import parse_dataset
from somafractalmemory.core.feedback import NO_FEEDBACK, Feedback
from somafractalmemory.core.service import NewMemory
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import build_runtime

NAMESPACE = "latency"
K = 10
FALLBACK = Feedback(depth=2, weight=0.5)


def percentiles(samples: list[float]) -> dict[str, float]:
    cuts = statistics.quantiles(samples, n=20, method="inclusive")
    return {"p50_ms": round(statistics.median(samples) * 1000, 1), "p95_ms": round(cuts[18] * 1000, 1)}


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("datasets", nargs="+", type=Path)
    args = parser.parse_args(argv)
    settings = Settings()
    memories, questions = [], []
    for path in args.datasets:
        with path.open(encoding="utf-8") as lines:
            dataset = parse_dataset(lines)
        memories += [{"text": m.text} for m in dataset.memories]
        questions += [q.query for q in dataset.queries]
    with tempfile.TemporaryDirectory(prefix="soma-latency-") as scratch:
        runtime = build_runtime(settings.model_copy(update={"data_dir": Path(scratch)}))
        try:
            service = runtime.service
            feedback = service.feedback if service.feedback.enabled else FALLBACK
            items = [NewMemory((float(n),), payload) for n, payload in enumerate(memories)]
            for start in range(0, len(items), 500):
                service.store_many(NAMESPACE, items[start : start + 500])
            timings: dict[str, list[float]] = {"off": [], "on": []}
            service.recall(NAMESPACE, questions[0], top_k=K)  # warm the model and the store
            for question in questions:
                for name, chosen in (("off", NO_FEEDBACK), ("on", feedback)):
                    service.feedback = chosen
                    started = time.perf_counter()
                    service.recall(NAMESPACE, question, top_k=K)
                    timings[name].append(time.perf_counter() - started)
        finally:
            runtime.close()
    report = {
        "embedder": settings.embedding_provider,
        "memories": len(memories),
        "questions": len(questions),
        "feedback": {"depth": feedback.depth, "weight": feedback.weight},
        "without": percentiles(timings["off"]),
        "with": percentiles(timings["on"]),
    }
    json.dump(report, sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
