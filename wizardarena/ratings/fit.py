"""From a battle log to a :class:`~wizardarena.leaderboard.Leaderboard`.

Steps: aggregate the log to unique rows, fit Bradley-Terry on per-pair totals, convert to
the Elo scale, then intervals (batched bootstrap over count vectors, closed-form sandwich,
or none). Online Elo is the order-dependent alternative.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from enum import Enum
from typing import Any, TypeVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components
from scipy.special import ndtri  # the normal quantile, without importing scipy.stats

from wizardarena._blas import single_threaded_blas
from wizardarena.battles import BattleLog, Outcome
from wizardarena.exceptions import (
    ConvergenceWarning,
    RidgeWarning,
    ValidationError,
    parse_enum,
)
from wizardarena.leaderboard import FitInfo, Leaderboard, as_anchor, build_table
from wizardarena.ratings.bootstrap import (
    BattleSampler,
    PromptSampler,
    run_chunks,
)
from wizardarena.ratings.bradley_terry import PairData, Ties, fit_batch, pair_data
from wizardarena.ratings.elo import online_elo, online_elo_replicates
from wizardarena.ratings.sandwich import sandwich_covariance

__all__ = ["CI", "Method", "Point", "Unit", "fit_ratings"]


class Method(str, Enum):
    BRADLEY_TERRY = "bt"
    ELO = "elo"


class CI(str, Enum):
    BOOTSTRAP = "bootstrap"
    SANDWICH = "sandwich"
    NONE = "none"


class Unit(str, Enum):
    BATTLE = "battle"
    PROMPT = "prompt"


class Point(str, Enum):
    MLE = "mle"
    MEDIAN = "median"


E = TypeVar("E", bound=Enum)


def _enum(cls: type[E], value: object, name: str) -> E:
    aliases = {"bradley-terry": "bt", "bradley_terry": "bt", "bt": "bt"}
    if cls is Method and isinstance(value, str):
        value = aliases.get(value.lower(), value)
    return parse_enum(cls, value, name)


def check_scale_options(
    ci: CI, *, level: float, rounds: int, ridge: float, scale: float, base: float
) -> None:
    """Validate the options every Bradley-Terry fit shares (core and style control)."""
    if not (0.0 < float(level) < 1.0):
        raise ValidationError(f"level must be strictly between 0 and 1; got {level!r}")
    if ci is CI.BOOTSTRAP and (not isinstance(rounds, (int, np.integer)) or rounds < 2):
        raise ValidationError(f"rounds must be an integer ≥ 2 for bootstrap CIs; got {rounds!r}")
    if not np.isfinite(ridge) or ridge <= 0:
        raise ValidationError(f"ridge must be a positive number; got {ridge!r}")
    if scale <= 0 or base <= 1:
        raise ValidationError(f"scale must be > 0 and base > 1; got scale={scale}, base={base}")


def _seed(rng: int | np.random.Generator | None) -> tuple[np.random.Generator, int | None]:
    if isinstance(rng, np.random.Generator):
        return rng, None
    if rng is None:
        entropy = np.random.SeedSequence().entropy
        seed = int(entropy) % (2**63)  # type: ignore[arg-type]
        return np.random.default_rng(seed), seed
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        return np.random.default_rng(int(rng)), int(rng)
    raise ValidationError(f"rng must be an int, a numpy Generator or None; got {rng!r}")


def ridge_diagnosis(pairs: PairData, win: np.ndarray, loss: np.ndarray, tie: np.ndarray,
                    models: tuple[str, ...], ties: Ties) -> dict[str, str]:
    """Models whose maximum-likelihood rating is infinite or not identified, with a reason.

    The MLE is finite and unique exactly when the directed graph with an edge ``i → j``
    whenever ``i`` scored against ``j`` (a win, or a tie unless ties are dropped) is strongly
    connected (Zermelo 1929; Ford 1957).
    """
    m = len(models)
    tie_counts = ties is not Ties.DROP
    i_scores = (win > 0) | ((tie > 0) & tie_counts)
    j_scores = (loss > 0) | ((tie > 0) & tie_counts)
    played = (win + loss + (tie if tie_counts else 0)) > 0
    adj = np.zeros((m, m), dtype=bool)
    adj[pairs.i[i_scores], pairs.j[i_scores]] = True
    adj[pairs.j[j_scores], pairs.i[j_scores]] = True
    und = np.zeros((m, m), dtype=bool)
    und[pairs.i[played], pairs.j[played]] = True
    _n_weak, weak = connected_components(und, directed=False)
    n_strong, strong = connected_components(adj, directed=True, connection="strong")
    out: dict[str, str] = {}
    if n_strong == 1:
        return out
    main_weak = np.bincount(weak).argmax()
    main_strong = np.bincount(strong).argmax()
    for k in range(m):
        if strong[k] == main_strong:
            continue
        if weak[k] != main_weak:
            reason = "disconnected"
        elif not adj[:, k].any():
            reason = "undefeated"
        elif not adj[k, :].any():
            reason = "winless"
        else:
            reason = "not strongly connected"
        out[models[k]] = reason
    return out


def _abs_incidence(pairs: PairData) -> sp.csr_matrix:
    """(P, M) matrix with a 1 at both models of each pair."""
    p = pairs.n_pairs
    rows = np.concatenate([np.arange(p), np.arange(p)])
    cols = np.concatenate([pairs.i, pairs.j])
    return sp.csr_matrix((np.ones(2 * p), (rows, cols)), shape=(p, pairs.n_models))


def _to_elo(theta: np.ndarray, present: np.ndarray | None, anchor_idx: int | None,
            anchor_value: float, factor: float, init: float) -> np.ndarray:
    """Natural log-strengths (B, M) → Elo, centred on present models or pinned by the anchor."""
    theta = np.array(theta, dtype=float, copy=True)
    if present is not None:
        theta[~present] = np.nan
    if anchor_idx is None:
        centre = np.nanmean(theta, axis=1, keepdims=True)
        return init + factor * (theta - centre)
    return anchor_value + factor * (theta - theta[:, [anchor_idx]])


def fit_ratings(log: BattleLog, **options: Any) -> Leaderboard:
    """Fit ratings and intervals on a validated :class:`BattleLog`; see :func:`wizardarena.rank`.

    Runs with BLAS limited to one thread (see
    :func:`~wizardarena.ratings.bootstrap.single_threaded_blas`).
    """
    with single_threaded_blas():
        return _fit_ratings(log, **options)


def _fit_ratings(
    log: BattleLog,
    *,
    method: str = "bt",
    ties: str = "half",
    ci: str = "bootstrap",
    rounds: int = 1000,
    unit: str = "battle",
    level: float = 0.95,
    anchor: Mapping[str, float] | None = None,
    point: str = "mle",
    ridge: float = 1e-6,
    k: float = 4.0,
    scale: float = 400.0,
    base: float = 10.0,
    init: float = 1000.0,
    tol: float = 1e-10,
    max_iter: int = 200,
    rng: int | np.random.Generator | None = None,
) -> Leaderboard:
    meth = _enum(Method, method, "method")
    ci_ = _enum(CI, ci, "ci")
    unit_ = _enum(Unit, unit, "unit")
    point_ = _enum(Point, point, "point")
    tie_model = _enum(Ties, ties, "ties")
    check_scale_options(ci_, level=level, rounds=rounds, ridge=ridge, scale=scale, base=base)
    if point_ is Point.MEDIAN and ci_ is not CI.BOOTSTRAP:
        raise ValidationError("point='median' needs ci='bootstrap' (it is the bootstrap median)")
    anchor_ = as_anchor(anchor, log.models)
    anchor_idx = None if anchor_ is None else log.models.index(next(iter(anchor_)))
    anchor_value = 0.0 if anchor_ is None else next(iter(anchor_.values()))
    factor = scale / np.log(base)
    gen, seed = _seed(rng)
    record = log.record()
    if meth is Method.ELO:
        return _fit_elo(log, record, ci_, rounds, level, anchor_, anchor_idx, anchor_value,
                        k, scale, base, init, gen, seed, unit_)
    if ci_ is CI.SANDWICH and tie_model is Ties.DAVIDSON:
        raise ValidationError(
            "ci='sandwich' is available for ties='half' or 'drop'; use ci='bootstrap' with "
            "the Davidson tie model"
        )
    group = "question_id" if unit_ is Unit.PROMPT and ci_ is not CI.NONE else None
    counts = log.counts(group=group)
    pairs = pair_data(counts)
    win, loss, tie = pairs.stats(counts.count)
    ridge_models = ridge_diagnosis(pairs, win, loss, tie, log.models, tie_model)
    if ridge_models:
        shown = ", ".join(f"{m} ({r})" for m, r in list(ridge_models.items())[:10])
        warnings.warn(
            f"{len(ridge_models)} model(s) have no finite maximum-likelihood rating and are "
            f"held finite only by the ridge ({ridge:g}); their ratings and intervals are not "
            f"meaningful: {shown}",
            RidgeWarning,
            stacklevel=4,
        )
    full = fit_batch(pairs, win[None], loss[None], tie[None], ties=tie_model, ridge=ridge,
                     tol=tol, max_iter=max_iter)
    theta_full = full.theta[0]
    if not full.converged[0]:
        warnings.warn(f"the Bradley-Terry fit did not converge in {max_iter} iterations",
                      ConvergenceWarning, stacklevel=4)
    m = log.n_models
    rating = _to_elo(theta_full[None, :m], None, anchor_idx, anchor_value, factor, init)[0]
    tie_param = float(np.exp(theta_full[m])) if tie_model is Ties.DAVIDSON else None
    lower = np.full(m, np.nan)
    upper = np.full(m, np.nan)
    replicates = None
    covariance = None
    b_iter, b_conv = 0, 1.0
    alpha = 1.0 - float(level)
    if ci_ is CI.BOOTSTRAP:
        sampler = (PromptSampler(pairs, counts, ties=tie_model.value) if unit_ is Unit.PROMPT
                   else BattleSampler(pairs, counts.count))
        incidence = _abs_incidence(pairs)
        with_ties = tie_model is not Ties.DROP

        def work(stats: tuple[np.ndarray, np.ndarray, np.ndarray]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
            bw, bl, bt = stats
            sol = fit_batch(pairs, bw, bl, bt, ties=tie_model, ridge=ridge, init=theta_full,
                            tol=tol, max_iter=max_iter)
            games = (bw + bl + (bt if with_ties else 0.0)) @ incidence  # (n, M) battles played
            return sol.theta[:, :m], sol.n_iter, sol.converged, games > 0

        parts = run_chunks(sampler, int(rounds), pairs.n_pairs, gen, work)
        theta_b = np.concatenate([p[0] for p in parts])
        n_iter_b = np.concatenate([p[1] for p in parts])
        conv_b = np.concatenate([p[2] for p in parts])
        present = np.concatenate([p[3] for p in parts])
        b_iter = int(n_iter_b.max())
        b_conv = float(conv_b.mean())
        if b_conv < 1.0:
            warnings.warn(
                f"{int((~conv_b).sum())} of {rounds} bootstrap fits did not converge in "
                f"{max_iter} iterations", ConvergenceWarning, stacklevel=4)
        reps = _to_elo(theta_b, present, anchor_idx, anchor_value, factor, init)
        lower = np.nanquantile(reps, alpha / 2, axis=0)
        upper = np.nanquantile(reps, 1 - alpha / 2, axis=0)
        if point_ is Point.MEDIAN:
            rating = np.nanmedian(reps, axis=0)
        replicates = pd.DataFrame(reps, columns=list(log.models))
        replicates.columns.name = "model"
        covariance = replicates.cov()
    elif ci_ is CI.SANDWICH:
        cov = sandwich_covariance(theta_full[:m], pairs, counts, ties=tie_model,
                                  cluster=unit_ is Unit.PROMPT)
        if anchor_idx is not None:
            e = np.eye(m)
            e[:, anchor_idx] -= 1.0  # rows: e_i - e_anchor
            cov = e @ cov @ e.T
        cov = cov * factor**2
        se = np.sqrt(np.clip(np.diag(cov), 0.0, None))
        z = float(ndtri(1 - alpha / 2))
        lower, upper = rating - z * se, rating + z * se
        covariance = pd.DataFrame(cov, index=list(log.models), columns=list(log.models))
    info = FitInfo(
        method="bradley-terry", ties=tie_model.value, ci=ci_.value, unit=unit_.value,
        rounds=int(rounds) if ci_ is CI.BOOTSTRAP else 0, level=float(level),
        seed=seed if ci_ is CI.BOOTSTRAP else None, anchor=anchor_, point=point_.value,
        n_iter=int(full.n_iter[0]), converged=bool(full.converged[0]),
        bootstrap_max_iter=b_iter, bootstrap_converged=b_conv, ridge=float(ridge),
        ridge_models=ridge_models, scale=float(scale), base=float(base), init=float(init),
        n_battles=log.n_battles, n_models=m, tie_param=tie_param,
    )
    table = build_table(log.models, rating, lower, upper, record)
    return Leaderboard(table=table, info=info, replicates=replicates, covariance=covariance)


def _score_a(outcome: np.ndarray) -> np.ndarray:
    return np.select([outcome == Outcome.A, outcome == Outcome.B], [1.0, 0.0], default=0.5)


def _fit_elo(
    log: BattleLog, record: pd.DataFrame, ci_: CI, rounds: int, level: float,
    anchor_: dict[str, float] | None, anchor_idx: int | None, anchor_value: float, k: float,
    scale: float, base: float, init: float, gen: np.random.Generator, seed: int | None,
    unit_: Unit,
) -> Leaderboard:
    if ci_ is CI.SANDWICH:
        raise ValidationError("method='elo' supports ci='bootstrap' or ci='none'")
    if unit_ is Unit.PROMPT:
        raise ValidationError("method='elo' resamples battles; unit='prompt' is for method='bt'")
    score = _score_a(log.outcome)
    m = log.n_models
    base_r = online_elo(log.a, log.b, score, m, k=k, scale=scale, base=base, init=init,
                        weight=log.weight)

    def shift(r: np.ndarray) -> np.ndarray:
        if anchor_idx is None:
            return r
        return r - r[..., [anchor_idx]] + anchor_value

    rating = shift(base_r[None])[0]
    lower = np.full(m, np.nan)
    upper = np.full(m, np.nan)
    replicates = covariance = None
    if ci_ is CI.BOOTSTRAP:
        reps = shift(online_elo_replicates(log.a, log.b, score, m, int(rounds), gen, k=k,
                                           scale=scale, base=base, init=init, weight=log.weight))
        alpha = 1 - level
        lower = np.quantile(reps, alpha / 2, axis=0)
        upper = np.quantile(reps, 1 - alpha / 2, axis=0)
        replicates = pd.DataFrame(reps, columns=list(log.models))
        covariance = replicates.cov()
    info = FitInfo(
        method="elo", ties="half", ci=ci_.value, unit="battle",
        rounds=int(rounds) if ci_ is CI.BOOTSTRAP else 0, level=float(level),
        seed=seed if ci_ is CI.BOOTSTRAP else None, anchor=anchor_, point="order",
        n_iter=log.n_battles, converged=True, bootstrap_max_iter=0, bootstrap_converged=1.0,
        ridge=0.0, ridge_models={}, scale=float(scale), base=float(base), init=float(init),
        n_battles=log.n_battles, n_models=m, k=float(k),
    )
    table = build_table(log.models, rating, lower, upper, record)
    return Leaderboard(table=table, info=info, replicates=replicates, covariance=covariance)
