"""What the recall benches share: an evaluation dataset stored in a fresh embedded store (each memory's
payload its text and its dataset id), and the tuning / held-out datasets of their command line."""

import argparse
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from somafractalmemory.cli.eval_dataset import EvalDataset, parse_dataset
from somafractalmemory.core.service import MemoryService, NewMemory
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import build_runtime

ID_FIELD = "eval_id"
BATCH = 500


def read_dataset(path: Path) -> EvalDataset:
    with path.open(encoding="utf-8") as lines:
        return parse_dataset(lines)


def payloads(dataset: EvalDataset) -> list[dict[str, str]]:
    return [{"text": memory.text, ID_FIELD: memory.id} for memory in dataset.memories]


@contextmanager
def stored(dataset: EvalDataset, settings: Settings, namespace: str) -> Iterator[MemoryService]:
    """A service over a store of its own in a temporary directory, holding the dataset's memories."""
    with tempfile.TemporaryDirectory(prefix="soma-bench-") as scratch:
        runtime = build_runtime(settings.model_copy(update={"data_dir": Path(scratch)}))
        try:
            items = [NewMemory((float(n),), payload) for n, payload in enumerate(payloads(dataset))]
            for start in range(0, len(items), BATCH):
                runtime.service.store_many(namespace, items[start : start + BATCH])
            yield runtime.service
        finally:
            runtime.close()


def split_arguments(description: str, argv: Sequence[str]) -> tuple[list[Path], list[Path]]:
    """The ``--tuning`` and ``--held-out`` datasets given."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--tuning", nargs="+", type=Path, required=True)
    parser.add_argument("--held-out", nargs="+", type=Path, required=True)
    args = parser.parse_args(argv)
    return args.tuning, args.held_out
