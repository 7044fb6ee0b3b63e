"""The embedded rate limiter: a token bucket per client, in this process, for a bounded number of clients."""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from somafractalmemory.core.ports import RateDecision

SECONDS_PER_MINUTE = 60.0
CLIENTS_KEPT = 100_000


@dataclass
class _Bucket:
    tokens: float
    updated: float


class MemoryRateLimiter:
    """Each client may burst up to its per-minute budget; the budget refills continuously.

    At most ``max_clients`` buckets are kept: a new client evicts the one that was seen longest ago, never
    every bucket, so a flood of new clients cannot refill a client that is still sending."""

    name = "rate-limiter"

    def __init__(self, clock: Callable[[], float] = time.monotonic, max_clients: int = CLIENTS_KEPT) -> None:
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._clock = clock
        self._max_clients = max_clients
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
                if len(self._buckets) >= self._max_clients:
                    self._buckets.popitem(last=False)
                bucket = self._buckets[client] = _Bucket(float(per_minute), now)
            else:
                self._buckets.move_to_end(client)
            bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return RateDecision(allowed=True, remaining=int(bucket.tokens), retry_after_seconds=0.0)
            return RateDecision(allowed=False, remaining=0, retry_after_seconds=(1.0 - bucket.tokens) / rate)
