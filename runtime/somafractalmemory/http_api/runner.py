"""How routes call the blocking memory service.

On the embedded default every backend is in this process and a call takes well under a millisecond,
so it runs inline: a thread-pool hand-off would cost more than the call. With network backends a call
waits on I/O, so it runs in the thread pool and the event loop keeps serving other requests.
"""

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from starlette.concurrency import run_in_threadpool

P = ParamSpec("P")
T = TypeVar("T")


class Runner:
    def __init__(self, *, inline: bool) -> None:
        self.inline = inline

    async def __call__(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        if self.inline:
            return function(*args, **kwargs)
        return await run_in_threadpool(function, *args, **kwargs)
