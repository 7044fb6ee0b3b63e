"""How the C heap serves the embedded index's large blocks (glibc; other C libraries are left alone).

A bulk write allocates and frees the same large blocks again and again: the embedder's arrays, a
batch's vectors, faiss's distances while it assigns cells. Above glibc's mmap threshold (128 KiB by
default) each is a fresh mapping whose pages are zeroed and faulted in one by one, and unmapped on
free (with a TLB flush on the other cores): a sixth of a bulk's CPU time went there. So the threshold
is fixed at ``MMAP_THRESHOLD_BYTES`` and the heap keeps up to ``TRIM_THRESHOLD_BYTES`` free at its top:
the blocks come from the heap and are reused.

glibc's own remedy, a threshold that rises as mapped blocks are freed, let the heap keep what it no
longer used: faiss copies each inverted list on its first add after a load, and the freed lists stayed
resident (10,000 adds to a loaded index of 1,000,000 points: +244 MiB). ``give_back`` returns every
free page of every arena to the system; the vector index calls it after opening and once 1,000 points
changed since the last call.
"""

import ctypes
import functools
import logging

log = logging.getLogger(__name__)

M_TRIM_THRESHOLD = -1  # glibc's mallopt parameters
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD_BYTES = 32 * 1024 * 1024
TRIM_THRESHOLD_BYTES = 64 * 1024 * 1024


@functools.cache
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None)


def configure() -> None:
    """Fix the thresholds where the C library has ``mallopt``."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return
    settings = ((M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES), (M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES))
    for parameter, value in settings:
        if mallopt(parameter, value) != 1:
            log.warning("the C library refused mallopt(%d, %d)", parameter, value)


def give_back() -> None:
    """Return the heap's free pages to the system (``malloc_trim``), where the C library can."""
    trim = getattr(_libc(), "malloc_trim", None)
    if trim is not None:
        trim(0)
