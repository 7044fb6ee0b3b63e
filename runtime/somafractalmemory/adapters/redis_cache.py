"""The read-through cache on Redis, shared by every API replica.

A cache must never serve a value older than a write it missed. If an invalidation fails (Redis down or
unreachable), this replica cannot know what the cache still holds, so it stops reading the cache and, as soon
as Redis answers again, bumps a shared epoch that is part of every key: all entries written before become
unreachable at once (they expire by their TTL), for every replica, without a scan or a FLUSHDB. Reading the
epoch and the entry happens in one Lua script, so a reader never combines an old epoch with a new entry.
The remaining window (a replica whose invalidation failed while others still reach Redis) is bounded by the
TTL, which the service keeps short.
"""

import logging

import redis

from somafractalmemory.adapters.redis_connection import RedisDown, RedisLink

logger = logging.getLogger(__name__)

GET_SCRIPT = """
local epoch = redis.call('GET', KEYS[1]) or '0'
return redis.call('GET', ARGV[1] .. epoch .. ':' .. ARGV[2])
"""

SET_SCRIPT = """
local epoch = redis.call('GET', KEYS[1]) or '0'
redis.call('SET', ARGV[1] .. epoch .. ':' .. ARGV[2], ARGV[3], 'EX', ARGV[4])
"""

DELETE_SCRIPT = """
local epoch = redis.call('GET', KEYS[1]) or '0'
local removed = 0
for index = 2, #ARGV do
    removed = removed + redis.call('DEL', ARGV[1] .. epoch .. ':' .. ARGV[index])
end
return removed
"""


class RedisCache:
    def __init__(self, link: RedisLink, *, prefix: str = "soma:cache") -> None:
        self._link = link
        self._epoch_key = f"{prefix}:epoch"
        self._entry_prefix = f"{prefix}:"
        self._get = link.client.register_script(GET_SCRIPT)
        self._set = link.client.register_script(SET_SCRIPT)
        self._delete = link.client.register_script(DELETE_SCRIPT)
        self._missed_invalidation = False

    @property
    def name(self) -> str:
        return "redis"

    def ping(self) -> None:
        self._link.ping()

    def close(self) -> None:
        self._link.close()

    def _usable(self) -> bool:
        """False until a missed invalidation has been made harmless by a new epoch."""
        if not self._missed_invalidation:
            return True
        # Clear first: an invalidation that fails while the epoch advances sets the flag again.
        self._missed_invalidation = False
        try:
            epoch = self._link.call(lambda: self._link.client.incr(self._epoch_key))
        except RedisDown:
            self._missed_invalidation = True
            return False
        logger.info("cache epoch advanced to %s after a missed invalidation", epoch)
        return True

    def get(self, key: str) -> bytes | None:
        if not self._usable():
            return None
        try:
            value = self._link.call(lambda: self._get(keys=[self._epoch_key], args=[self._entry_prefix, key]))
        except RedisDown:
            return None
        return bytes(value) if value is not None else None

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        if not self._usable():
            return
        args: list[redis.typing.EncodableT] = [self._entry_prefix, key, value, max(1, ttl_seconds)]
        try:
            self._link.call(lambda: self._set(keys=[self._epoch_key], args=args))
        except RedisDown:
            return

    def delete(self, *keys: str) -> None:
        if not keys:
            return
        try:
            self._link.call(lambda: self._delete(keys=[self._epoch_key], args=[self._entry_prefix, *keys]))
        except RedisDown:
            self._missed_invalidation = True
