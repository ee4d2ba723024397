"""Battles on Ray: the judge actor, and the pool that feeds it chunks of the work list.

``run_arena(..., engine="ray")`` builds the same work list as the local engine (the same
pairs, orders and resume rule: keys already stored are skipped) and hands it to
:func:`judge_pool` (a :class:`wizardarena.ray.pool.ActorPool` of :class:`JudgeActor`):

- ``workers`` actors (default: one per CPU of the cluster) each own an
  :class:`~wizardarena.endpoints.AsyncClient` with ``concurrency`` requests in flight,
  its own circuit breaker and key scrubber, over the judge's base URL(s), and judge with
  :class:`~wizardarena.arena.judging.MatchJudge`, the code the local engine runs: the failure
  classes, the breaker and the scrubbing apply unchanged;
- the driver sends each actor chunks of matches (half of ``concurrency`` each, four in
  flight: twice ``concurrency`` queued, so that an actor never waits for the driver) and,
  as each chunk's outcomes come back, stores them (one SQLite writer, one transaction per
  judgment, exactly once by primary key) and sends the actor its next chunk;
- an actor whose process dies is replaced by a new one, and the chunks it had not returned
  go to the replacement: only judgments the driver has not received, hence not stored, are
  asked again: the requests in flight at the moment of the crash (as with a local
  ``kill -9``) and the finished judgments of chunks the actor had not yet returned, at most
  the ``2 x concurrency`` it held. After
  :data:`~wizardarena.ray.pool.MAX_RESTARTS` replacements of one actor the run stops with
  an :class:`~wizardarena.exceptions.ArenaError`; what was judged is stored and a rerun
  resumes;
- a fatal failure in any actor (bad key, unknown model, every endpoint unreachable) stops
  the run with the client's own error, as the local engine does.

The API key is read on the driver from the judge's ``api_key_env`` and handed to the actors
through the object store (never in a runtime environment, which Ray shows in its dashboard);
when the variable is unset on the driver, each actor reads its own environment.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from typing import Any

from wizardarena.arena.judges import Judge
from wizardarena.arena.judging import MatchJudge, Outcome
from wizardarena.arena.pairing import Match
from wizardarena.endpoints import ClientStats, run_workers
from wizardarena.ray import RayEngine, resolve
from wizardarena.ray.pool import ActorPool

__all__ = ["JudgeActor", "judge_pool", "pool_stats"]

Key = tuple[str, str, str, int, int]
Answers = Mapping[str, Mapping[str, tuple[str, ...]]]


class JudgeActor:
    """A judge worker (run as a Ray actor): one async client, ``concurrency`` requests in
    flight over every chunk it holds."""

    def __init__(self, payload: Any, key: Any, concurrency: int) -> None:
        judge, turns, answers = resolve(payload)
        key = resolve(key)
        if key is not None and judge.api_key_env:
            os.environ[judge.api_key_env] = key  # this actor's own process only
        self.client = judge.async_client(concurrency)
        self.judging = MatchJudge(judge, self.client, turns, answers)

    async def run(self, chunk: list[Key]) -> tuple[list[Outcome], dict[str, int]]:
        """The outcomes of a chunk, in its order, and the client's counters so far (a fatal
        failure raises)."""
        judging = self.judging
        out: list[Outcome | None] = [None] * len(chunk)

        async def one(k: int, key: Key) -> None:
            out[k] = await judging(Match(*key))

        await run_workers((one(k, key) for k, key in enumerate(chunk)), len(chunk))
        return [o for o in out if o is not None], dataclasses.asdict(self.client.stats)

    async def aclose(self) -> None:
        """Close the client's connections (the servers see a clean close)."""
        await self.client.aclose()


def judge_pool(engine: RayEngine, judge: Judge, turns: Mapping[str, tuple[str, ...]],
               answers: Answers, *, concurrency: int,
               workers: int | None = None) -> ActorPool[Key, Outcome]:
    """The judge actors of a run on ``engine``: ``workers`` of them (default: one per CPU),
    each with ``concurrency`` requests in flight and twice that queued."""
    chunk = max(1, concurrency // 2)
    key = os.environ.get(judge.api_key_env) if judge.api_key_env else None
    # in the object store once, for every actor and replacement
    args = (engine.put((judge, dict(turns), {m: dict(a) for m, a in answers.items()})),
            engine.put(key), concurrency)
    return ActorPool(engine, JudgeActor, args, chunk=chunk,
                     depth=math.ceil(2 * concurrency / chunk), workers=workers,
                     what="judge actor")


def pool_stats(pool: ActorPool[Key, Outcome]) -> ClientStats:
    """Requests, retries and tokens of every actor process, as of the last chunk each
    returned (requests in flight in an actor that died are not counted)."""
    return ClientStats(**pool.counters())
