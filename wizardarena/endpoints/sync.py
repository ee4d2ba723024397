"""The one sync bridge: coroutines run from synchronous code, notebooks included.

A :class:`LoopThread` is an event loop running in a daemon thread. :class:`Client` (the
synchronous facade over :class:`~wizardarena.endpoints.client.AsyncClient`) keeps one for
its lifetime (its connections live on that loop); :func:`run_sync` uses one for a single
coroutine when the calling thread already runs a loop (a notebook), and
:func:`asyncio.run` otherwise.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar

import numpy as np

from wizardarena.endpoints.client import AsyncClient, Message
from wizardarena.endpoints.results import ChatResult, ClientStats
from wizardarena.exceptions import ClientError

__all__ = ["Client", "LoopThread", "run_sync"]

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


class Client:
    """Synchronous facade over :class:`AsyncClient`, safe inside a running event loop.

    The async client runs on a private event loop in a daemon thread, so this works from
    scripts and from notebooks alike. Parameters are those of :class:`AsyncClient`.
    Close it (or use it as a context manager) to free the thread and connections.
    """

    def __init__(self, base_url: str | Sequence[str], **kwargs: Any) -> None:
        self._async = AsyncClient(base_url, **kwargs)
        self._loop: LoopThread | None = LoopThread()

    def __repr__(self) -> str:
        return repr(self._async).replace("AsyncClient", "Client", 1)

    @property
    def stats(self) -> ClientStats:
        """Counters of the underlying :class:`AsyncClient`."""
        return self._async.stats

    @property
    def async_client(self) -> AsyncClient:
        """The underlying :class:`AsyncClient` (its ``base_url``, ``model``,
        ``api_key_env`` ... are this client's)."""
        return self._async

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            coro.close()
            raise ClientError("the client is closed")
        return self._loop.run(coro)

    def chat(self, messages: Sequence[Message], **kwargs: Any) -> ChatResult:
        """See :meth:`AsyncClient.chat`."""
        return self._run(self._async.chat(messages, **kwargs))

    def chat_many(
        self, conversations: Iterable[Sequence[Message]], **kwargs: Any
    ) -> list[ChatResult]:
        """Run many chats concurrently (bounded by ``concurrency``); results in input order."""
        convs = list(conversations)

        async def go() -> list[ChatResult]:
            return list(await asyncio.gather(*(self._async.chat(m, **kwargs) for m in convs)))

        return self._run(go())

    def embed(self, texts: Sequence[str], **kwargs: Any) -> np.ndarray:
        """See :meth:`AsyncClient.embed`; returns shape (n, d)."""
        return self._run(self._async.embed(texts, **kwargs))

    def close(self) -> None:
        """Close connections and stop the private loop (idempotent)."""
        if self._loop is not None:
            self._loop.run(self._async.aclose())
            self._loop.close()
            self._loop = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
