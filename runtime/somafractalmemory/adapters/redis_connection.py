"""One Redis client shared by the cache and the rate limiter, with a short circuit breaker.

Redis is an accelerator here, never the source of truth: when it fails, callers fall back (no cache, a local
limit) instead of failing the request. After a failure the link skips Redis for ``retry_interval`` seconds,
so an outage costs one timeout per interval rather than one per request; each outage is logged once.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import redis

from somafractalmemory.core.errors import BackendUnavailable

logger = logging.getLogger(__name__)

BACKEND = "redis"
T = TypeVar("T")


class RedisDown(Exception):
    """Redis could not serve a call (it failed, or the breaker is open)."""


class RedisLink:
    def __init__(self, client: "redis.Redis", *, retry_interval: float = 1.0) -> None:
        self.client = client
        self._retry_interval = retry_interval
        self._retry_at = 0.0
        self._down = False
        self._state_lock = threading.Lock()

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 0.5, retry_interval: float = 1.0) -> "RedisLink":
        client = redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)
        return cls(client, retry_interval=retry_interval)

    @property
    def available(self) -> bool:
        """False while the breaker is open after a failure."""
        return not self._down or time.monotonic() >= self._retry_at

    def call(self, operation: Callable[[], T]) -> T:
        if not self.available:
            raise RedisDown("skipped: Redis failed moments ago")
        try:
            result = operation()
        except redis.RedisError as error:
            self._record_failure(error)
            raise RedisDown(str(error)) from error
        self._record_success()
        return result

    def ping(self) -> None:
        try:
            self.client.ping()
        except redis.RedisError as error:
            self._record_failure(error)
            raise BackendUnavailable(BACKEND, str(error) or type(error).__name__) from error
        self._record_success()

    def close(self) -> None:
        self.client.close()

    def _record_failure(self, error: Exception) -> None:
        with self._state_lock:
            if not self._down:
                logger.warning("Redis unavailable, serving without it: %s", error)
            self._down = True
            self._retry_at = time.monotonic() + self._retry_interval

    def _record_success(self) -> None:
        with self._state_lock:
            if self._down:
                logger.info("Redis is back")
            self._down = False
