"""The Redis cache and the shared rate limiter against a real Redis server."""

import threading
from collections.abc import Callable, Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from somafractalmemory.adapters.memory_rate_limiter import MemoryRateLimiter
from somafractalmemory.adapters.redis_cache import RedisCache
from somafractalmemory.adapters.redis_connection import RedisLink
from somafractalmemory.adapters.redis_rate_limiter import RedisRateLimiter
from somafractalmemory.core.errors import BackendUnavailable
from somafractalmemory.http_api import create_app
from somafractalmemory.http_api.auth import TokenCheck
from somafractalmemory.settings import Settings
from support.servers import PostgresServer, RedisServer, wait_until
from support.stack import AUTH, TOKEN


@pytest.fixture
def cache(redis_link: RedisLink, unique: str) -> RedisCache:
    return RedisCache(redis_link, prefix=unique)


@pytest.fixture
def limiter(redis_link: RedisLink, unique: str) -> RedisRateLimiter:
    return RedisRateLimiter(redis_link, MemoryRateLimiter(), prefix=unique)


@pytest.fixture
def outage_link(own_redis: RedisServer) -> Iterator[RedisLink]:
    link = RedisLink.from_url(own_redis.url(), retry_interval=0.0)
    yield link
    link.close()


# Cache.
def test_cache_round_trip_with_ttl(cache: RedisCache, redis_link: RedisLink, unique: str) -> None:
    assert cache.get("a") is None
    cache.set("a", b"value", 30)
    assert cache.get("a") == b"value"
    ttls = [redis_link.client.ttl(key) for key in redis_link.client.scan_iter(f"{unique}:0:*")]
    assert len(ttls) == 1 and 0 < ttls[0] <= 30
    cache.delete("a", "missing")
    assert cache.get("a") is None


def test_replicas_share_entries_and_invalidations(redis_link: RedisLink, unique: str) -> None:
    one, two = RedisCache(redis_link, prefix=unique), RedisCache(redis_link, prefix=unique)
    one.set("k", b"v1", 30)
    assert two.get("k") == b"v1"
    two.delete("k")
    assert one.get("k") is None


def test_a_missed_invalidation_never_serves_the_old_entry(redis_server: RedisServer, unique: str) -> None:
    """Replica one's invalidation fails (its Redis user is refused scripts for a moment); as soon as its calls
    succeed again, no replica sees the entry that should have been deleted, although Redis still holds it."""
    admin = redis.Redis.from_url(redis_server.url())
    admin.acl_setuser(unique, enabled=True, passwords=[f"+{unique}"], keys=["*"], commands=["+@all"])
    one_link = RedisLink.from_url(
        f"redis://{unique}:{unique}@127.0.0.1:{redis_server.port}/0", retry_interval=0.0
    )
    other_link = RedisLink.from_url(redis_server.url())
    one, other = RedisCache(one_link, prefix=unique), RedisCache(other_link, prefix=unique)
    one.set("k", b"old", 60)
    admin.acl_setuser(unique, commands=["-evalsha", "-eval"])
    one.delete("k")
    assert admin.get(f"{unique}:0:k") == b"old"  # the invalidation really was missed
    admin.acl_setuser(unique, commands=["+evalsha", "+eval"])
    assert one.get("k") is None
    assert other.get("k") is None
    one.set("k", b"new", 60)
    assert other.get("k") == b"new"
    for closing in (one_link, other_link, admin):
        closing.close()


def test_cache_outage_degrades_to_misses_and_recovers(own_redis: RedisServer, outage_link: RedisLink) -> None:
    cache = RedisCache(outage_link)
    cache.set("k", b"v", 30)
    own_redis.stop()
    assert cache.get("k") is None
    cache.set("k", b"v2", 30)
    cache.delete("k")
    with pytest.raises(BackendUnavailable) as failure:
        cache.ping()
    assert failure.value.backend == "redis"
    own_redis.start()
    cache.ping()
    cache.set("k", b"v3", 30)
    assert cache.get("k") == b"v3"


# Rate limiter.
def test_limit_allows_the_budget_then_says_when_to_retry(limiter: RedisRateLimiter) -> None:
    decisions = [limiter.acquire("alice", 6) for _ in range(7)]
    assert [d.allowed for d in decisions] == [True] * 6 + [False]
    assert [d.remaining for d in decisions[:6]] == [5, 4, 3, 2, 1, 0]
    assert 0 < decisions[-1].retry_after_seconds <= 10.0
    assert limiter.acquire("bob", 6).allowed


def test_replicas_share_one_budget_per_client(redis_link: RedisLink, unique: str) -> None:
    replicas = [RedisRateLimiter(redis_link, MemoryRateLimiter(), prefix=unique) for _ in range(2)]
    allowed = sum(replicas[i % 2].acquire("carol", 10).allowed for i in range(30))
    assert allowed == 10


def test_concurrent_requests_never_overspend(redis_server: RedisServer, unique: str) -> None:
    results: list[bool] = []
    lock = threading.Lock()

    def hammer() -> None:
        link = RedisLink.from_url(redis_server.url())
        replica = RedisRateLimiter(link, MemoryRateLimiter(), prefix=unique)
        for _ in range(25):
            decision = replica.acquire("dave", 40)
            with lock:
                results.append(decision.allowed)
        link.close()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 200
    assert sum(results) == 40


def test_limiter_falls_back_to_a_local_limit_when_redis_is_down(
    own_redis: RedisServer, outage_link: RedisLink
) -> None:
    limiter = RedisRateLimiter(outage_link, MemoryRateLimiter())
    assert limiter.acquire("erin", 3).allowed
    own_redis.stop()
    local = [limiter.acquire("erin", 3).allowed for _ in range(4)]
    assert local == [True, True, True, False]
    with pytest.raises(BackendUnavailable):
        limiter.ping()
    own_redis.start()
    admin = redis.Redis.from_url(own_redis.url())

    def counted_in_redis() -> bool:
        limiter.acquire("frank", 1000)
        return bool(admin.exists("soma:ratelimit:frank"))

    wait_until(counted_in_redis, 10, "the limiter to use Redis again")
    admin.close()


def test_api_replicas_share_each_budget_under_a_token_id_or_an_address(
    make_app_settings: Callable[..., Settings], postgres_server: PostgresServer, redis_server: RedisServer
) -> None:
    """Issue 9, finding 6, on the production path: two API replicas on one Redis spend one budget per token,
    under the token's id (never the token itself), and wrong tokens spend one budget per client address."""
    one = make_app_settings(postgres_server, redis_server, rate_limit_per_minute=4)
    two = one.model_copy(update={"data_dir": one.data_dir / "two", "qdrant_path": one.data_dir / "two" / "q"})
    with TestClient(create_app(one)) as first, TestClient(create_app(two)) as second:
        replicas = (first, second)
        mine = [replicas[n % 2].get("/stats", headers=AUTH).status_code for n in range(6)]
        assert mine == [200, 200, 200, 200, 429, 429]
        junk = [{"Authorization": f"Bearer junk-{n}"} for n in range(5)]
        refused = [replicas[n % 2].get("/stats", headers=junk[n]).status_code for n in range(5)]
        assert refused == [403, 403, 403, 403, 429]
    assert one.redis_url is not None
    with redis.Redis.from_url(one.redis_url.get_secret_value()) as admin:
        keys = sorted(key.decode() for key in admin.scan_iter("soma:ratelimit:*"))
    token_id = TokenCheck(TOKEN).token_id
    assert keys == ["soma:ratelimit:address:testclient", f"soma:ratelimit:token:{token_id}"]
    assert token_id not in TOKEN
