"""``soma bench --embedding``: how many memories a second each embedder embeds.

The texts are the bench workload's (a sentence or two each), embedded in batches of the store path's size
after one warm-up batch. The hashing embedder is always measured; the neural provider the settings select
($SOMA_EMBEDDING_PROVIDER, e.g. onnx with $SOMA_EMBEDDING_MODEL_DIR) too, when it is not hashing. The
neural target is stated for all-MiniLM-L6-v2 on 2 cores.
"""

import time
from collections.abc import Sequence

from somafractalmemory.cli.bench import Goal, Metric
from somafractalmemory.cli.bench_workload import Workload
from somafractalmemory.core.ports import Embedder
from somafractalmemory.embedding.hashing import HashingEmbedder
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import build_embedder

BATCH = 500
HASHING_TEXTS = 50_000
NEURAL_TEXTS = 2_000
QUICK_TEXTS = 200
HASHING_TARGET = 20_000.0
NEURAL_TARGET = 100.0
UNIT = "memories/s"


def workload_texts(count: int, seed: int) -> list[str]:
    workload = Workload(seed)
    return [str(workload.memory().payload["text"]) for _ in range(count)]


def throughput(embedder: Embedder, texts: Sequence[str]) -> float:
    """Texts embedded a second, in batches of ``BATCH``, after one warm-up batch."""
    embedder.embed(texts[:BATCH])
    started = time.perf_counter()
    for start in range(0, len(texts), BATCH):
        embedder.embed(texts[start : start + BATCH])
    return len(texts) / (time.perf_counter() - started)


def embedding_metrics(settings: Settings, *, quick: bool, seed: int) -> list[Metric]:
    texts = workload_texts(QUICK_TEXTS if quick else HASHING_TEXTS, seed)
    metrics = [
        Metric(
            "embedding_hashing",
            "embedding throughput, hashing",
            throughput(HashingEmbedder(settings.embedding_dimensions), texts),
            UNIT,
            Goal(">=", HASHING_TARGET, UNIT),
        )
    ]
    if settings.embedding_provider != "hashing":
        neural = texts[: QUICK_TEXTS if quick else NEURAL_TEXTS]
        metrics.append(
            Metric(
                f"embedding_{settings.embedding_provider}",
                f"embedding throughput, {settings.embedding_provider}",
                throughput(build_embedder(settings), neural),
                UNIT,
                Goal(">=", NEURAL_TARGET, UNIT),
            )
        )
    return metrics
