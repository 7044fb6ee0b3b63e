"""Each call into faiss sets its OpenMP thread count in the thread it runs in (adapters/ivf_lists.py,
``threads_for``): a query one thread, a write (training, add, removal) ``WRITE_THREADS``. OpenMP keeps
the count per thread: a count set once at import left the server's request threads, which answer the
queries, with a team as large as the host's cores."""

import os
import subprocess
import sys
import threading
from collections.abc import Callable

import faiss
import numpy as np
import pytest

from somafractalmemory.adapters import ivf_lists
from somafractalmemory.adapters.ivf_lists import IvfLists

DIMENSIONS = 16
POINTS = 400


def vectors(count: int, seed: int) -> np.ndarray:
    found = np.random.default_rng(seed).standard_normal((count, DIMENSIONS)).astype(np.float32)
    normalised: np.ndarray = found / np.linalg.norm(found, axis=1, keepdims=True)
    return normalised


def threads_after(call: Callable[[], object]) -> int:
    """OpenMP's thread count in a new thread that asked for three, after ``call`` ran there."""
    seen: list[int] = []

    def run() -> None:
        faiss.omp_set_num_threads(3)
        call()
        seen.append(faiss.omp_get_max_threads())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return seen[0]


@pytest.fixture(scope="module")
def ivf() -> IvfLists:
    lists = IvfLists.trained(vectors(POINTS, 1), POINTS)
    lists.add(np.arange(POINTS, dtype=np.int64), vectors(POINTS, 2))
    return lists


@pytest.fixture
def write_threads(monkeypatch: pytest.MonkeyPatch) -> int:
    """A write count no host gives by default, so a write that left the count alone shows."""
    monkeypatch.setattr(ivf_lists, "WRITE_THREADS", 5)
    return 5


def test_a_new_thread_starts_with_the_count_it_asked_for() -> None:
    assert threads_after(lambda: None) == 3  # what the calls below change


def test_the_write_count_is_the_default_a_new_thread_gets() -> None:
    seen: list[int] = []
    thread = threading.Thread(target=lambda: seen.append(faiss.omp_get_max_threads()))
    thread.start()
    thread.join()
    assert ivf_lists.WRITE_THREADS == seen[0] >= 1


def test_training_runs_on_the_write_threads(write_threads: int) -> None:
    assert threads_after(lambda: IvfLists.trained(vectors(POINTS, 3), POINTS)) == write_threads


def test_an_add_runs_on_the_write_threads(ivf: IvfLists, write_threads: int) -> None:
    labels = np.arange(POINTS, POINTS + 10, dtype=np.int64)
    assert threads_after(lambda: ivf.add(labels, vectors(10, 4))) == write_threads


def test_a_removal_runs_on_the_write_threads(ivf: IvfLists, write_threads: int) -> None:
    assert threads_after(lambda: ivf.remove(np.array([0, 1], dtype=np.int64))) == write_threads


def test_a_search_runs_on_one_thread(ivf: IvfLists) -> None:
    query = vectors(1, 5)[0]
    assert threads_after(lambda: ivf.search(query, 5)) == 1


@pytest.mark.parametrize(("given", "kept"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_faiss_threads_sleep_when_idle_unless_the_environment_says_otherwise(
    given: str | None, kept: str
) -> None:
    """Set before faiss loads OpenMP (a fresh interpreter: it reads the variable once, at load)."""
    environment = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    if given is not None:
        environment["OMP_WAIT_POLICY"] = given
    shown = subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, somafractalmemory.adapters.ivf_lists; print(os.environ['OMP_WAIT_POLICY'])",
        ],
        env=environment,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert shown.strip() == kept
