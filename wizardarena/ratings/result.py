"""The one result assembler: from fitted parameters to ratings, intervals, ranks and diagnostics.

Whatever was fitted (plain Bradley-Terry, Davidson, style control, the position effect,
online Elo) and however its uncertainty was estimated (bootstrap replicates, a sandwich
covariance, nothing), :func:`assemble` turns it into one :class:`RatingResult`:

* ratings on the Elo scale, ``init + scale · log_base(strength)``, centred so that the mean
  over the *identified* models is ``init`` (a model held finite only by the ridge does not
  shift everyone else), or pinned by the anchor, in the point fit and in every replicate;
* intervals: percentile bootstrap (per model over the replicates in which it is present;
  the number of replicates each interval rests on is kept, and a
  :class:`~wizardarena.exceptions.DataWarning` names the models below 90 %), or normal
  intervals from a covariance;
* ranks from intervals (LMSYS), only for identified models with an interval;
* the feature coefficients (style, position) with their intervals.

The Leaderboard (one floor up, :mod:`wizardarena.leaderboard`) is built from the result.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri  # the normal quantile, without importing scipy.stats

from wizardarena.exceptions import DataWarning, ValidationError
from wizardarena.ratings.position import PositionBias

__all__ = [
    "TABLE_COLUMNS",
    "FitInfo",
    "RatingResult",
    "assemble",
    "pair_battles",
    "ranks_from_intervals",
]

TABLE_COLUMNS: tuple[str, ...] = (
    "rating",
    "lower",
    "upper",
    "rank",
    "n_battles",
    "wins",
    "ties",
    "losses",
    "win_rate",
    "n_replicates",
    "note",
)

#: share of replicates below which an interval is flagged
REPLICATE_WARNING = 0.9


def ranks_from_intervals(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """LMSYS rank: ``1 + #{j : lower_j > upper_i}``.

    A model's rank counts only the models that are confidently better; models whose
    intervals overlap share a rank. NaN bounds never count as "confidently better".

    Parameters
    ----------
    lower, upper : ndarray, shape (M,)

    Returns
    -------
    ndarray of int, shape (M,)
    """
    lo = np.asarray(lower, dtype=float)
    up = np.asarray(upper, dtype=float)
    if lo.shape != up.shape or lo.ndim != 1:
        raise ValidationError(
            f"lower and upper must be 1-d arrays of one shape; got {lo.shape} and {up.shape}"
        )
    better = lo[None, :] > up[:, None]  # better[i, j]: j is confidently above i
    return 1 + better.sum(axis=1)


@dataclass(frozen=True)
class FitInfo:
    """How a leaderboard was made.

    Attributes
    ----------
    method : str
        ``"bradley-terry"``, ``"bradley-terry+style"`` or ``"elo"``.
    ties : str
        ``"half"``, ``"drop"`` or ``"davidson"``.
    ci : str
        ``"bootstrap"``, ``"sandwich"`` or ``"none"``.
    unit : str
        Resampling unit, ``"battle"`` or ``"prompt"``.
    rounds : int
        Bootstrap rounds (0 without bootstrap).
    level : float
        Coverage level of the intervals (e.g. 0.95).
    seed : int or None
        The integer seed of the bootstrap (drawn from the OS and recorded when ``rng`` was
        None; with ``rank(by=...)`` the seed of this category's own child stream, so that
        ``rank(subset, rng=seed)`` reproduces the board; None when a Generator was passed).
    anchor : dict or None
        ``{model: rating}`` pinned in the point fit and in every replicate.
    point : str
        ``"mle"`` (full-data fit), ``"median"`` (bootstrap median) or ``"order"`` (online
        Elo over the log in its order).
    n_iter : int
        Newton steps of the full-data fit (battles for online Elo).
    converged : bool
        Whether the full-data fit converged (always True on a returned board: a fit that
        does not converge raises :class:`~wizardarena.exceptions.ConvergenceError`).
    bootstrap_max_iter : int
        Largest number of Newton steps over the bootstrap replicates (0 without bootstrap).
    bootstrap_converged : float
        Share of bootstrap replicates that converged (1.0 without bootstrap); the others
        are left out of the intervals and counted in ``n_replicates``.
    ridge : float
        Ridge coefficient (natural log-strength units).
    ridge_models : dict
        Models without a finite maximum-likelihood rating (held finite only by the ridge),
        with the reason: ``"undefeated"``, ``"winless"``, ``"disconnected"`` or ``"not
        strongly connected"``. They are marked in the table's ``note`` column and get no rank.
    scale, base, init : float
        The Elo scale: ``rating = init + scale · log_base(strength)``.
    n_battles, n_models : int
    tie_param : float or None
        Davidson's ν.
    k : float or None
        Elo K-factor.
    features : tuple of str
        Feature coefficients fitted jointly with the ratings (style features, ``position``).
    l2 : float
        L2 penalty on the feature coefficients.
    cluster : str or None
        Column whose values are the prompt units (``unit="prompt"``).
    gradient : float
        Relative gradient ``max|∇| / (1 + battles)`` at the point fit.
    """

    method: str
    ties: str
    ci: str
    unit: str
    rounds: int
    level: float
    seed: int | None
    anchor: dict[str, float] | None
    point: str
    n_iter: int
    converged: bool
    bootstrap_max_iter: int
    bootstrap_converged: float
    ridge: float
    ridge_models: dict[str, str]
    scale: float
    base: float
    init: float
    n_battles: int
    n_models: int
    tie_param: float | None = None
    k: float | None = None
    features: tuple[str, ...] = ()
    l2: float = 0.0
    cluster: str | None = None
    gradient: float = 0.0

    @property
    def interval_label(self) -> str:
        """e.g. ``"95% bootstrap CI (battle, 1000 rounds)"``."""
        pct = f"{100 * self.level:g}%"
        if self.ci == "bootstrap":
            return f"{pct} bootstrap CI ({self.unit}, {self.rounds} rounds)"
        if self.ci == "sandwich":
            return f"{pct} sandwich CI ({self.unit})"
        return "no interval"

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True, eq=False)
class RatingResult:
    """Everything a fit produced, before presentation.

    Attributes
    ----------
    table : DataFrame
        Indexed by ``model``, best first, with the columns of :data:`TABLE_COLUMNS`.
    info : FitInfo
    replicates : DataFrame or None
        Bootstrap ratings (rounds, M), NaN where a replicate lacks the model (or the anchor,
        or did not converge).
    covariance : DataFrame or None
        Covariance of the ratings in Elo², from the sandwich or the bootstrap.
    coefficients : DataFrame or None
        Feature coefficients indexed by ``feature``: ``coef`` (log-odds), ``lower``,
        ``upper``, ``se``, ``elo`` (``coef`` in Elo points), ``center``, ``spread`` (how
        the raw feature was standardised), ``kind`` (``"style"`` or ``"position"``).
    coefficient_replicates : DataFrame or None
        Bootstrap coefficients (rounds, F).
    position_bias : PositionBias or None
        With ``position=True``: the first-slot win rate, the position consistency and the
        fitted first-slot effect with its interval.
    pair_battles : DataFrame or None
        Battles (rows of the log, unweighted) between each two models, (M, M), symmetric,
        indexed and labelled by model in the log's order.
    """

    table: pd.DataFrame
    info: FitInfo
    replicates: pd.DataFrame | None = field(default=None, repr=False)
    covariance: pd.DataFrame | None = field(default=None, repr=False)
    coefficients: pd.DataFrame | None = field(default=None, repr=False)
    coefficient_replicates: pd.DataFrame | None = field(default=None, repr=False)
    position_bias: PositionBias | None = field(default=None, repr=False)
    pair_battles: pd.DataFrame | None = field(default=None, repr=False)


def pair_battles(models: tuple[str, ...], a: np.ndarray, b: np.ndarray,
                 count: np.ndarray | None = None) -> pd.DataFrame:
    """Battles between each two models, (M, M) symmetric, from the model codes of a log
    (or of its unique rows, with ``count`` battles each)."""
    m = len(models)
    n = np.bincount(np.asarray(a, dtype=np.int64) * m + np.asarray(b, dtype=np.int64),
                    weights=count, minlength=m * m).reshape(m, m).astype(np.int64)
    idx = pd.Index(list(models), name="model")
    return pd.DataFrame(n + n.T, index=idx, columns=list(models))


@dataclass(frozen=True)
class Scale:
    """How natural log-strengths become Elo ratings."""

    factor: float
    init: float
    anchor_idx: int | None = None
    anchor_value: float = 0.0

    def to_elo(self, r: np.ndarray, usable: np.ndarray) -> np.ndarray:
        """Natural log-strengths (B, M) → Elo. ``usable`` (B, M) marks the present models;
        centring uses the present *identified* ones (``usable`` must already exclude the
        unidentified when they should not count). Models not present become NaN."""
        r = np.array(r, dtype=float, copy=True)
        if self.anchor_idx is None:
            w = usable.astype(float)
            n = w.sum(axis=1, keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                centre = (np.where(usable, r, 0.0)).sum(axis=1, keepdims=True) / n
            return self.init + self.factor * (r - centre)
        return self.anchor_value + self.factor * (r - r[:, [self.anchor_idx]])


@dataclass(frozen=True, eq=False)
class Uncertainty:
    """What the interval step produced: replicates or a covariance (natural units)."""

    theta: np.ndarray | None = None  # (B, K) replicate parameters
    present: np.ndarray | None = None  # (B, M) model present in the replicate
    ok: np.ndarray | None = None  # (B,) replicate converged
    winless: np.ndarray | None = None  # (B, M) scored nothing in the replicate: −∞
    undefeated: np.ndarray | None = None  # (B, M) conceded nothing in the replicate: +∞
    covariance: np.ndarray | None = None  # (K, K) natural units (sandwich)


def _centring(m: int, identified: np.ndarray, scale: Scale) -> np.ndarray:
    """(M, M) linear map from log-strengths to centred (or anchored) log-strengths."""
    if scale.anchor_idx is not None:
        c = np.eye(m)
        c[:, scale.anchor_idx] -= 1.0
        return c
    w = identified / max(int(identified.sum()), 1)
    return np.eye(m) - np.ones((m, 1)) * w[None, :]


def assemble(
    *,
    models: tuple[str, ...],
    record: pd.DataFrame,
    theta: np.ndarray,
    identified: np.ndarray,
    notes: dict[str, str],
    scale: Scale,
    uncertainty: Uncertainty,
    level: float,
    point: str,
    feature_names: tuple[str, ...] = (),
    feature_kinds: tuple[str, ...] = (),
    feature_center: np.ndarray | None = None,
    feature_spread: np.ndarray | None = None,
    info: FitInfo,
    position: PositionBias | None = None,
    pairs: pd.DataFrame | None = None,
    stacklevel: int = 2,
) -> RatingResult:
    """Assemble a :class:`RatingResult` (see the module docstring).

    ``theta`` is the point fit ``(r, β, …)`` in natural units; only its first
    ``M + len(feature_names)`` coordinates are used. ``pairs`` (from :func:`pair_battles`)
    is passed through as ``RatingResult.pair_battles``.
    """
    m = len(models)
    f = len(feature_names)
    alpha = 1.0 - float(level)
    ident_row = identified[None, :]
    rating = scale.to_elo(theta[None, :m], ident_row)[0]
    lower = np.full(m, np.nan)
    upper = np.full(m, np.nan)
    n_rep = np.full(m, np.nan)
    coef = theta[m:m + f].astype(float)
    c_lower = np.full(f, np.nan)
    c_upper = np.full(f, np.nan)
    c_se = np.full(f, np.nan)
    replicates = covariance = coef_reps = None
    u = uncertainty
    if u.theta is not None:
        assert u.present is not None and u.ok is not None  # internal invariant
        present = u.present & u.ok[:, None]
        lost = np.zeros_like(present) if u.winless is None else u.winless & present
        won = np.zeros_like(present) if u.undefeated is None else u.undefeated & present
        finite = present & ~lost & ~won
        reps = scale.to_elo(u.theta[:, :m], finite & ident_row)
        # a model that scored nothing (or conceded nothing) in a replicate has a maximum-
        # likelihood rating of −∞ (+∞) there; its ridge-held number would be arbitrary
        reps[lost] = -np.inf
        reps[won] = np.inf
        reps[~present] = np.nan
        if scale.anchor_idx is not None:
            reps[~finite[:, scale.anchor_idx]] = np.nan
        n_rep = (~np.isnan(reps)).sum(axis=0).astype(float)
        rounds = reps.shape[0]
        low = np.flatnonzero(n_rep < REPLICATE_WARNING * rounds)
        if low.size:
            shown = ", ".join(f"{models[k]} ({int(n_rep[k])} of {rounds})" for k in low[:10])
            warnings.warn(
                f"{low.size} model(s) have an interval resting on fewer than "
                f"{REPLICATE_WARNING:.0%} of the {rounds} bootstrap replicates (absent from "
                f"the others{', or the anchor was' if scale.anchor_idx is not None else ''}); "
                f"their intervals are less reliable: {shown}",
                DataWarning, stacklevel=stacklevel + 1,
            )
        lower, upper = percentile_bounds(reps, alpha)
        if point == "median":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
                rating = np.nanmedian(reps, axis=0)
        notes = dict(notes)
        for k in np.flatnonzero((lost | won).any(axis=0)):
            if models[k] in notes:
                continue
            share = [(int(lost[:, k].sum()), "winless"), (int(won[:, k].sum()), "undefeated")]
            notes[models[k]] = "; ".join(f"{what} in {c} of {int(n_rep[k])} replicates"
                                         for c, what in share if c)
        replicates = pd.DataFrame(reps, columns=pd.Index(list(models), name="model"))
        covariance = replicates.replace([np.inf, -np.inf], np.nan).cov()
        if f:
            beta = u.theta[u.ok, m:m + f]
            c_lower = np.quantile(beta, alpha / 2, axis=0)
            c_upper = np.quantile(beta, 1 - alpha / 2, axis=0)
            c_se = beta.std(axis=0, ddof=1) if beta.shape[0] > 1 else np.full(f, np.nan)
            coef_reps = pd.DataFrame(beta, columns=pd.Index(list(feature_names), name="feature"))
    elif u.covariance is not None:
        z = float(ndtri(1 - alpha / 2))
        c = _centring(m, identified, scale) * scale.factor
        cov_r = c @ u.covariance[:m, :m] @ c.T
        se = np.sqrt(np.clip(np.diag(cov_r), 0.0, None))
        lower, upper = rating - z * se, rating + z * se
        covariance = pd.DataFrame(cov_r, index=list(models), columns=list(models))
        if f:
            c_se = np.sqrt(np.clip(np.diag(u.covariance)[m:m + f], 0.0, None))
            c_lower, c_upper = coef - z * c_se, coef + z * c_se
    ranks = np.full(m, np.nan)
    ok = identified & ~np.isnan(lower) & ~np.isnan(upper)
    if ok.any():
        ranks[ok] = ranks_from_intervals(lower[ok], upper[ok])
    table = _table(models, rating, lower, upper, ranks, record, n_rep, notes)
    coefficients = None
    if f:
        factor = scale.factor
        coefficients = pd.DataFrame(
            {"coef": coef, "lower": c_lower, "upper": c_upper, "se": c_se,
             "elo": coef * factor,
             "center": np.zeros(f) if feature_center is None else feature_center,
             "spread": np.ones(f) if feature_spread is None else feature_spread,
             "kind": list(feature_kinds) if feature_kinds else ["style"] * f},
            index=pd.Index(list(feature_names), name="feature"),
        )
    if position is not None and position.identified:
        row = coefficients.loc["position"] if coefficients is not None else None
        assert row is not None  # internal invariant: a fitted, identified position column
        position = replace(position, effect=float(row["elo"]),
                           lower=float(row["lower"]) * scale.factor,
                           upper=float(row["upper"]) * scale.factor)
    return RatingResult(table=table, info=info, replicates=replicates, covariance=covariance,
                        coefficients=coefficients, coefficient_replicates=coef_reps,
                        position_bias=position, pair_battles=pairs)


def percentile_bounds(reps: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bounds per column, ignoring NaN; ±∞ replicates (winless, undefeated) count
    as the extremes they are: a bound that falls on (or interpolates towards) one is ±∞."""
    big = np.finfo(float).max / 4
    tame = np.where(np.isposinf(reps), big, np.where(np.isneginf(reps), -big, reps))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
        lo = np.nanquantile(tame, alpha / 2, axis=0)
        hi = np.nanquantile(tame, 1 - alpha / 2, axis=0)
    edge = np.finfo(float).max / 1e10
    for bound in (lo, hi):
        bound[bound > edge] = np.inf
        bound[bound < -edge] = -np.inf
    return lo, hi


