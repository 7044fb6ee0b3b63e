"""The IVF module keeps glibc's mmap threshold fixed at its default (128 KiB), so the inverted lists faiss
copies on their first add after a load are given back when freed."""

import ctypes

import pytest

from somafractalmemory.adapters import ivf_lists


class Libc:
    def __init__(self, calls: list[tuple[int, int]], has_mallopt: bool) -> None:
        if has_mallopt:
            self.mallopt = lambda parameter, value: calls.append((parameter, value))


@pytest.mark.parametrize("has_mallopt", [True, False])
def test_the_mmap_threshold_is_fixed_where_the_c_library_has_mallopt(
    monkeypatch: pytest.MonkeyPatch, has_mallopt: bool
) -> None:
    calls: list[tuple[int, int]] = []
    monkeypatch.setattr(ctypes, "CDLL", lambda name: Libc(calls, has_mallopt))
    ivf_lists.fix_mmap_threshold()
    assert calls == ([(-3, 131072)] if has_mallopt else [])


def test_glibc_accepts_the_setting() -> None:
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "mallopt"):
        pytest.skip("no mallopt in this C library")
    assert libc.mallopt(ivf_lists.M_MMAP_THRESHOLD, ivf_lists.MMAP_THRESHOLD_BYTES) == 1  # 1: accepted
