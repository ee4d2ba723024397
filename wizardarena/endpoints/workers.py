"""A bounded pool of coroutines: the jobs of a run, ``concurrency`` at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Iterator

__all__ = ["run_workers"]


async def run_workers(jobs: Iterator[Awaitable[None]], concurrency: int) -> None:
    """Await the coroutines of ``jobs``, ``concurrency`` at a time, in order.

    The first exception cancels the jobs in flight (and leaves the rest of ``jobs``
    unstarted) and is raised; cancelling the caller cancels them too.
    """
    async def worker() -> None:
        for job in jobs:  # a shared iterator: each job is taken by one worker
            await job

    tasks = [asyncio.ensure_future(worker()) for _ in range(max(1, concurrency))]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for t in done:
        exc = None if t.cancelled() else t.exception()
        if exc is not None:
            raise exc
