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
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.arena.actors import judge_pool, pool_stats
from wizardarena.arena.answers import answers_frame, normalize_prompts
from wizardarena.arena.judges import Judge
from wizardarena.arena.judging import MatchJudge, Outcome, OutcomeKind
from wizardarena.arena.pairing import (
    AdaptiveSampler,
    Match,
    PairingMode,
    iter_matches,
    model_pairs,
)
from wizardarena.arena.store import (
    JudgmentRecord,
    JudgmentStore,
    failure_summary,
    open_store,
)
from wizardarena.battles import read_battles
from wizardarena.endpoints import AsyncClient, ClientStats, run_sync, run_workers
from wizardarena.exceptions import (
    EndpointError,
    ValidationError,
    WizardArenaWarning,
)
from wizardarena.progress import Progress, ProgressCallback, ProgressOption, progress_callback
from wizardarena.ratings.fit import fit
from wizardarena.ratings.options import RatingOptions
from wizardarena.ratings.position import PositionBias
from wizardarena.ratings.position import position_stats as position_stats_of
from wizardarena.ray import Engine, RayEngine, check_engine, engine_for

#: a run whose first this many requests were all rejected stops (see the module docstring)
SYSTEMATIC_REJECTIONS = 20

__all__ = [
    "ArenaResult",
    "Progress",
    "arun_arena",
    "position_stats",
    "run_arena",
]


@dataclass(frozen=True)
class ArenaResult:
    """Outcome of :func:`run_arena`.

    Attributes
    ----------
    battles : pandas.DataFrame
        The battle log of this judge and template (all stored successful judgments, earlier
        runs included); empty when run with ``load=False``.
    failed : pandas.DataFrame
        Stored failed judgments of this judge and template (earlier runs included): key,
        ``reason`` (``"unparseable verdict"``, ``"HTTP 400 context_length_exceeded"`` ...),
        raw judge text and error message.
    n_scheduled : int
        Judgments in the schedule.
    n_skipped : int
        Scheduled judgments already in the store (not requested).
    n_ok, n_failed, n_errors : int
        Results of this run: parsed; stored as failed (unparseable verdicts and requests the
        endpoint rejected for good, ``n_rejected`` of them); requests whose transient
        failures outlasted the retries (not stored; a rerun asks again).
    requests, retries : int
        HTTP attempts and retries of this run.
    prompt_tokens, completion_tokens : int
        Judge tokens of this run.
    first_slot_win_rate : float
        Share of decisive battles won by the model in the first slot (NaN if none); 0.5
        means no position bias.
    position_consistency : float
        Share of (question, pair, turn) judged in both orders whose two verdicts name the
        same winner (or both a tie); NaN if none.
    elapsed : float
        Seconds.
    judge, template, template_hash : str
    errors : tuple of str
        The first few request-failure messages, each starting with the judgment's key.
    n_rejected : int
        Of ``n_failed``, the requests the endpoint rejected (permanent failures).
    """

    battles: pd.DataFrame
    failed: pd.DataFrame
    n_scheduled: int
    n_skipped: int
    n_ok: int
    n_failed: int
    n_errors: int
    requests: int
    retries: int
    prompt_tokens: int
    completion_tokens: int
    first_slot_win_rate: float
    position_consistency: float
    elapsed: float
    judge: str
    template: str
    template_hash: str
    errors: tuple[str, ...] = ()
    n_rejected: int = 0

    def summary(self) -> pd.Series:
        """The scalar statistics as a Series."""
        keys = ["n_scheduled", "n_skipped", "n_ok", "n_failed", "n_rejected", "n_errors",
                "requests", "retries", "prompt_tokens", "completion_tokens",
                "first_slot_win_rate", "position_consistency", "elapsed"]
        return pd.Series({k: getattr(self, k) for k in keys}, name="arena", dtype=object)

    @cached_property
    def position_bias(self) -> PositionBias:
        """First-slot win rate, position consistency and the fitted first-slot effect (in
        Elo, with its 95% sandwich interval; see ``wa.rank(..., position=True)``) of the
        battle log, fitted by the rating engine."""
        if len(self.battles) == 0:
            return PositionBias(math.nan, math.nan, 0, 0)
        log = read_battles(self.battles)
        if log.n_models < 2:
            return position_stats_of(log)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", WizardArenaWarning)
            result = fit(log, RatingOptions(position=True, ci="sandwich"))
        assert result.position_bias is not None  # internal invariant: position=True
        return result.position_bias

    def failure_summary(self, first: int = 3) -> pd.DataFrame:
        """Stored failed judgments counted by reason, with the first ``first`` keys and the
        first message (see :meth:`JudgmentStore.failure_summary`)."""
        return failure_summary(self.failed, first=first)


