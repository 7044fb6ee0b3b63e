"""The runner's dispatch rule: heavy calls always leave the event loop's thread; cheap calls run inline
on the embedded default, except while heavy work is in flight (it may hold a lock they need)."""

import asyncio
import threading

from somafractalmemory.http_api.runner import Runner


def thread_name() -> str:
    return threading.current_thread().name


async def test_cheap_calls_run_inline_unless_heavy_work_is_in_flight() -> None:
    runner = Runner(inline=True)
    loop_thread = thread_name()
    assert await runner(thread_name) == loop_thread
    assert await runner.heavy(thread_name) != loop_thread

    release = threading.Event()
    heavy = asyncio.ensure_future(runner.heavy(release.wait, 30))
    await asyncio.sleep(0)  # the heavy call is now in flight
    assert await runner(thread_name) != loop_thread
    release.set()
    assert await heavy is True
    assert await runner(thread_name) == loop_thread


async def test_with_network_backends_every_call_leaves_the_loop() -> None:
    runner = Runner(inline=False)
    assert await runner(thread_name) != thread_name()
