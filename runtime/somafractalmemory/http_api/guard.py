"""ASGI middleware in front of every route: request-body limit (413) and per-client rate limit (429).

Pure ASGI rather than BaseHTTPMiddleware: it costs microseconds per request, which the store latency
target needs.
"""

import contextlib
import hashlib
import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi.responses import JSONResponse

from somafractalmemory.http_api.errors import error_response
from somafractalmemory.http_api.runner import Runner
from somafractalmemory.wiring import Runtime

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

OPEN_PATHS = frozenset({"/healthz", "/readyz", "/health", "/metrics"})
STREAMED_PATH_SUFFIX = "/import"


class _BodyTooLarge(Exception):
    pass


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


def client_key(scope: Scope) -> str:
    """Who a request counts against: its address and (a hash of) its token, so one client's burst
    never throttles another."""
    client = scope.get("client")
    address = client[0] if client else "unknown"
    authorization = _header(scope, b"authorization") or b""
    return f"{address}|{hashlib.sha256(authorization).hexdigest()[:16]}"


def _too_large(limit: int) -> JSONResponse:
    return error_response(413, f"request body is larger than {limit} bytes")


class RequestGuard:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        runtime: Runtime = scope["app"].state.runtime
        settings = runtime.settings
        if settings.rate_limit_per_minute > 0:
            run: Runner = scope["app"].state.runner
            decision = await run(
                runtime.rate_limiter.acquire, client_key(scope), settings.rate_limit_per_minute
            )
            if not decision.allowed:
                retry = str(max(1, math.ceil(decision.retry_after_seconds)))
                message = f"rate limit of {settings.rate_limit_per_minute} requests a minute exceeded"
                await error_response(429, message, headers={"Retry-After": retry})(scope, receive, send)
                return
        if scope["path"].endswith(STREAMED_PATH_SUFFIX):
            await self.app(scope, receive, send)  # imports stream: each line is checked instead
            return
        await self._limit_body(scope, receive, send, settings.max_body_bytes)

    async def _limit_body(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await _too_large(limit)(scope, receive, send)
            return
        received = 0
        exceeded = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if not exceeded:  # whatever the app answers to a cut-off body is replaced by the 413
                await send(message)

        with contextlib.suppress(_BodyTooLarge):  # raised by counting_receive, answered below
            await self.app(scope, counting_receive, guarded_send)
        if exceeded:
            await _too_large(limit)(scope, receive, send)
