"""An actor pool fed by the driver: a stage's work in chunks on Ray actors, its results back
on the driver as each chunk returns.

The stage gives the class of its actors and their constructor arguments; an actor has
``async run(chunk) -> (results, counters)`` (the results of the chunk's items, in order, and
the actor's counters so far) and ``async aclose()``. The arena's judge actors
(:class:`wizardarena.arena.actors.JudgeActor`) are such a class.

- ``workers`` actors (default: one per CPU of the cluster) each hold ``depth`` chunks at a
  time, so that an actor never waits for the driver;
- as each chunk comes back, the driver calls ``apply`` with every result (on the driver,
  in the driver's event loop: the one place that writes), then sends that actor its next
  chunk;
- an actor whose process dies is replaced by a new one, and the chunks it had not returned
  go to the replacement: only results the driver had not received are asked again. After
  :data:`MAX_RESTARTS` replacements of one actor the run stops with an
  :class:`~wizardarena.exceptions.ArenaError`;
- an error raised in an actor that is one of the package's own
  (:class:`~wizardarena.exceptions.WizardArenaError`) is raised on the driver as it is.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from wizardarena.exceptions import ArenaError, WizardArenaError
from wizardarena.ray import RayEngine

__all__ = ["MAX_RESTARTS", "ActorPool"]

#: times an actor whose process died is replaced (its unfinished chunks re-sent)
MAX_RESTARTS = 3

T = TypeVar("T")
R = TypeVar("R")


class ActorPool(Generic[T, R]):
    """Actors of one class on a Ray cluster, fed by the driver (see the module docstring).

    Parameters
    ----------
    engine : RayEngine
    actor : type
        The stage's actor class (``run`` and ``aclose`` coroutines).
    args : tuple
        Its constructor arguments (object-store references are fetched by the actor).
    chunk : int
        Items per chunk.
    depth : int
        Chunks in flight per actor.
    workers : int, optional
        Number of actors (default: the cluster's CPUs).
    what : str
        What an actor is, for the message when one keeps dying (``"judge actor"``).
    """

    def __init__(self, engine: RayEngine, actor: type, args: tuple[Any, ...], *, chunk: int,
                 depth: int, workers: int | None = None, what: str = "actor") -> None:
        self.ray = ray = engine.ray
        cpus = float(engine.cpus)
        n = workers if workers is not None else max(1, int(cpus))
        self.chunk = max(1, chunk)
        self.depth = max(1, depth)
        self.what = what
        self._args = args
        self._cls = ray.remote(actor).options(num_cpus=min(1.0, cpus / n),
                                              scheduling_strategy="SPREAD")
        self.actors = [self._cls.remote(*self._args) for _ in range(n)]
        self.replaced = [0] * n  # replacements of each actor
        # the latest counters of each actor process, (actor, generation) -> counters
        self._counters: dict[tuple[int, int], dict[str, int]] = {}

    async def run(self, items: Iterator[T], apply: Callable[[R], None]) -> None:
        """Run ``items`` on the actors, calling ``apply`` (here, on the driver) with every
        result as its chunk comes back."""
        ray = self.ray
        it = iter(items)
        # future -> (actor index, its generation, the chunk, the object ref)
        inflight: dict[asyncio.Future[Any], tuple[int, int, list[T], Any]] = {}

        def send(i: int, chunk: list[T]) -> None:
            ref = self.actors[i].run.remote(chunk)
            inflight[asyncio.ensure_future(_await(ref))] = (i, self.replaced[i], chunk, ref)

        def submit(i: int) -> None:
            chunk = list(itertools.islice(it, self.chunk))
            if chunk:
                send(i, chunk)

        for i in range(len(self.actors)):
            for _ in range(self.depth):
                submit(i)
        try:
            while inflight:
                done, _ = await asyncio.wait(inflight, return_when=asyncio.FIRST_COMPLETED)
                for fut in done:
                    i, gen, chunk, _ref = inflight.pop(fut)
                    results = self._results(fut, i, gen)
                    if results is None:  # the actor died: its replacement runs the chunk
                        send(i, chunk)
                        continue
                    for result in results:
                        apply(result)
                    submit(i)
        finally:
            for fut, (_, _, _, ref) in inflight.items():
                fut.cancel()
                ray.cancel(ref)

    def _results(self, fut: asyncio.Future[Any], i: int, gen: int) -> list[R] | None:
        """A chunk's results; None when its actor died (replaced here, once per death)."""
        ray = self.ray
        try:
            results, counters = fut.result()
            self._counters[i, gen] = counters
            return list(results)
        except ray.exceptions.RayTaskError as exc:  # raised in the actor: give the original
            cause = getattr(exc, "cause", None)
            if isinstance(cause, WizardArenaError):
                raise cause from None
            raise
        except ray.exceptions.RayActorError as exc:
            if gen < self.replaced[i]:
                return None  # this death was already handled: the replacement is up
            if self.replaced[i] >= MAX_RESTARTS:
                raise ArenaError(
                    f"{self.what} {i} died {self.replaced[i] + 1} times (last: "
                    f"{str(exc).splitlines()[0]}); every result received before is kept "
                    "(in the store), and rerunning the same command resumes") from None
            self.replaced[i] += 1
            self.actors[i] = self._cls.remote(*self._args)
            return None

    def counters(self) -> dict[str, int]:
        """The actors' counters summed, as of the last chunk each actor process returned
        (work in flight in an actor that died is not counted)."""
        total: dict[str, int] = {}
        for part in self._counters.values():
            for k, v in part.items():
                total[k] = total.get(k, 0) + int(v)
        return total

    async def close(self) -> None:
        """Close the actors (``aclose``: their connections end cleanly), then stop them."""
        closing = [asyncio.ensure_future(_await(a.aclose.remote())) for a in self.actors]
        if closing:
            await asyncio.wait(closing, timeout=10)
        for fut in closing:
            if not fut.done():
                fut.cancel()
            elif not fut.cancelled():
                fut.exception()  # an actor that is gone has nothing to close
        for a in self.actors:
            self.ray.kill(a)
        self.actors = []


async def _await(ref: Any) -> Any:
    return await ref
