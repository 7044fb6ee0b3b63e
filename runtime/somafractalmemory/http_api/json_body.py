"""JSON request bodies decoded strictly (core/json_text.py): a body that is not UTF-8, repeats a key or
holds NaN, Infinity or an out-of-range number gets a 400 that says so. Broken syntax stays FastAPI's 422.

A route class rather than a middleware: the body is parsed once, where FastAPI parses it anyway.
"""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.json_text import decode_json

# Decoding takes about 10 ms per MiB: a bulk body of thousands of items would hold the event loop (and
# every probe) that long, so bodies above this size are decoded on a worker thread. Below it the
# hand-off costs more than the decode.
THREAD_DECODE_BYTES = 64 * 1024


async def decode_body(body: bytes) -> Any:
    if len(body) > THREAD_DECODE_BYTES:
        return await run_in_threadpool(decode_json, body)
    return decode_json(body)


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = await decode_body(await self.body())
            except InvalidInput as error:
                raise HTTPException(400, f"request body: {error}") from None
        return self._json


class StrictJSONRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler
