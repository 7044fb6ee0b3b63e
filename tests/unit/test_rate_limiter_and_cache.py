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


def test_a_flood_of_new_clients_never_refills_a_client_that_keeps_sending() -> None:
    """Issue 9, finding 6: 100,000 distinct keys used to clear every bucket, the throttled one's too."""
    limiter = MemoryRateLimiter(Clock())
    assert all(limiter.acquire("victim", 3).allowed for _ in range(3))
    for number in range(150_000):
        assert limiter.acquire(f"flood-{number}", 3).allowed
        if number % 10_000 == 0:
            assert not limiter.acquire("victim", 3).allowed
    assert not limiter.acquire("victim", 3).allowed


def test_the_least_recently_seen_client_is_the_one_forgotten() -> None:
    limiter = MemoryRateLimiter(Clock(), max_clients=3)
    for client in ("a", "b", "c"):
        assert limiter.acquire(client, 1).allowed
    assert not limiter.acquire("a", 1).allowed  # a is now the most recently seen
    assert limiter.acquire("d", 1).allowed  # evicts b, the least recently seen
    assert not limiter.acquire("a", 1).allowed
    assert not limiter.acquire("c", 1).allowed
    assert limiter.acquire("b", 1).allowed  # forgotten: a full bucket again (evicting d)