def position_stats(battles: pd.DataFrame) -> tuple[float, float]:
    """First-slot win rate and position-consistency rate of a battle log.

    Parameters
    ----------
    battles : pandas.DataFrame
        Columns ``question_id, model_a, model_b, winner`` (``model_a`` shown first; and
        ``turn`` if present).

    Returns
    -------
    (first_slot_win_rate, position_consistency) : tuple of float
        See :class:`~wizardarena.ratings.position.PositionBias`; NaN when undefined.
    """
    if len(battles) == 0:
        return math.nan, math.nan
    report = position_stats_of(read_battles(battles))
    return report.first_slot_win_rate, report.position_consistency


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


async def arun_arena(
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
    """Async version of :func:`run_arena` (same parameters)."""
    with progress_callback(progress) as report:
        eng = check_engine(engine, ray_address=ray_address, workers=workers)
        if order not in ("balanced", "fixed"):
            raise ValidationError(f"order must be 'balanced' or 'fixed'; got {order!r}")
        if not isinstance(judge, Judge):
            raise ValidationError(f"judge must be a wizardarena Judge; got {type(judge).__name__}")
        if missing not in ("raise", "skip"):
            raise ValidationError(f"missing must be 'raise' or 'skip'; got {missing!r}")
        if not isinstance(concurrency, int) or concurrency < 1:
            raise ValidationError(f"concurrency must be an integer >= 1; got {concurrency!r}")
        prompt_frame = normalize_prompts(prompts)
        amap = _answer_map(answers_frame(answers))
        try:
            mode = PairingMode(pairs)
        except ValueError:
            raise ValidationError(
                f"pairs must be one of {[m.value for m in PairingMode]}; got {pairs!r}"
            ) from None
        pair_list = model_pairs(sorted(amap), mode=mode, baseline=baseline, target=target,
                                opponents=opponents)
        involved = sorted({m for p in pair_list for m in p})
        q_turns, _ = _check_coverage(amap, prompt_frame, involved, missing)
        if mode is PairingMode.ADAPTIVE and (budget is None or budget < 1):
            raise ValidationError(f"pairs='adaptive' needs budget= a positive number of "
                                  f"judgments; got {budget!r}")
        tpl = judge.template
        turns: dict[str, tuple[str, ...]] = dict(zip(prompt_frame.index, prompt_frame["turns"]))
        client: AsyncClient | None = None
        pool: Any = None
        if eng is Engine.RAY:  # judge actors on the cluster; this process writes the store
            on_ray = engine_for(engine, ray_address=ray_address, workers=workers,
                                purpose="engine='ray' (battles on a Ray cluster)")
            assert on_ray is not None  # engine is "ray"
            pool = judge_pool(on_ray, judge, turns, amap, concurrency=concurrency,
                              workers=workers)
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
    return run_sync(arun_arena(
        answers, prompts, judge, store=store, pairs=pairs, baseline=baseline, target=target,
        opponents=opponents, both_orders=both_orders, order=order, order_seed=order_seed,
        all_turns=all_turns, budget=budget,
        concurrency=concurrency, retry_failed=retry_failed, missing=missing,
        progress=progress, load=load, rng=rng, engine=engine, ray_address=ray_address,
        workers=workers,
    ))
