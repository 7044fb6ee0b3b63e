"""Limits on connections, below the app: how many may be open, how large and how slow a request's line and
headers may be, and how long a body may pause.

uvicorn has none of these for its httptools protocol (an idle connection is held forever, a header is
buffered whatever its size), so ``soma serve`` runs this subclass of it. The timers are armed only when a
head or a body does not arrive whole in one read, so a request that does costs nothing. The body's size is
the request guard's to limit, after authentication.
"""

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

from uvicorn._types import ASGIReceiveCallable, ASGISendCallable, Scope
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from somafractalmemory.http_api.errors import error_response
from somafractalmemory.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionLimits:
    max_connections: int
    max_header_bytes: int
    header_timeout_seconds: float
    body_timeout_seconds: float

    @classmethod
    def of(cls, settings: Settings) -> "ConnectionLimits":
        return cls(
            settings.max_connections,
            settings.max_header_bytes,
            settings.header_timeout_seconds,
            settings.body_timeout_seconds,
        )


def refusal(status: int, message: str) -> bytes:
    """A whole error response, written straight to a connection that is closed after it."""
    response = error_response(status, message, headers={"Connection": "close"})
    headers = b"".join(name + b": " + value + b"\r\n" for name, value in response.raw_headers)
    return STATUS_LINE[status] + headers + b"\r\n" + response.body


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    limits: ClassVar[ConnectionLimits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # the bytes arriving belong to a request line and headers
        self._head_bytes = 0  # of the head being read, counted over the chunks it did not end in
        self._chunk_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._body_seen = 0.0  # loop time a piece of the current body last arrived

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            limit = self.limits.max_connections
            self._refuse(503, f"the server already has {limit} connections open (SOMA_MAX_CONNECTIONS)")
            return
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_head_timer()
        self._cancel_body_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._chunk_bytes = len(data)
        super().data_received(data)
        if self.transport.is_closing():
            return
        if not self._in_head:
            if self.cycle.more_body and not self.cycle.response_complete:  # the body goes on
                self._body_seen = self.loop.time()
                if self._body_timer is None:
                    self._arm_body_timer(self.limits.body_timeout_seconds)
            return
        # The head did not end in this chunk: count it, so a header that never ends is never buffered whole.
        self._head_bytes += len(data)
        if self._head_bytes > self.limits.max_header_bytes:
            self._refuse(431, self._too_large())
        elif self._head_timer is None:
            self._arm_head_timer()

    def on_message_begin(self) -> None:
        self._in_head = True
        super().on_message_begin()

    def on_message_complete(self) -> None:
        self._cancel_body_timer()
        super().on_message_complete()

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._cancel_head_timer()
        # Only when the bytes seen could exceed the limit is the head measured exactly.
        oversized = self._head_bytes + self._chunk_bytes > self.limits.max_header_bytes and (
            self._head_size() > self.limits.max_header_bytes
        )
        self._head_bytes = 0
        if not oversized:
            super().on_headers_complete()
            return
        app = self.app
        self.app = self._answer_too_large
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def _head_size(self) -> int:
        return len(self.url) + sum(len(name) + len(value) + 4 for name, value in self.headers)

    def _too_large(self) -> str:
        return f"the request line and headers are larger than {self.limits.max_header_bytes} bytes"

    async def _answer_too_large(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        response = error_response(431, self._too_large(), headers={"Connection": "close"})
        await response(scope, receive, send)  # type: ignore[arg-type]

    def _arm_head_timer(self) -> None:
        self._head_timer = self.loop.call_later(self.limits.header_timeout_seconds, self._head_timed_out)

    def _cancel_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self._in_head or self.transport.is_closing():
            return
        if self._head_bytes == 0:
            self.transport.close()  # a connection that never sent a byte needs no answer
            return
        timeout = f"{self.limits.header_timeout_seconds:g}"
        self._refuse(408, f"the request line and headers did not arrive within {timeout} s")

    def _arm_body_timer(self, delay: float) -> None:
        self._body_timer = self.loop.call_later(delay, self._body_timed_out)

    def _cancel_body_timer(self) -> None:
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_timed_out(self) -> None:
        self._body_timer = None
        cycle = self.cycle
        if self.transport.is_closing() or not cycle.more_body or cycle.response_complete:
            return
        timeout = self.limits.body_timeout_seconds
        if self.flow.read_paused:  # the app has not taken what arrived yet: the client is not stalling
            self._body_seen = self.loop.time()
        paused = self.loop.time() - self._body_seen
        if paused < timeout:
            self._arm_body_timer(timeout - paused)
        elif cycle.response_started:
            self.transport.close()
        else:
            self._refuse(408, f"the request body stalled: nothing arrived for {timeout:g} s")

    def _refuse(self, status: int, message: str) -> None:
        log.info("%s: answered %d and closed: %s", self.client and self.client[0], status, message)
        self._cancel_head_timer()
        self._cancel_body_timer()
        self.transport.write(refusal(status, message))
        self.transport.close()


def limited_protocol(limits: ConnectionLimits) -> type[LimitedHttpToolsProtocol]:
    """The protocol class uvicorn instantiates for each connection, with these limits."""
    return type("LimitedHttpToolsProtocol", (LimitedHttpToolsProtocol,), {"limits": limits})
