"""Orchestration: answers x prompts x pairs x orders -> judge -> store -> battle log.

One entry point, :func:`run_arena` (sync, notebook-safe) / :func:`arun_arena` (async)::

    result = run_arena({"model-x": answers_x, "model-y": answers_y}, prompts, judge,
                       store="arena.sqlite", pairs="all", both_orders=True, concurrency=32)
    result.battles          # the battle log (pandas DataFrame, contract in store.BATTLE_COLUMNS)
    result.failed           # unparseable judgments with the judge's raw text
    result.first_slot_win_rate, result.position_consistency, result.prompt_tokens, ...

Every scheduled (question, pair, turn, order) that is not yet in the store is requested once;
each result is committed as soon as it arrives. Failures follow the three classes of
:mod:`wizardarena.endpoints.failures`:

- *fatal for the run* (bad key, unknown model or path, not an OpenAI endpoint, the circuit
  breaker opened): the run stops at once, cancelling the requests in flight, and raises the
  client's error (status, redacted URL, the server's message and the likely fix); everything
  judged so far stays in the store. A run whose first 20 requests were all rejected, when
  no judgment of this judge and template ever succeeded, stops the same way (that is a
  misconfiguration, not 20 bad questions);
- *permanent for one request* (400, 413, 422 ...): stored as a failed judgment under its key
  with the server's message and a ``reason``; the run goes on;
- *transient* (429, 5xx, timeouts ...): retried by the client; when its retries run out the
  judgment is counted in ``n_errors`` and not stored, so a rerun asks again.

A rerun skips what is stored, failed judgments too (unparseable verdicts and rejected
requests), unless ``retry_failed=True``. ``ArenaResult.failure_summary()`` counts the stored
failures by reason and names the first keys.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.arena.actors import judge_pool, pool_stats
from wizardarena.arena.answers import answers_frame, normalize_prompts
from wizardarena.arena.judges import Judge
from wizardarena.arena.judging import MatchJudge, Outcome, OutcomeKind
from wizardarena.arena.options import ArenaOptions
from wizardarena.arena.pairing import (
    AdaptiveSampler,
    Match,
    PairingMode,
    iter_matches,
    model_pairs,
)
from wizardarena.arena.result import ArenaResult, position_stats
from wizardarena.arena.store import (
    JudgmentRecord,
    JudgmentStore,
    open_store,
)
from wizardarena.endpoints import AsyncClient, ClientStats, run_sync, run_workers
from wizardarena.exceptions import (
    EndpointError,
    ValidationError,
)
from wizardarena.progress import Progress, ProgressCallback, ProgressOption, progress_callback
from wizardarena.ray import Engine, RayEngine, engine_for

#: a run whose first this many requests were all rejected stops (see the module docstring)
SYSTEMATIC_REJECTIONS = 20

__all__ = [
    "ArenaResult",
    "Progress",
    "arun_arena",
    "judge_battles",
    "position_stats",
    "run_arena",
]


class _Run:
    """State of one run (counters, store, client); single event-loop thread.

    Judgments are made by :class:`~wizardarena.arena.judging.MatchJudge` (here, through
    ``client``) or by the judge actors of a Ray ``pool``; either way their outcomes come back
    to :meth:`apply`, and only this object writes the store."""

    def __init__(self, judge: Judge, store: JudgmentStore, client: AsyncClient | None,
                 prompts: pd.DataFrame, turns: Mapping[str, tuple[str, ...]],
                 answers: Mapping[str, Mapping[str, tuple[str, ...]]],
                 total: int, progress: ProgressCallback | None, retry_failed: bool,
                 guard: bool = False, pool: Any = None) -> None:
        self.judge = judge
        self.tpl = judge.template
        self.store = store
        self.pool = pool  # the judge actors' pool with engine="ray" (arena.actors)
        self.category: dict[str, str | None] = (
            dict(zip(prompts.index, prompts["category"])) if "category" in prompts else {}
        )
        self.judging = (MatchJudge(judge, client, turns, answers) if client is not None
                        else None)
        self.total = total
        self.progress = progress
        self.retry_failed = retry_failed
        self.guard = guard  # stop when every request so far was rejected (see the docstring)
        self.stop: EndpointError | None = None
        self.ok = self.failed = self.rejected = self.errors = self.done = 0
        self.pt = self.ct = 0
        self.error_messages: list[str] = []
        self.t0 = time.perf_counter()
        self.outcomes: list[tuple[str, str, str]] = []  # adaptive mode feedback
        self.collect = False

    def _record(self, o: Outcome) -> None:
        m = o.match
        self.store.put(JudgmentRecord(
            m.question_id, m.model_a, m.model_b, m.game, m.turn, self.judge.model,
            self.tpl.name, self.tpl.hash, self.category.get(m.question_id),
            o.kind is OutcomeKind.OK, o.winner, o.verdict, o.score_a, o.score_b, o.raw,
            o.error, o.prompt_tokens, o.completion_tokens, o.attempts, o.tstamp, o.reason,
        ), replace_failed=self.retry_failed)

    async def judge_one(self, m: Match) -> None:
        assert self.judging is not None  # local engine
        self.apply(await self.judging(m))

    def apply(self, o: Outcome) -> None:
        """Store one outcome and count it (the driver's half of every judgment)."""
        if o.kind is OutcomeKind.ERROR:
            self._error(o.error or "")
            return
        self._record(o)
        if o.kind is OutcomeKind.REJECTED:
            self.failed += 1
            self.rejected += 1
            self._check_systematic(o)
            self._tick()
            return
        if o.kind is OutcomeKind.OK:
            self.ok += 1
            if self.collect and o.winner is not None:
                self.outcomes.append((o.match.model_a, o.match.model_b, o.winner))
        else:
            self.failed += 1
        self.pt += o.prompt_tokens
        self.ct += o.completion_tokens
        self._tick()

    def _check_systematic(self, o: Outcome) -> None:
        if not self.guard or self.ok or self.failed > self.rejected:
            return
        if self.stop is not None:  # another worker tripped the guard: the same error
            raise self.stop
        if self.rejected >= SYSTEMATIC_REJECTIONS:
            self.stop = EndpointError(
                o.status, f"the first {self.rejected} requests of this run were all "
                f"rejected ({o.reason}); the last said: {o.error}", url=o.url,
                reason=o.reason or "",
                hint="this looks like a setting, not bad questions (max_tokens too large for "
                     "the model's context? a parameter the server does not accept?); fix it, "
                     "then rerun with retry_failed=True (--retry-failed) to ask the stored "
                     "failures again")
            raise self.stop

    def _error(self, message: str) -> None:
        self.errors += 1
        if len(self.error_messages) < 10:
            self.error_messages.append(message)
        self._tick()

    def _tick(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.snapshot())

    def snapshot(self) -> Progress:
        return Progress("judge", self.done, self.total, unit="judgment", ok=self.ok,
                        failed=self.failed, errors=self.errors, prompt_tokens=self.pt,
                        completion_tokens=self.ct, elapsed=time.perf_counter() - self.t0)

    async def run(self, matches: Iterator[Match], concurrency: int) -> None:
        if self.pool is not None:  # engine="ray": the actors judge, outcomes come back here
            await self.pool.run(((m.question_id, m.model_a, m.model_b, m.game, m.turn)
                                 for m in matches), self.apply)
            return
        await run_workers((self.judge_one(m) for m in matches), concurrency)


def _answer_map(frame: pd.DataFrame) -> dict[str, dict[str, tuple[str, ...]]]:
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for model, qid, turns in zip(frame["model"], frame["question_id"], frame["turns"]):
        out.setdefault(str(model), {})[str(qid)] = tuple(turns)
    return out


def _check_coverage(answers: Mapping[str, Mapping[str, tuple[str, ...]]],
                    prompts: pd.DataFrame, models: Sequence[str],
                    missing: str) -> tuple[dict[str, int], int]:
    """Question -> turns to judge; drop questions lacking answers when ``missing='skip'``."""
    q_turns: dict[str, int] = {}
    problems: list[str] = []
    skipped = 0
    for qid, turns in zip(prompts.index, prompts["turns"]):
        need = len(turns)
        bad = [m for m in models if len(answers.get(m, {}).get(qid, ())) < need]
        if bad:
            skipped += 1
            if len(problems) < 5:
                problems.append(f"{qid!r} ({', '.join(bad[:3])})")
            continue
        q_turns[str(qid)] = need
    if skipped and missing == "raise":
        raise ValidationError(
            f"answers: {skipped} question(s) lack an answer (with every turn) from some model; "
            f"first: {'; '.join(problems)}. Pass missing='skip' to judge only complete questions"
        )
    if not q_turns:
        raise ValidationError("answers: no question has answers from every model")
    return q_turns, skipped


async def judge_battles(answers: Any, prompts: Any, judge: Judge,
                        options: ArenaOptions) -> ArenaResult:
    """The one body of a run: :func:`run_arena` and :func:`arun_arena` build ``options``
    from their keyword arguments and come here."""
    o = options
    store, baseline, target, opponents = o.store, o.baseline, o.target, o.opponents
    both_orders, order, order_seed, all_turns = o.both_orders, o.order, o.order_seed, o.all_turns
    budget, concurrency, retry_failed, missing = o.budget, o.concurrency, o.retry_failed, o.missing
    load, rng, mode = o.load, o.rng, o.mode
    with progress_callback(o.progress) as report:
        if not isinstance(judge, Judge):
            raise ValidationError(f"judge must be a wizardarena Judge; got {type(judge).__name__}")
        prompt_frame = normalize_prompts(prompts)
        amap = _answer_map(answers_frame(answers))
        pair_list = model_pairs(sorted(amap), mode=mode, baseline=baseline, target=target,
                                opponents=opponents)
        involved = sorted({m for p in pair_list for m in p})
        q_turns, _ = _check_coverage(amap, prompt_frame, involved, missing)
        tpl = judge.template
        turns: dict[str, tuple[str, ...]] = dict(zip(prompt_frame.index, prompt_frame["turns"]))
        client: AsyncClient | None = None
        pool: Any = None
        if o.on_ray():  # judge actors on the cluster; this process writes the store
            on_ray = engine_for(o.engine, ray_address=o.ray_address, workers=o.workers,
                                purpose="engine='ray' (battles on a Ray cluster)")
            assert on_ray is not None  # engine is "ray"
            pool = judge_pool(on_ray, judge, turns, amap, concurrency=concurrency,
                              workers=o.workers)
        else:
            client = judge.async_client(concurrency)
        st, owned = open_store(store)
        try:
            existing = st.existing(judge.model, tpl.hash, include_failed=not retry_failed)
            guard = not st.existing(judge.model, tpl.hash, include_failed=False)
            if mode is PairingMode.ADAPTIVE and budget is not None:
                n_sched, n_skip, run = await _run_adaptive(
                    judge, st, client, prompt_frame, turns, amap, q_turns, existing, budget,
                    concurrency, report, retry_failed, both_orders, all_turns, rng, guard, order,
                    order_seed, pool)
            else:
                def schedule() -> Iterator[Match]:
                    return iter_matches(q_turns, pair_list, both_orders=both_orders,
                                        all_turns=all_turns, order=order, order_seed=order_seed)

                n_sched = n_skip = 0
                for m in schedule():
                    n_sched += 1
                    n_skip += (m.question_id, m.model_a, m.model_b, m.game, m.turn) in existing
                todo = (m for m in schedule()
                        if (m.question_id, m.model_a, m.model_b, m.game, m.turn) not in existing)
                run = _Run(judge, st, client, prompt_frame, turns, amap, n_sched - n_skip, report,
                           retry_failed, guard, pool)
                await run.run(todo, concurrency)
            battles = st.battles(judge=judge.model, template_hash=tpl.hash) if load else \
                pd.DataFrame(columns=[])
            failed = st.failed(judge=judge.model, template_hash=tpl.hash)
            first, consistency = position_stats(battles) if load else (math.nan, math.nan)
            stats: ClientStats = pool_stats(pool) if pool is not None else \
                client.stats  # type: ignore[union-attr]
            return ArenaResult(
                battles=battles, failed=failed, n_scheduled=n_sched, n_skipped=n_skip,
                n_ok=run.ok, n_failed=run.failed, n_errors=run.errors,
                requests=stats.attempts, retries=stats.retries,
                prompt_tokens=run.pt, completion_tokens=run.ct, first_slot_win_rate=first,
                position_consistency=consistency, elapsed=time.perf_counter() - run.t0,
                judge=judge.model, template=tpl.name, template_hash=tpl.hash,
                errors=tuple(run.error_messages), n_rejected=run.rejected,
            )
        finally:
            if client is not None:
                await client.aclose()
            if pool is not None:
                await pool.close()
            if owned:
                st.close()


async def arun_arena(answers: Any, prompts: Any, judge: Judge, *,
                     store: str | os.PathLike[str] | JudgmentStore,
                     **options: Any) -> ArenaResult:
    """Async version of :func:`run_arena` (same parameters, as keyword arguments of
    :class:`~wizardarena.arena.options.ArenaOptions`)."""
    return await judge_battles(answers, prompts, judge, ArenaOptions(store=store, **options))


async def _run_adaptive(
    judge: Judge, st: JudgmentStore, client: AsyncClient | None, prompts: pd.DataFrame,
    turns: Mapping[str, tuple[str, ...]], amap: Mapping[str, Mapping[str, tuple[str, ...]]],
    q_turns: Mapping[str, int],
    existing: set[tuple[str, str, str, int, int]], budget: int, concurrency: int,
    progress: ProgressCallback | None, retry_failed: bool, both_orders: bool,
    all_turns: bool, rng: int | np.random.Generator | None, guard: bool, order: str,
    order_seed: int, pool: Any = None,
) -> tuple[int, int, _Run]:
    sampler = AdaptiveSampler(sorted(amap), list(q_turns), rng=rng,
                              batch_pairs=max(1, concurrency // (2 if both_orders else 1)))
    stored = st.battles(judge=judge.model, template_hash=judge.template.hash)
    outcome = {(q, a, b, int(g), int(t)): w for q, a, b, g, t, w in zip(
        stored["question_id"], stored["model_a"], stored["model_b"], stored["game"],
        stored["turn"], stored["winner"])}
    run = _Run(judge, st, client, prompts, turns, amap, budget, progress, retry_failed, guard, pool)
    run.collect = True
    n_sched = n_skip = 0
    while n_sched < budget:
        batch = sampler.next_pairs()
        if not batch:
            break
        todo: list[Match] = []
        for a, b, q in batch:
            sub = {q: q_turns[q]}
            for m in iter_matches(sub, [(a, b)], both_orders=both_orders, all_turns=all_turns,
                                  order=order, order_seed=order_seed):
                if n_sched >= budget:
                    break
                n_sched += 1
                k = (m.question_id, m.model_a, m.model_b, m.game, m.turn)
                if k in existing:
                    n_skip += 1
                    if k in outcome:
                        sampler.record(m.model_a, m.model_b, outcome[k])
                else:
                    todo.append(m)
        run.total = budget - n_skip
        await run.run(iter(todo), concurrency)
        for a, b, w in run.outcomes:
            sampler.record(a, b, w)
        run.outcomes.clear()
    return n_sched, n_skip, run


def run_arena(
    answers: Any,
    prompts: Any,
    judge: Judge,
    *,
    store: str | os.PathLike[str] | JudgmentStore,
    pairs: PairingMode | str = "all",
    baseline: str | None = None,
    target: str | None = None,
    opponents: Sequence[str] | None = None,
    both_orders: bool = True,
    order: str = "balanced",
    order_seed: int = 0,
    all_turns: bool = True,
    budget: int | None = None,
    concurrency: int = 32,
    retry_failed: bool = False,
    missing: str = "raise",
    progress: ProgressOption = True,
    load: bool = True,
    rng: int | np.random.Generator | None = None,
    engine: Engine | str | RayEngine = "local",
    ray_address: str | None = None,
    workers: int | None = None,
) -> ArenaResult:
    """Judge pairwise battles between models' answers and store them durably.

    Parameters
    ----------
    answers : mapping of model to answers, DataFrame, or path
        See :func:`wizardarena.arena.answers.answers_frame`; every model involved must have
        answered every prompt (all turns) unless ``missing="skip"``.
    prompts : DataFrame, path, sequence or mapping
        See :func:`wizardarena.arena.answers.normalize_prompts` (``question_id``, ``turns`` or
        ``prompt``, optional ``category``).
    judge : Judge
        Endpoint, model and template of the judge.
    store : path or JudgmentStore
        The SQLite judgment store; a rerun with the same store resumes.
    pairs : {"all", "baseline", "target", "adaptive"}, default "all"
        See :mod:`wizardarena.arena.pairing`.
    baseline, target, opponents : optional
        For ``pairs="baseline"`` / ``"target"``.
    both_orders : bool, default True
        Judge every comparison in both slot orders (game 0 and game 1). Judging one order
        halves the judge's bill; the judge's position preference then enters the ratings
        unless the order is balanced (the default ``order``) — fit it with
        ``wa.rank(..., position=True)``.
    order : {"balanced", "fixed"}, default "balanced"
        With ``both_orders=False``: each (prompt, pair, turn) is shown in a seeded random
        order, so each model is first about half the time (baseline and target modes too);
        ``"fixed"`` shows the canonical order (the baseline or target first; in ``"all"``
        mode the alphabetically first model). The order is recorded: ``model_a`` is the
        model shown first, ``game`` 0 or 1.
    order_seed : int, default 0
        Seed of the balanced order (the same seed gives the same orders, so reruns resume).
    all_turns : bool, default True
        Judge every turn of multi-turn prompts (else only the last).
    budget : int, optional
        Number of judgments for ``pairs="adaptive"`` (required there).
    concurrency : int, default 32
        Judge requests in flight (per actor with ``engine="ray"``).
    retry_failed : bool, default False
        Re-request judgments stored as failed (unparseable verdicts and requests the
        endpoint rejected); a success replaces them (CLI ``--retry-failed``).
    missing : {"raise", "skip"}, default "raise"
        What to do with questions some model has no (complete) answer for.
    progress : bool or callable, default True
        A progress bar (``True``: ``tqdm.auto``, drawn in notebooks and on terminals, not
        in logs), none (``False``), or a callable called with a
        :class:`~wizardarena.progress.Progress` event (stage ``"judge"``, counters ``ok``,
        ``failed``, ``errors`` and tokens) after every finished judgment (keep it cheap).
        See :mod:`wizardarena.progress`.
    load : bool, default True
        Read the battle log back into the result (False for very large runs: export from the
        store instead).
    rng : int, numpy.random.Generator or None
        Prompt order of the adaptive sampler.
    engine : {"local", "ray"}, default "local"
        ``"ray"`` judges on a Ray cluster (CLI ``--ray``; extra ``ray``): ``workers`` judge
        actors, each with its own client and ``concurrency`` requests in flight, while this
        process alone writes the store (:mod:`wizardarena.arena.actors`). Same schedule, same
        resume rule, same failure classes.
    ray_address : str, optional
        The Ray cluster (CLI ``--ray-address``; default the ``RAY_ADDRESS`` environment
        variable, else a local Ray runtime).
    workers : int, optional
        Judge actors with ``engine="ray"`` (CLI ``--ray-workers``; default one per CPU of
        the cluster).

    Returns
    -------
    ArenaResult

    Raises
    ------
    EndpointError, EndpointUnreachableError
        The endpoint cannot serve the run (fatal failures, see the module docstring); what
        was judged before is in the store.

    Notes
    -----
    Works from plain scripts and inside a running event loop (notebooks): there it runs in
    a worker thread.
    """
    return run_sync(judge_battles(answers, prompts, judge, ArenaOptions(
        store=store, pairs=pairs, baseline=baseline, target=target, opponents=opponents,
        both_orders=both_orders, order=order, order_seed=order_seed, all_turns=all_turns,
        budget=budget, concurrency=concurrency, retry_failed=retry_failed, missing=missing,
        progress=progress, load=load, rng=rng, engine=engine, ray_address=ray_address,
        workers=workers)))
