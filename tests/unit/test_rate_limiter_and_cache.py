from somafractalmemory.adapters.memory_cache import MemoryCache
from somafractalmemory.adapters.memory_rate_limiter import MemoryRateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_each_client_has_its_own_budget_that_refills() -> None:
    clock = Clock()
    limiter = MemoryRateLimiter(clock)
    assert all(limiter.acquire("a", 3).allowed for _ in range(3))
    refused = limiter.acquire("a", 3)
    assert not refused.allowed
    assert 19.0 < refused.retry_after_seconds <= 20.0  # one token every 20 s at 3 a minute
    assert limiter.acquire("b", 3).allowed  # another client is not throttled by a's burst
    clock.now += 20.0
    assert limiter.acquire("a", 3).allowed
    assert not limiter.acquire("a", 3).allowed


def test_cache_expires_evicts_and_deletes() -> None:
    clock = Clock()
    cache = MemoryCache(max_entries=2, clock=clock)
    cache.set("a", b"1", ttl_seconds=10)
    cache.set("b", b"2", ttl_seconds=10)
    assert cache.get("a") == b"1"
    cache.set("c", b"3", ttl_seconds=10)  # b is the least recently used
    assert cache.get("b") is None
    cache.delete("a")
    assert cache.get("a") is None
    clock.now += 11
    assert cache.get("c") is None
