"""How routes call the blocking memory service, so the event loop never waits on heavy work.

``run.heavy`` (bulk writes, recall, search, range, graph walks, import) always runs in the thread pool:
such a call can take from milliseconds to a second, and the loop must keep answering probes meanwhile.

``run`` is for cheap single-item calls (store, get, delete, link, stats). On the embedded default every
backend is in this process and such a call takes well under a millisecond, so it runs inline: a
thread-pool hand-off would cost more than the call. Not while heavy work is in flight, though: it may
hold the store's lock, and an inline call waiting for it would stall the loop, so then it goes to the
pool too. With network backends every call waits on I/O and runs in the pool.
"""

import gc
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from fastapi import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

P = ParamSpec("P")
T = TypeVar("T")

# A worker thread running Python code keeps the GIL until the switch interval ends each time the event
# loop wants it back, and answering one request takes the loop several such hand-offs: 1 ms instead of
# Python's 5 ms keeps a probe quick while heavy work runs, for a small cost in throughput.
GIL_SWITCH_SECONDS = 0.001


class Runner:
    def __init__(self, *, inline: bool) -> None:
        self.inline = inline
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        # A full garbage collection holds the GIL while it walks every tracked object, and those of
        # the imported modules and the loaded backends alone took tens of milliseconds: they live as
        # long as the process, so the collector stops walking them.
        gc.freeze()
        self._heavy_in_flight = 0  # only touched on the event loop's thread

    async def __call__(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self.inline and not self._heavy_in_flight:
            return function(*args, **kwargs)
        return await run_in_threadpool(function, *args, **kwargs)

    async def heavy(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        self._heavy_in_flight += 1
        try:
            return await run_in_threadpool(function, *args, **kwargs)
        finally:
            self._heavy_in_flight -= 1

    async def heavy_json(self, build: Callable[[], BaseModel]) -> Response:
        """``heavy`` for a route with a large answer (thousands of payloads): the answer is also
        rendered in the pool, where FastAPI would encode it on the event loop. The route declares
        the model as its ``response_model``."""

        def render() -> Response:
            return Response(build().model_dump_json(by_alias=True), media_type="application/json")

        return await self.heavy(render)
