"""Routes prepared before the server takes requests.

FastAPI (0.165 here) prepares the routes of an included router the first time a request is matched
against them: every route's parameter models and validators are built then. Over HTTP, the first
`/v1` bulk of 500 memories after a start took 199 to 295 ms where the next ones took 59 to 102; with the
routes prepared at start, 90 to 111 (a fresh server each time, three of each). The lifespan matches one
request that no route answers, before the server is ready: matching it tries every router in turn, so
each prepares its routes. It goes to the routers alone, not through the middleware: no metric, no
request log.
"""

from fastapi import FastAPI
from starlette.types import Message, Scope

UNROUTED_PATH = "/.soma-route-warmup"  # matched by no route


def _unrouted_request() -> Scope:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": UNROUTED_PATH,
        "raw_path": UNROUTED_PATH.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [],
        "client": None,
        "server": None,
    }


async def prepare_routes(app: FastAPI) -> int:
    """Match an unrouted request against every router; answers the status it got (404)."""
    answered: list[int] = []

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answered.append(message["status"])

    await app.router(_unrouted_request(), receive, send)
    return answered[0]
