"""JSON request bodies decoded strictly (core/json_text.py): a body that is not UTF-8, repeats a key or
holds NaN, Infinity or an out-of-range number gets a 400 that says so. Broken syntax stays FastAPI's 422.

A route class rather than a middleware: the body is parsed once, where FastAPI parses it anyway.
"""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import HTTPException, Request, Response
from fastapi.routing import APIRoute

from somafractalmemory.core.errors import InvalidInput
from somafractalmemory.core.json_text import decode_json


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = decode_json(await self.body())
            except InvalidInput as error:
                raise HTTPException(400, f"request body: {error}") from None
        return self._json


class StrictJSONRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict_handler(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict_handler
