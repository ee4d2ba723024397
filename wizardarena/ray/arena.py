"""Battles on Ray: judge actors judge chunks of the work list; the driver alone writes the store.

``run_arena(..., engine="ray")`` builds the same work list as the local engine (the same
pairs, orders and resume rule: keys already stored are skipped) and hands it to a
:class:`JudgePool`:

- ``workers`` actors (default: one per CPU of the cluster) each own an
  :class:`~wizardarena.arena.client.AsyncClient` with ``concurrency`` requests in flight,
  its own circuit breaker and key scrubber, over the judge's base URL(s), and judge with
  :class:`~wizardarena.arena.judging.MatchJudge`, the code the local engine runs: the failure
  classes, the breaker and the scrubbing apply unchanged;
- the driver sends each actor chunks of matches (half of ``concurrency`` each, four in
  flight: twice ``concurrency`` queued, so that an actor never waits for the driver) and,
  as each chunk's outcomes come back, stores them (``runner._Run.apply``: one SQLite
  writer, one transaction per judgment, exactly once by primary key) and sends the actor its
  next chunk;
- an actor whose process dies is replaced by a new one, and the chunks it had not returned
  go to the replacement: only judgments the driver has not received, hence not stored, are
  asked again: the requests in flight at the moment of the crash (as with a local
  ``kill -9``) and the finished judgments of chunks the actor had not yet returned, at most
  the ``2 x concurrency`` it held. After :data:`MAX_RESTARTS` replacements of one actor the
  run stops with an :class:`~wizardarena.exceptions.ArenaError`; what was judged is stored
  and a rerun resumes;
- a fatal failure in any actor (bad key, unknown model, every endpoint unreachable) stops
  the run with the client's own error, as the local engine does.

The API key is read on the driver from the judge's ``api_key_env`` and handed to the actors
through the object store (never in a runtime environment, which Ray shows in its dashboard);
when the variable is unset on the driver, each actor reads its own environment.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import math
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from wizardarena.arena.client import ClientStats, run_workers
from wizardarena.arena.judges import Judge
from wizardarena.arena.judging import MatchJudge, Outcome
from wizardarena.arena.pairing import Match
from wizardarena.exceptions import ArenaError, WizardArenaError
from wizardarena.ray import connect

__all__ = ["MAX_RESTARTS", "JudgePool"]

#: times a judge actor whose process died is replaced (its unfinished chunks re-sent)
MAX_RESTARTS = 3

_Key = tuple[str, str, str, int, int]


class JudgeActor:
    """A judge worker (run as a Ray actor): one async client, ``concurrency`` requests in
    flight over every chunk it holds."""

    def __init__(self, payload: tuple[Judge, Mapping[str, tuple[str, ...]],
                                      Mapping[str, Mapping[str, tuple[str, ...]]]],
                 key: str | None, concurrency: int) -> None:
        judge, turns, answers = payload
        if key is not None and judge.api_key_env:
            os.environ[judge.api_key_env] = key  # this actor's own process only
        self.client = judge.async_client(concurrency)
        self.judging = MatchJudge(judge, self.client, turns, answers)

    async def judge(self, chunk: list[_Key]) -> tuple[list[Outcome], dict[str, int]]:
        """The outcomes of a chunk, in its order, and the client's counters so far (a fatal
        failure raises)."""
        judging = self.judging
        out: list[Outcome | None] = [None] * len(chunk)

        async def one(k: int, key: _Key) -> None:
            out[k] = await judging(Match(*key))

        await run_workers((one(k, key) for k, key in enumerate(chunk)), len(chunk))
        return [o for o in out if o is not None], dataclasses.asdict(self.client.stats)

    async def aclose(self) -> None:
        """Close the client's connections (the servers see a clean close)."""
        await self.client.aclose()


