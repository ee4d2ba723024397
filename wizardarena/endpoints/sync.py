"""The one sync bridge: coroutines run from synchronous code, notebooks included.

A :class:`LoopThread` is an event loop running in a daemon thread. :class:`~wizardarena.
endpoints.client.Client` keeps one for its lifetime (its connections live on that loop);
:func:`run_sync` uses one for a single coroutine when the calling thread already runs a loop
(a notebook), and :func:`asyncio.run` otherwise.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Coroutine
from typing import Any, TypeVar

__all__ = ["LoopThread", "run_sync"]

T = TypeVar("T")


class LoopThread:
    """An event loop running in a daemon thread until :meth:`close`.

    Parameters
    ----------
    name : str, default "wizardarena-loop"
        The thread's name.
    """

    def __init__(self, name: str = "wizardarena-loop") -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self.thread.start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop; block until it is done and return its value (or raise
        its exception)."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result()

    def close(self) -> None:
        """Cancel what still runs on the loop, stop it and join the thread (idempotent)."""
        if self.loop.is_closed():
            return
        self.run(_wind_down())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join()
        self.loop.close()

    def __enter__(self) -> LoopThread:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _wind_down() -> None:
    """Cancel every task of the running loop but this one, wait for them, and close its
    async generators (as :func:`asyncio.run` does at the end)."""
    me = asyncio.current_task()
    others = [t for t in asyncio.all_tasks() if t is not me]
    for t in others:
        t.cancel()
    await asyncio.gather(*others, return_exceptions=True)
    await asyncio.get_running_loop().shutdown_asyncgens()


def run_sync(coro: Awaitable[T]) -> T:
    """Run a coroutine to completion from synchronous code.

    Uses :func:`asyncio.run` when no loop is running in this thread; inside a running loop
    (a notebook) it runs the coroutine on a :class:`LoopThread` and waits.
    """

    async def wrap() -> T:
        return await coro

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(wrap())
    with LoopThread("wizardarena-run-sync") as bridge:
        return bridge.run(wrap())