def _table(models: tuple[str, ...], rating: np.ndarray, lower: np.ndarray, upper: np.ndarray,
           ranks: np.ndarray, record: pd.DataFrame, n_rep: np.ndarray,
           notes: dict[str, str]) -> pd.DataFrame:
    idx = pd.Index(list(models), name="model")
    t = pd.DataFrame({"rating": rating, "lower": lower, "upper": upper}, index=idx)
    t["rank"] = pd.array(np.where(np.isfinite(ranks), ranks, 0).astype(np.int64), dtype="Int64")
    t.loc[~np.isfinite(ranks), "rank"] = pd.NA
    rec = record.reindex(idx)
    for c in ("n_battles", "wins", "ties", "losses"):
        t[c] = rec[c].to_numpy(dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        t["win_rate"] = (t["wins"] + 0.5 * t["ties"]) / t["n_battles"]
    reps = pd.array(np.where(np.isfinite(n_rep), n_rep, 0).astype(np.int64), dtype="Int64")
    t["n_replicates"] = reps
    t.loc[~np.isfinite(n_rep), "n_replicates"] = pd.NA
    t["note"] = [notes.get(str(mdl), "") for mdl in models]
    t = t.sort_values(["rating"], ascending=[False], kind="mergesort")
    return t[list(TABLE_COLUMNS)]
