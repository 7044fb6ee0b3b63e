"""The per-client rate limit shared by every API replica: GCRA (a token bucket) in one Lua script on Redis.

Each client has one key holding its theoretical arrival time (TAT). A request is allowed when it arrives no
earlier than TAT minus the burst window; then TAT advances by one emission interval (60 s / per_minute). The
script reads Redis' own clock, so replicas with skewed clocks agree, and it is atomic, so concurrent requests
from several replicas can never overspend the budget. When Redis is unavailable the limiter falls back to a
local limiter (each replica then limits on its own) rather than refusing or waving through every request.
"""

import logging

from somafractalmemory.adapters.redis_connection import RedisDown, RedisLink
from somafractalmemory.core.ports import RateDecision, RateLimiter

logger = logging.getLogger(__name__)

WINDOW_MICROSECONDS = 60_000_000

# KEYS[1]: the client's key. ARGV[1]: requests per minute.
# Returns {allowed (0/1), remaining, retry after in microseconds}.
GCRA_SCRIPT = """
local per_minute = tonumber(ARGV[1])
local window = 60000000
local interval = window / per_minute
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + interval
local allowed_at = new_tat - window
if allowed_at > now then
    return {0, 0, math.ceil(allowed_at - now)}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000))
return {1, math.floor((now - allowed_at) / interval), 0}
"""


class RedisRateLimiter:
    def __init__(self, link: RedisLink, fallback: RateLimiter, *, prefix: str = "soma:ratelimit") -> None:
        self._link = link
        self._fallback = fallback
        self._prefix = prefix
        self._script = link.client.register_script(GCRA_SCRIPT)

    @property
    def name(self) -> str:
        return "redis"

    def ping(self) -> None:
        self._link.ping()

    def close(self) -> None:
        self._link.close()

    def acquire(self, client: str, per_minute: int) -> RateDecision:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        key = f"{self._prefix}:{client}"
        try:
            reply = self._link.call(lambda: self._script(keys=[key], args=[per_minute]))
        except RedisDown:
            return self._fallback.acquire(client, per_minute)
        allowed, remaining, retry_us = reply
        return RateDecision(
            allowed=bool(allowed), remaining=int(remaining), retry_after_seconds=int(retry_us) / 1_000_000
        )
