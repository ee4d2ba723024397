"""``wizardarena.rank``: the one call from a battle log to a leaderboard."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, overload

import numpy as np

from wizardarena.battle_checks import check_anchor, prompt_clusters
from wizardarena.battles import BattleSource, Vocabulary, read_battles
from wizardarena.exceptions import ValidationError
from wizardarena.leaderboard import Leaderboard
from wizardarena.ratings.fit import fit_ratings

__all__ = ["rank"]


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
    point: str = "mle",
    outcomes: str | Vocabulary = "fastchat",
    strong_weight: float = 1.0,
    normalize_names: bool = False,
    cluster: str | None = None,
    by: str | None = None,
    k: float = 4.0,
    scale: float = 400.0,
    base: float = 10.0,
    init: float = 1000.0,
    ridge: float = 1e-6,
    style: bool | str | Sequence[str] | None = None,
    answers: Any = None,
    prompts: Any = None,
    judge: Any = None,
    store: Any = None,
    pairs: str = "all",
    arena_options: Mapping[str, Any] | None = None,
    rng: int | np.random.Generator | None = None,
) -> Leaderboard | dict[str, Leaderboard]:
    """Rank models from a battle log: Bradley-Terry (or Elo) ratings with intervals.

    Parameters
    ----------
    battles : path, DataFrame, pyarrow Table, list of dict, or BattleLog
        The battle log (see :mod:`wizardarena.battles`): a ``.parquet``, ``.jsonl``,
        ``.json`` or ``.csv`` file, or an in-memory table with ``model_a``, ``model_b``,
        ``winner``.
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
        A tie is half a win each way (LMSYS), is left out, or follows Davidson's model.
    point : {"mle", "median"}, default "mle"
        Point estimate: the full-data MLE, or the bootstrap median (WizardArena).
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
        Column to split on (e.g. ``"category"``); returns one board per value.
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
        ``answers`` or the log's count/text columns), or a list of numeric feature columns.
        The board's ratings are then style-controlled and ``board.style`` holds the
        coefficients with intervals. See :func:`wizardarena.ratings.style.fit_style`.
    answers : DataFrame or mapping, optional
        The answers style features are computed from (``question_id, model, answer``).
    prompts, judge, store, pairs, arena_options
        Run the battles first: with ``judge`` (a :class:`wizardarena.arena.Judge`),
        ``battles`` is the models' answers (``{model: answers}``, a DataFrame or a path, see
        :func:`wizardarena.arena.answers.answers_frame`), ``prompts`` the test set and
        ``store`` the SQLite judgment store (a rerun resumes). ``pairs`` is ``"all"``,
        ``"baseline"``, ``"target"`` or ``"adaptive"``; ``arena_options`` go to
        :func:`wizardarena.arena.runner.run_arena` (``baseline=``, ``concurrency=``, ...).
        Use ``run_arena`` directly for the arena's statistics (failures, tokens, position
        consistency).
    rng : int, numpy Generator or None
        Seed for the bootstrap. With None a seed is drawn and recorded in
        ``board.info.seed``.

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
    if judge is not None:
        from wizardarena.arena.runner import run_arena

        if store is None:
            raise ValidationError("running battles needs store= (the path of the judgment store)")
        if prompts is None:
            raise ValidationError("running battles needs prompts= (the test set)")
        result = run_arena(battles, prompts, judge, store=store, pairs=pairs,
                           **dict(arena_options or {}))
        battles = result.battles
    elif isinstance(battles, Mapping):
        raise ValidationError(
            "a mapping of model answers needs judge= (and prompts=, store=) to run battles; "
            "to rank an existing battle log pass a path, a DataFrame or a list of dicts"
        )
    log = read_battles(battles, outcomes=outcomes, strong_weight=strong_weight,
                       normalize_names=normalize_names)
    log = prompt_clusters(log, unit=unit, ci=ci, cluster=cluster)
    check_anchor(log, anchor)
    if style is not None and style is not False:
        if by is not None:
            raise ValidationError("style= and by= cannot be combined; split the log first")
        if method not in ("bt", "bradley-terry"):
            raise ValidationError("style control fits Bradley-Terry; use method='bt'")
        if point != "mle":
            raise ValidationError("style control reports the full-data fit (point='mle')")
        from wizardarena.ratings.style import fit_style

        fit = fit_style(
            log, features=style, answers=answers, ci=ci, rounds=rounds, unit=unit,
            level=level, anchor=anchor, ties=ties, ridge=ridge, scale=scale, base=base,
            init=init, rng=rng,
        )
        return replace(fit.board, style=fit.coefficients)
    options: dict[str, Any] = dict(
        method=method, ci=ci, rounds=rounds, unit=unit, level=level, anchor=anchor, ties=ties,
        point=point, k=k, scale=scale, base=base, init=init, ridge=ridge,
    )
    if by is None:
        return fit_ratings(log, rng=rng, **options)
    col = log.column(by)
    if col.isna().any():
        rows = np.flatnonzero(col.isna().to_numpy())[:5].tolist()
        raise ValidationError(f"column {by!r} has missing values (rows {rows}); cannot split by it")
    gen = np.random.default_rng(rng)
    boards: dict[str, Leaderboard] = {}
    values = col.to_numpy()
    for value in sorted(set(values.tolist()), key=str):
        sub = log.subset(values == value)
        if sub.n_models < 2:
            raise ValidationError(
                f"{by}={value!r} has battles of fewer than two models; cannot rank it"
            )
        boards[str(value)] = fit_ratings(sub, rng=gen, **options)
    return boards
