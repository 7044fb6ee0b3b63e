"""The C heap's settings for the embedded index (adapters/heap.py): large blocks come from the heap, and
the vector index gives the free pages back after each write and after opening."""

import ctypes
import logging
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from somafractalmemory.adapters import ann_index, heap
from somafractalmemory.core.models import MemoryType, VectorPoint


class Libc:
    """A C library that records its calls and answers ``answer``."""

    def __init__(self, calls: list[tuple[Any, ...]], answer: int = 1) -> None:
        self.calls, self.answer = calls, answer

    def mallopt(self, parameter: int, value: int) -> int:
        self.calls.append(("mallopt", parameter, value))
        return self.answer

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad))
        return self.answer


class Musl:
    """A C library with neither function."""


def library(calls: list[tuple[Any, ...]], functions: bool, answer: int = 1) -> object:
    return Libc(calls, answer) if functions else Musl()


@pytest.mark.parametrize("functions", [True, False])
def test_the_thresholds_are_fixed_where_the_c_library_has_mallopt(
    monkeypatch: pytest.MonkeyPatch, functions: bool
) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(heap, "_libc", lambda: library(calls, functions))
    heap.configure()
    expected = [("mallopt", -3, 32 * 1024 * 1024), ("mallopt", -1, 64 * 1024 * 1024)]
    assert calls == (expected if functions else [])


REFUSALS = [
    f"the C library refused mallopt(-3, {32 * 1024 * 1024})",
    f"the C library refused mallopt(-1, {64 * 1024 * 1024})",
]


@pytest.mark.parametrize(("answer", "logged"), [(0, REFUSALS), (1, [])])
def test_a_refused_setting_is_logged_an_accepted_one_not(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, answer: int, logged: list[str]
) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(heap, "_libc", lambda: library(calls, True, answer=answer))
    with caplog.at_level(logging.WARNING, logger=heap.__name__):
        heap.configure()
    assert len(calls) == 2
    assert caplog.messages == logged


@pytest.mark.parametrize("functions", [True, False])
def test_give_back_trims_every_free_page(monkeypatch: pytest.MonkeyPatch, functions: bool) -> None:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(heap, "_libc", lambda: library(calls, functions))
    heap.give_back()
    assert calls == ([("malloc_trim", 0)] if functions else [])


def test_glibc_accepts_the_settings() -> None:
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "mallopt"):
        pytest.skip("no mallopt in this C library")
    assert libc.mallopt(heap.M_MMAP_THRESHOLD, heap.MMAP_THRESHOLD_BYTES) == 1  # 1: accepted
    assert libc.mallopt(heap.M_TRIM_THRESHOLD, heap.TRIM_THRESHOLD_BYTES) == 1
    heap.give_back()


def test_the_index_gives_back_after_opening_and_every_thousand_points_changed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Not after each write: a trim of a large heap costs as much as a single store."""
    given_back: list[str] = []
    monkeypatch.setattr(heap, "give_back", lambda: given_back.append("free pages"))
    index = ann_index.AnnIndex(tmp_path / "vectors.sqlite", 8, threshold=100)
    assert len(given_back) == 1
    assert ann_index.GIVE_BACK_POINTS == 1_000
    vector = np.ones(8, dtype=np.float32) / np.sqrt(8)

    def points(first: int, count: int) -> list[VectorPoint]:
        return [
            VectorPoint("ns", (float(n),), vector, MemoryType.EPISODIC, {})
            for n in range(first, first + count)
        ]

    index.upsert(points(0, 1))
    index.upsert(points(1, 998))
    assert len(given_back) == 1  # 999 points changed
    index.delete("ns", [(0.0,)])
    assert len(given_back) == 2  # the thousandth: a delete counts too
    index.upsert(points(1_000, 999))
    assert len(given_back) == 2
    index.upsert(points(2_000, 1_001))
    assert len(given_back) == 3  # past the thousand: once, and the count starts again
    index.upsert(points(4_000, 999))
    assert len(given_back) == 3
    index.close()