class JudgePool:
    """Judge actors on a Ray cluster, fed by the driver (see the module docstring).

    Parameters
    ----------
    judge : Judge
    turns : mapping of question_id to tuple of str
    answers : mapping of model to (mapping of question_id to tuple of str)
    concurrency : int
        Requests in flight per actor.
    workers : int, optional
        Number of actors (default: the cluster's CPUs).
    ray_address : str, optional
        The cluster (default ``RAY_ADDRESS``, else a local Ray runtime).
    """

    def __init__(self, judge: Judge, turns: Mapping[str, tuple[str, ...]],
                 answers: Mapping[str, Mapping[str, tuple[str, ...]]], *, concurrency: int,
                 workers: int | None = None, ray_address: str | None = None) -> None:
        self.ray = ray = connect(ray_address, "engine='ray' (battles on a Ray cluster)")
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        n = workers if workers is not None else max(1, int(cpus))
        self.chunk = max(1, concurrency // 2)
        self.depth = math.ceil(2 * concurrency / self.chunk)  # chunks in flight per actor
        key = os.environ.get(judge.api_key_env) if judge.api_key_env else None
        # in the object store once, for every actor and replacement
        self._args = (ray.put((judge, dict(turns), {m: dict(a) for m, a in answers.items()})),
                      ray.put(key), concurrency)
        self._cls = ray.remote(JudgeActor).options(num_cpus=min(1.0, cpus / n),
                                                   scheduling_strategy="SPREAD")
        self.actors = [self._cls.remote(*self._args) for _ in range(n)]
        self.replaced = [0] * n  # replacements of each actor
        # the latest counters of each actor process, (actor, generation) -> counters
        self._counters: dict[tuple[int, int], dict[str, int]] = {}

    async def run(self, matches: Iterator[Match], apply: Callable[[Outcome], None]) -> None:
        """Judge ``matches`` on the actors, calling ``apply`` (on the driver) with every
        outcome as its chunk comes back."""
        ray = self.ray
        it = iter(matches)
        # future -> (actor index, its generation, the chunk, the object ref)
        inflight: dict[asyncio.Future[Any], tuple[int, int, list[_Key], Any]] = {}

        def send(i: int, chunk: list[_Key]) -> None:
            ref = self.actors[i].judge.remote(chunk)
            inflight[asyncio.ensure_future(_await(ref))] = (i, self.replaced[i], chunk, ref)

        def submit(i: int) -> None:
            chunk = [(m.question_id, m.model_a, m.model_b, m.game, m.turn)
                     for m in itertools.islice(it, self.chunk)]
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
                    outcomes = self._outcomes(fut, i, gen)
                    if outcomes is None:  # the actor died: its replacement judges the chunk
                        send(i, chunk)
                        continue
                    for outcome in outcomes:
                        apply(outcome)
                    submit(i)
        finally:
            for fut, (_, _, _, ref) in inflight.items():
                fut.cancel()
                ray.cancel(ref)

    def _outcomes(self, fut: asyncio.Future[Any], i: int, gen: int) -> list[Outcome] | None:
        """A chunk's outcomes; None when its actor died (replaced here, once per death)."""
        ray = self.ray
        try:
            outcomes, counters = fut.result()
            self._counters[i, gen] = counters
            return outcomes
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
                    f"judge actor {i} died {self.replaced[i] + 1} times (last: "
                    f"{str(exc).splitlines()[0]}); every judgment received before is in "
                    "the store, and rerunning the same command resumes") from None
            self.replaced[i] += 1
            self.actors[i] = self._cls.remote(*self._args)
            return None

    def stats(self) -> ClientStats:
        """Requests, retries and tokens of every actor process, as of the last chunk each
        returned (requests in flight in an actor that died are not counted)."""
        total = ClientStats()
        for part in self._counters.values():
            for k, v in part.items():
                setattr(total, k, getattr(total, k) + int(v))
        return total

    async def close(self) -> None:
        """Close the actors' connections, then stop the actors."""
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
