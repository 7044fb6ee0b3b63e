"""The embedded rate limiter: a token bucket per client, in this process."""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from somafractalmemory.core.ports import RateDecision

SECONDS_PER_MINUTE = 60.0
IDLE_BUCKETS_KEPT = 100_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class MemoryRateLimiter:
    """Each client may burst up to its per-minute budget; the budget refills continuously."""

    name = "rate-limiter"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._buckets: dict[str, _Bucket] = {}
        self._clock = clock
        self._lock = threading.Lock()

    def ping(self) -> None:
        """Always reachable: it lives in this process."""

    def close(self) -> None:
        with self._lock:
            self._buckets.clear()

    def acquire(self, client: str, per_minute: int) -> RateDecision:
        now = self._clock()
        rate = per_minute / SECONDS_PER_MINUTE
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                if len(self._buckets) >= IDLE_BUCKETS_KEPT:
                    self._buckets.clear()  # a full bucket is what a forgotten client would get anyway
                bucket = self._buckets[client] = _Bucket(float(per_minute), now)
            bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return RateDecision(allowed=True, remaining=int(bucket.tokens), retry_after_seconds=0.0)
            return RateDecision(allowed=False, remaining=0, retry_after_seconds=(1.0 - bucket.tokens) / rate)
