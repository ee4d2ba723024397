"""``wizardarena.rank``: the one call from a battle log (or models and a judge) to a board.

A thin composition of the stages: with ``judge=`` the arena runs the battles
(:func:`wizardarena.arena.runner.run_arena`); the log is read (:mod:`wizardarena.battles`,
batch by batch into counts when it is a dataset); the rating engine fits it
(:func:`wizardarena.ratings.fit.fit`); the board wraps the result
(:class:`~wizardarena.leaderboard.Leaderboard`). The rating options are built once, as a
:class:`~wizardarena.ratings.options.RatingOptions`, and passed down.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, overload

import numpy as np

from wizardarena.arena.runner import run_arena
from wizardarena.battles import BattleLog, BattleSource, CountedLog, Vocabulary, read_battles
from wizardarena.battles.checks import check_prompt_column
from wizardarena.battles.streams import is_dataset, open_dataset, read_counts
from wizardarena.exceptions import Param, ValidationError
from wizardarena.leaderboard import Leaderboard
from wizardarena.progress import ProgressCallback, ProgressOption, progress_callback
from wizardarena.ratings.fit import category_seed, fit_log
from wizardarena.ratings.options import CI, Method, RatingOptions, Unit
from wizardarena.ray import Engine, RayEngine, check_engine, engine_for

__all__ = ["category_seed", "rank"]


_Options = Any


@overload
def rank(battles: BattleSource, *, by: None = None, **options: _Options) -> Leaderboard: ...
@overload
def rank(battles: BattleSource, *, by: str, **options: _Options) -> dict[str, Leaderboard]: ...


def rank(  # type: ignore[misc]
    battles: BattleSource,
    *,
    method: str = "bt",
    ci: str = "bootstrap",
    rounds: int = 1000,
    unit: str = "battle",
    level: float = 0.95,
    anchor: Mapping[str, float] | None = None,
    ties: str = "half",
    point: str | None = None,
    cluster: str | None = None,
    k: float = 4.0,
    scale: float = 400.0,
    base: float = 10.0,
    init: float = 1000.0,
    ridge: float = 1e-6,
    style: bool | str | Sequence[str] | None = None,
    standardize: str = "symmetric",
    l2: float = 1e-6,
    position: bool = False,
    tol: float = 1e-10,
    max_iter: int = 100,
    options: RatingOptions | None = None,
    answers: Any = None,
    tokenizer: Callable[[str], int] | None = None,
    outcomes: str | Vocabulary = "fastchat",
    strong_weight: float = 1.0,
    normalize_names: bool = False,
    by: str | None = None,
    judge: Any = None,
    prompts: Any = None,
    store: Any = None,
    pairs: str = "all",
    arena_options: Mapping[str, Any] | None = None,
    progress: ProgressOption = True,
    rng: int | np.random.Generator | None = None,
    engine: str = "local",
    ray_address: str | None = None,
) -> Leaderboard | dict[str, Leaderboard]:
    """Rank models from a battle log: Bradley-Terry (or Elo) ratings with intervals.

    Parameters
    ----------
    battles : path, DataFrame, pyarrow Table, list of dict, or BattleLog
        The battle log (see :mod:`wizardarena.battles`): a ``.parquet``, ``.jsonl``,
        ``.json`` or ``.csv`` file, or an in-memory table with ``model_a``, ``model_b``,
        ``winner``; or a **dataset too large to hold**: a directory of Parquet files
        (searched recursively) or a glob (``"logs/*.parquet"``), read batch by batch into
        counts (:mod:`wizardarena.battles.streams`; memory bounded by the unique rows, not
        the battles) and fitted exactly as in memory. Such a log takes every Bradley-Terry
        option but ``style=`` and ``by=``, and not ``method="elo"`` (they need the battles
        themselves); its position consistency is not computed.
    method : {"bt", "elo"}, default "bt"
        Bradley-Terry maximum likelihood, or online Elo (order dependent; a diagnostic).
    ci : {"bootstrap", "sandwich", "none"}, default "bootstrap"
        How intervals are made. The bootstrap resamples aggregated counts and fits all
        replicates in one batched solve; the sandwich is the closed-form robust covariance.
    rounds : int, default 1000
        Bootstrap rounds.
    unit : {"battle", "prompt"}, default "battle"
        Resampling unit: battles (LMSYS), or prompts (cluster bootstrap / cluster sandwich by
        ``question_id``), which an offline arena needs because games on one prompt are
        correlated.
    level : float, default 0.95
        Interval coverage level.
    anchor : {model: rating}, optional
        Pin one model's rating (in the fit and in every replicate), e.g.
        ``{"mixtral-8x7b-instruct-v0.1": 1114}`` as LMSYS. Default: mean rating ``init``.
    ties : {"half", "drop", "davidson"}, default "half"
        A tie is half a win each way (LMSYS), is left out, or follows Davidson's model
        (Bradley-Terry only; online Elo takes ``half`` or ``drop``).
    point : {"mle", "median", "order"}, optional
        Point estimate: the full-data MLE (Bradley-Terry's default), the bootstrap median
        (WizardArena), or, for online Elo, the log in its order (Elo's default).
    outcomes : str, default "fastchat"
        Vocabulary of the ``winner`` column (``fastchat``, ``ab``, ``numeric``,
        ``arena-hard``, ``left-right``); never guessed.
    strong_weight : float, default 1
        Weight of strong Arena-Hard verdicts (``A>>B``); Arena-Hard uses 3.
    normalize_names : bool, default False
        Merge model names that differ only by case or surrounding spaces (which raise
        otherwise); see :func:`~wizardarena.battles.read_battles`.
    cluster : str, optional
        With ``unit="prompt"``: the column holding the prompt id (default ``question_id``).
    by : str, optional
        Column to split on (e.g. ``"category"``); returns one board per value. Each value
        gets its own seed, derived from the seed and the value alone (recorded in
        ``board.info.seed``), so a category's intervals do not depend on which other
        categories exist, and ``rank(subset, rng=board.info.seed)`` reproduces the board.
    k : float, default 4
        Elo K-factor (``method="elo"``).
    scale, base, init : float, default 400, 10, 1000
        ``rating = init + scale · log_base(strength)``.
    ridge : float, default 1e-6
        Tiny L2 penalty that keeps undefeated, winless or disconnected models finite; such
        models are listed in ``board.info.ridge_models`` and a ``RidgeWarning`` is issued.
    style : True, "style" or list of str, optional
        Style control (contextual Bradley-Terry, as LMSYS): fit ratings jointly with style
        coefficients — ``True`` for answer length, markdown headers, lists and bold (from
        ``answers`` or the log's count/text columns ``tokens_a, tokens_b, ...`` or
        ``answer_a, answer_b``), or a list of numeric feature columns (and/or style feature
        names). The board's ratings are then style-controlled and ``board.style`` holds the
        coefficients with intervals. A feature that is constant over the battles (plain-text
        answers have no headers) is left out with a ``DataWarning``.
    answers : DataFrame or mapping, optional
        The answers style features are computed from: a table ``question_id, model,
        answer`` (answer = text or list of assistant turns) or ``{(question_id, model):
        answer}``.
    standardize : {"symmetric", "zscore", "none"}, default "symmetric"
        Scaling of the style features: a z-score over the battles in both orientations
        (invariant to which model is ``model_a``), LMSYS's z-score as oriented in the log,
        or none.
    l2 : float, default 1e-6
        ``l2/2 · Σ β²`` on the style coefficients (sum-over-battles scale; arena-rank's
        ``reg`` on its mean loss is ``l2 = reg · N``).
    tokenizer : callable, optional
        ``tokenizer(text) -> int`` for the ``tokens`` style feature.
    position : bool, default False
        Fit a first-slot (position) effect jointly with the ratings: one parameter added to
        the logit of the model shown first (``model_a``), the home-advantage model. The
        ratings are then corrected for it; ``board.position`` holds the effect in Elo
        points with its interval and ``board.position_bias`` the first-slot win rate, the
        position consistency and the effect. When the order is determined by the models
        (the same model always first) the effect is not identified: a ``DataWarning`` says
        so and no number is reported.
    tol, max_iter
        Convergence of the Newton solver: relative gradient ``max|∇| / (1 + battles)`` and
        the step limit (a fit that stops at round-off converges whatever ``tol``; one that
        runs out of steps raises ``ConvergenceError``).
    options : RatingOptions, optional
        Every rating option above as one object
        (:class:`~wizardarena.ratings.options.RatingOptions`, what the command line builds);
        then leave the rating keywords at their defaults.
    prompts, judge, store, pairs, arena_options
        Run the battles first: with ``judge`` (a :class:`wizardarena.arena.Judge`),
        ``battles`` is the models' answers (``{model: answers}``, a DataFrame or a path, see
        :func:`wizardarena.arena.answers.answers_frame`), ``prompts`` the test set and
        ``store`` the SQLite judgment store (a rerun resumes). ``pairs`` is ``"all"``,
        ``"baseline"``, ``"target"`` or ``"adaptive"``; ``arena_options`` go to
        :func:`wizardarena.arena.runner.run_arena` (``baseline=``, ``concurrency=``, ...).
        Use ``run_arena`` directly for the arena's statistics (failures, tokens, position
        consistency).
    progress : bool or callable, default True
        Progress of the judgments (with ``judge``) and of the bootstrap: ``True`` draws a
        ``tqdm.auto`` bar (a widget in notebooks, a bar on terminals, nothing in logs; the
        bootstrap's bar only when it runs longer than a second), ``False`` nothing, a
        callable gets :class:`~wizardarena.progress.Progress` events (stages ``"judge"``,
        ``"bootstrap"``). See :mod:`wizardarena.progress`.
    rng : int, numpy Generator or None
        Seed for the bootstrap. With None a seed is drawn and recorded in
        ``board.info.seed``.
    engine : {"local", "ray"}, default "local"
        ``"ray"`` (CLI ``--ray``; extra ``ray``): Ray Data counts a Parquet dataset (or file)
        where its row groups are read, and only the counts come to this process, where the
        fit runs (:mod:`wizardarena.ray.counts`); with ``judge=``, the battles are judged
        on Ray too. The result is the local one.
    ray_address : str, optional
        The Ray cluster (CLI ``--ray-address``; default ``RAY_ADDRESS``, else a local Ray
        runtime).

    Returns
    -------
    Leaderboard, or dict of Leaderboard (with ``by``)

    Examples
    --------
    >>> import wizardarena as wa
    >>> log = wa.simulate_battles({"a": 1100, "b": 1000, "c": 900}, 3000, rng=0)
    >>> board = wa.rank(log, rounds=200, rng=0)
    >>> board.table.index[0]
    'a'
    """
    given = RatingOptions(
        method=method, ci=ci, rounds=rounds, unit=unit, level=level, anchor=anchor,
        ties=ties, point=point, cluster=cluster, k=k, scale=scale, base=base, init=init,
        ridge=ridge, l2=l2, position=position, style=style, standardize=standardize,
        tol=tol, max_iter=max_iter)
    if options is None:
        options = given
    elif not isinstance(options, RatingOptions):
        raise ValidationError(f"options must be a RatingOptions; got {type(options).__name__}")
    elif given != RatingOptions():
        changed = sorted(k for k, v in given.as_dict().items()
                         if v != RatingOptions().as_dict()[k])
        raise ValidationError(
            Param("options"), f" holds every rating option; the keywords {changed} cannot be "
            "given with it: set them in the RatingOptions instead")
    check_engine(engine, ray_address=ray_address)
    with progress_callback(progress) as report:
        on_ray = engine_for(engine, ray_address=ray_address,
                            purpose="engine='ray' (rank on a Ray cluster)")
        if judge is not None:
            battles = _run_battles(battles, judge=judge, prompts=prompts, store=store,
                                   pairs=pairs, arena_options=arena_options,
                                   progress=report, engine=on_ray)
            on_ray = None  # the battle log is in memory now
        elif isinstance(battles, Mapping):
            raise ValidationError(
                "a mapping of model answers needs judge= (and prompts=, store=) to run "
                "battles; to rank an existing battle log pass a path, a DataFrame or a list "
                "of dicts")
        log = _read(battles, options, on_ray=on_ray, by=by, outcomes=outcomes,
                    strong_weight=strong_weight, normalize_names=normalize_names)
        result = fit_log(log, options, answers=answers, tokenizer=tokenizer, by=by, rng=rng,
                         progress=report)
        if isinstance(result, dict):
            return {value: Leaderboard.from_result(r) for value, r in result.items()}
        return Leaderboard.from_result(result)


def _run_battles(answers: Any, *, judge: Any, prompts: Any, store: Any, pairs: str,
                 arena_options: Mapping[str, Any] | None, progress: ProgressCallback | None,
                 engine: RayEngine | None) -> Any:
    """The battle log of ``answers`` judged by ``judge`` (the arena stage)."""
    if store is None:
        raise ValidationError("running battles needs store= (the path of the judgment store)")
    if prompts is None:
        raise ValidationError("running battles needs prompts= (the test set)")
    arena = {"progress": progress if progress is not None else False,
             **dict(arena_options or {})}
    if engine is not None:
        arena["engine"] = engine
    return run_arena(answers, prompts, judge, store=store, pairs=pairs, **arena).battles


def _read(battles: Any, options: RatingOptions, *, on_ray: RayEngine | None, by: str | None,
          outcomes: Any, strong_weight: float, normalize_names: bool
          ) -> BattleLog | CountedLog:
    """The log: in memory, or read batch by batch into counts when it is a dataset (or
    when the counting runs on Ray)."""
    if not _streamed(battles, on_ray):
        return read_battles(battles, outcomes=outcomes, strong_weight=strong_weight,
                            normalize_names=normalize_names)
    for name, value in (("by", by), ("style", options.style)):
        if value is not None and value is not False:  # refused before anything is read
            raise ValidationError(
                Param(name, repr(value)), " needs every battle in memory, and a dataset is "
                "read batch by batch into counts: rank one file (or a DataFrame) instead, "
                "e.g. each category's file on its own")
    if options.method is Method.ELO:
        raise ValidationError(
            "online Elo needs every battle in its order, and a dataset is read batch by "
            "batch into counts: rank one file (or a DataFrame), or use ",
            Param("method", "'bt'"))
    ds = open_dataset(battles)
    check_prompt_column(ds.extra_columns, unit=Unit(options.unit).value,
                        ci=CI(options.ci).value, cluster=options.cluster)
    group = options.cluster_column if options.by_prompt else None
    return read_counts(ds, outcomes=outcomes, strong_weight=strong_weight,
                       normalize_names=normalize_names, group=group,
                       engine=on_ray if on_ray is not None else Engine.LOCAL)


def _streamed(battles: Any, on_ray: RayEngine | None) -> bool:
    """Whether ``battles`` is read as a dataset, batch by batch, into counts."""
    if is_dataset(battles):
        return True
    if on_ray is not None:
        if not isinstance(battles, (str, os.PathLike)):
            raise ValidationError(
                Param("engine", "'ray'", cli=""), " counts battle-log files on the cluster; "
                f"an in-memory log ({type(battles).__name__}) is ranked in this process: "
                "leave the engine out, or pass a Parquet file, directory or glob")
        return True
    return False
