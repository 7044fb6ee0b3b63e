"""ASGI middleware in front of every route, deciding before the app reads a byte of the body: who the
client is, its rate limit (429), its token (401/403) and the body's size (413).

Who a client is: the token's id for a request that carries the right token (however its header is
spelled), else its address (the peer, or the client a trusted proxy names), so wrong tokens are throttled
per address. A refusal sent while the client may still be sending a body closes the connection: the body
is never read.

Pure ASGI rather than BaseHTTPMiddleware: it costs microseconds per request, which the store latency
target needs.
"""

import contextlib
import math
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from somafractalmemory.http_api.auth import AUTHENTICATED, TokenCheck
from somafractalmemory.http_api.client_address import ClientAddresses, rate_key
from somafractalmemory.http_api.errors import error_response
from somafractalmemory.http_api.ndjson_lines import LineLengths
from somafractalmemory.http_api.runner import Runner
from somafractalmemory.settings import Settings
from somafractalmemory.wiring import Runtime

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# "/" is the reference's banner, open like the probes.
PROBE_PATHS = frozenset({"/", "/healthz", "/readyz", "/health"})
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
METRICS_PATH = "/metrics"
IMPORT_PATH = re.compile(r"/v1/namespaces/[^/]+/import")
CLOSE = {"Connection": "close"}


class _BodyRefused(Exception):
    pass


def _request_headers(scope: Scope) -> tuple[bytes | None, bytes | None, bool]:
    """Authorization, Content-Length, and whether a chunked body follows, in one pass."""
    authorization = length = None
    chunked = False
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = authorization or bytes(value)
        elif name == b"content-length":
            length = bytes(value)
        elif name == b"transfer-encoding":
            chunked = True
    return authorization, length, chunked


def _refuse(status: int, message: str, headers: dict[str, str] | None, body_pending: bool) -> JSONResponse:
    return error_response(status, message, headers={**(headers or {}), **(CLOSE if body_pending else {})})


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.open_paths = PROBE_PATHS | DOCS_PATHS
        if not settings.metrics_require_token:
            self.open_paths |= {METRICS_PATH}
        self.addresses = ClientAddresses(settings.trusted_proxies)
        self.per_minute = settings.rate_limit_per_minute
        self.max_body_bytes = settings.max_body_bytes
        self.max_import_bytes = settings.max_import_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in self.open_paths:
            await self.app(scope, receive, send)
            return
        state = scope["app"].state
        check: TokenCheck = state.token_check
        authorization, length, chunked = _request_headers(scope)
        body_pending = chunked or (length is not None and length != b"0")
        failure = check.verify(authorization)
        if self.per_minute > 0:
            client = "token:" + check.token_id if failure is None else self._address_key(scope)
            refusal = await self._rate_limited(state.runtime, state.runner, client, body_pending)
            if refusal is not None:
                await refusal(scope, receive, send)
                return
        if failure is not None:
            refusal = _refuse(failure.status, failure.message, failure.headers, body_pending)
            await refusal(scope, receive, send)
            return
        scope[AUTHENTICATED] = True
        if not body_pending:
            await self.app(scope, receive, send)
            return
        lines = None
        limit = self.max_body_bytes
        if IMPORT_PATH.fullmatch(
            scope["path"]
        ):  # an NDJSON stream: a larger total, each line within the limit
            lines = LineLengths(self.max_body_bytes)
            limit = self.max_import_bytes
        if length is not None and length.isdigit() and int(length) > limit:
            await _refuse(413, _too_large(limit), None, body_pending)(scope, receive, send)
            return
        await self._read_guarded(scope, receive, send, limit, lines)

    def _address_key(self, scope: Scope) -> str:
        peer = scope.get("client")
        return "address:" + rate_key(self.addresses.client(peer[0] if peer else None, scope["headers"]))

    async def _rate_limited(
        self, runtime: Runtime, run: Runner, client: str, body_pending: bool
    ) -> JSONResponse | None:
        decision = await run(runtime.rate_limiter.acquire, client, self.per_minute)
        if decision.allowed:
            return None
        retry = str(max(1, math.ceil(decision.retry_after_seconds)))
        message = f"rate limit of {self.per_minute} requests a minute exceeded"
        return _refuse(429, message, {"Retry-After": retry}, body_pending)

    async def _read_guarded(
        self, scope: Scope, receive: Receive, send: Send, limit: int, lines: LineLengths | None
    ) -> None:
        """Count the body as it arrives: 413 past ``limit``, or for a line past its limit; the app's answer
        to a cut-off body is replaced by the refusal. (A stalled body is the connection's to time out.)"""
        received = 0
        refusal: JSONResponse | None = None

        async def guarded_receive() -> Message:
            nonlocal received, refusal
            message = await receive()
            if message["type"] == "http.request":
                body = message.get("body", b"")
                received += len(body)
                pending = message.get("more_body", False)
                if received > limit:
                    refusal = _refuse(413, _too_large(limit), None, body_pending=pending)
                    raise _BodyRefused
                if lines is not None and (line := lines.feed(body)) is not None:
                    too_long = f"line {line} is longer than {lines.limit} bytes"
                    refusal = _refuse(413, too_long, None, body_pending=pending)
                    raise _BodyRefused
            return message

        async def guarded_send(message: Message) -> None:
            if refusal is None:
                await send(message)

        # _BodyRefused is answered below; a client gone mid-body (or timed out) needs no answer.
        with contextlib.suppress(_BodyRefused, ClientDisconnect):
            await self.app(scope, guarded_receive, guarded_send)
        if refusal is not None:
            await refusal(scope, receive, send)


def _too_large(limit: int) -> str:
    return f"request body is larger than {limit} bytes"
