"""The garbage collector's pace in a process that builds a memory service (collector.py)."""

import gc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from somafractalmemory import collector
from somafractalmemory.cli.bench_workload import Workload
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import Runtime, build_runtime

PYTHON_PACE = (700, 10, 10)


@pytest.fixture
def python_pace() -> Iterator[None]:
    before = gc.get_threshold()
    gc.set_threshold(*PYTHON_PACE)
    yield
    gc.set_threshold(*before)


def runtime_at(path: Path) -> Runtime:
    return build_runtime(Settings(data_dir=path, namespace="ns"), start_recovery=False)


def collections_during_a_bulk(runtime: Runtime, seed: int) -> int:
    """Collections started while 1,000 memories are stored and indexed."""
    items = Workload(seed).memories(1_000)
    started: list[int] = []

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started.append(info["generation"])

    gc.callbacks.append(count)
    try:
        runtime.service.store_many("ns", items)
        runtime.service.index.settle()
    finally:
        gc.callbacks.remove(count)
        runtime.close()
    return len(started)


def test_building_a_service_sets_the_pace(tmp_path: Path, python_pace: None) -> None:
    gc.set_threshold(700, 3, 4)  # every generation's threshold is set, whatever it was
    runtime_at(tmp_path).close()
    assert gc.get_threshold() == (10_000, 10, 10)
    assert (collector.YOUNG_THRESHOLD, collector.OLDER_RATIO) == (10_000, 10)


def test_a_bulk_write_starts_a_collection_or_two_where_python_s_pace_starts_several(
    tmp_path: Path, python_pace: None
) -> None:
    """11 at Python's pace in a plain test run, 6 under mutmut's runner (it allocates too): the bounds
    hold in both."""
    assert collections_during_a_bulk(runtime_at(tmp_path / "paced"), seed=3) <= 2
    runtime = runtime_at(tmp_path / "python")
    gc.set_threshold(*PYTHON_PACE)  # the same write at Python's own pace: what the change is measured by
    assert collections_during_a_bulk(runtime, seed=4) >= 5
