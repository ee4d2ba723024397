"""Agreement metrics between two leaderboards (pure numpy/scipy, no I/O).

Every metric is a public function usable on its own. Inputs are either pandas objects
indexed by model name (``Series`` of ratings, or ``DataFrame`` with ``rating`` and/or
``lower``/``upper`` columns such as ``Leaderboard.table`` and ``Reference.table``) or plain
1-d arrays already aligned model by model. Pandas inputs must cover exactly the same models
(order does not matter); anything else raises :class:`~wizardarena.exceptions.ValidationError`
naming the models found on one side only.

Definitions follow Arena-Hard (Li et al. 2024, arXiv 2406.11939) and WizardArena (Luo et al.
2024, arXiv 2407.10627, appendix):

* :func:`spearman`, :func:`kendall` (tau-b), :func:`pearson` over the common models;
* :func:`separability`: share of model pairs whose intervals do not overlap;
* :func:`agreement_with_ci`: over pairs the reference separates, +1 / -1 / 0;
* :func:`brier`: pair-rank Brier score of Gaussian forecasts P(a above b);
* :func:`top_k_overlap`;
* :func:`consistency`: WizardArena's average of Spearman, agreement-with-CI, separability.

Interval convention: two intervals are *separated* only when one lies strictly above the
other (``lower_a > upper_b``); intervals that touch (``lower_a == upper_b``) overlap. This is
the LMSYS rank rule used by :func:`wizardarena.leaderboard.ranks_from_intervals`. (The
Arena-Hard script counts touching intervals as separated; with continuous bootstrap bounds
the difference practically never matters.)

The ``*_rows`` kernels evaluate a metric for every row of a replicate matrix at once; the
scalar functions are the one-row case of the same kernels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr

from wizardarena.exceptions import ValidationError

__all__ = [
    "AgreementScale",
    "agreement_with_ci",
    "brier",
    "consistency",
    "kendall",
    "pair_verdicts",
    "pearson",
    "separability",
    "spearman",
    "top_k_overlap",
]

RatingsLike = pd.Series | pd.DataFrame | np.ndarray | Sequence[float]
IntervalsLike = pd.DataFrame | np.ndarray


class AgreementScale(str, Enum):
    """How :func:`agreement_with_ci` reports its mean verdict.

    ``signed``
        the mean of the +1 / -1 / 0 verdicts, in [-1, 1] (DESIGN.md, WizardArena).
    ``proportion``
        ``(1 + signed) / 2`` in [0, 1]: an agreeing pair scores 1, an unseparated pair 0.5,
        a contradicting pair 0 (the convention of the Arena-Hard analysis script).
    """

    SIGNED = "signed"
    PROPORTION = "proportion"


# ----------------------------------------------------------------------------- validation
def _name(x: Any) -> str:
    return repr(x) if not isinstance(x, str) else x


def _as_series(x: RatingsLike, arg: str, column: str = "rating") -> pd.Series | np.ndarray:
    if isinstance(x, pd.DataFrame):
        if column not in x.columns:
            raise ValidationError(
                f"{arg} is a DataFrame without a {column!r} column; columns are {list(x.columns)}"
            )
        x = x[column]
    if isinstance(x, pd.Series):
        if x.index.has_duplicates:
            dup = x.index[x.index.duplicated()].unique().tolist()[:5]
            raise ValidationError(f"{arg} has duplicated model names: {dup}")
        return x.astype(float)
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise ValidationError(f"{arg} must be 1-d; got shape {arr.shape}")
    return arr


def _check_finite(arr: np.ndarray, arg: str, names: Sequence[Any] | None) -> None:
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        where = [names[i] for i in bad[:5]] if names is not None else bad[:5].tolist()
        raise ValidationError(
            f"{arg} must be finite numbers; got {arr[bad[:5]].tolist()} at {where}"
        )


def _align_index(a: pd.Index, b: pd.Index, arg_a: str, arg_b: str) -> None:
    if set(a) != set(b):
        only_a = sorted(map(str, set(a) - set(b)))[:5]
        only_b = sorted(map(str, set(b) - set(a)))[:5]
        raise ValidationError(
            f"{arg_a} and {arg_b} must cover the same models; only in {arg_a}: {only_a}, "
            f"only in {arg_b}: {only_b} (match names first, e.g. with "
            "wizardarena.agreement.match_models)"
        )


def _pair(
    ours: RatingsLike, theirs: RatingsLike, *, minimum: int = 2
) -> tuple[np.ndarray, np.ndarray, list[Any] | None]:
    """Two aligned float vectors (ours order) plus model names when known."""
    a = _as_series(ours, "ours")
    b = _as_series(theirs, "theirs")
    names: list[Any] | None = None
    if isinstance(a, pd.Series) and isinstance(b, pd.Series):
        _align_index(a.index, b.index, "ours", "theirs")
        b = b.reindex(a.index)
        names = list(a.index)
        a_arr, b_arr = a.to_numpy(dtype=float), b.to_numpy(dtype=float)
    elif isinstance(a, pd.Series) or isinstance(b, pd.Series):
        raise ValidationError(
            "ours and theirs must both be indexed by model (Series/DataFrame) or both be "
            f"plain arrays; got {type(ours).__name__} and {type(theirs).__name__}"
        )
    else:
        a_arr, b_arr = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        if a_arr.shape != b_arr.shape:
            raise ValidationError(
                f"ours and theirs must have the same length; got {a_arr.size} and {b_arr.size}"
            )
    if a_arr.size < minimum:
        raise ValidationError(f"need at least {minimum} common models; got {a_arr.size}")
    _check_finite(a_arr, "ours", names)
    _check_finite(b_arr, "theirs", names)
    return a_arr, b_arr, names


def _intervals(x: IntervalsLike, arg: str) -> tuple[np.ndarray, np.ndarray, pd.Index | None]:
    """(lower, upper, index) from a DataFrame with lower/upper or an (M, 2) array."""
    if isinstance(x, pd.DataFrame):
        missing = [c for c in ("lower", "upper") if c not in x.columns]
        if missing:
            raise ValidationError(
                f"{arg} needs columns 'lower' and 'upper'; missing {missing} "
                f"(columns are {list(x.columns)})"
            )
        if x.index.has_duplicates:
            dup = x.index[x.index.duplicated()].unique().tolist()[:5]
            raise ValidationError(f"{arg} has duplicated model names: {dup}")
        lo = x["lower"].to_numpy(dtype=float)
        up = x["upper"].to_numpy(dtype=float)
        index: pd.Index | None = x.index
    else:
        arr = np.asarray(x, dtype=float)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise ValidationError(
                f"{arg} must be a DataFrame with lower/upper or an array of shape (M, 2); "
                f"got shape {arr.shape}"
            )
        lo, up = arr[:, 0], arr[:, 1]
        index = None
    names = list(index) if index is not None else None
    _check_finite(lo, f"{arg} lower", names)
    _check_finite(up, f"{arg} upper", names)
    bad = np.flatnonzero(lo > up)
    if bad.size:
        where = [names[i] for i in bad[:5]] if names is not None else bad[:5].tolist()
        raise ValidationError(
            f"{arg}: lower must be <= upper; violated at {where} "
            f"(lower {lo[bad[:5]].tolist()}, upper {up[bad[:5]].tolist()})"
        )
    return lo, up, index


# ----------------------------------------------------------------------------- kernels
def pearson_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Pearson r of every row of ``x`` (B, M) with ``y`` (M,); NaN where undefined."""
    xc = x - x.mean(axis=1, keepdims=True)
    yc = y - y.mean()
    num = xc @ yc
    den = np.sqrt((xc * xc).sum(axis=1) * (yc @ yc))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return np.clip(r, -1.0, 1.0)


def spearman_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Spearman rho (Pearson on average ranks, ties averaged) of each row of ``x`` with ``y``."""
    from scipy.stats import rankdata  # imported here: scipy.stats costs ~0.7 s at import

    return pearson_rows(rankdata(x, axis=1), rankdata(y))


def _pair_index(m: int) -> tuple[np.ndarray, np.ndarray]:
    return np.triu_indices(m, k=1)


def kendall_rows(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Kendall tau-b of each row of ``x`` with ``y`` (ties in either ranking handled)."""
    i, j = _pair_index(y.size)
    sy = np.sign(y[i] - y[j])
    sx = np.sign(x[:, i] - x[:, j])
    num = sx @ sy
    den = np.sqrt(np.count_nonzero(sx, axis=1) * np.count_nonzero(sy))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)


def top_k_rows(x: np.ndarray, y: np.ndarray, k: int, names: np.ndarray) -> np.ndarray:
    """Share of the reference top-k found in each row's top-k (ties broken by model order)."""
    order_y = np.lexsort((names, -y))[:k]
    top_y = np.zeros(y.size, dtype=bool)
    top_y[order_y] = True
    out = np.empty(x.shape[0])
    for b in range(x.shape[0]):  # k-selection per row; B is small (bootstrap rounds)
        order_x = np.lexsort((names, -x[b]))[:k]
        out[b] = top_y[order_x].sum() / k
    return out


def _separated(lo: np.ndarray, up: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """+1 if i is confidently above j, -1 if below, 0 if the intervals overlap (or touch)."""
    return (lo[i] > up[j]).astype(np.int8) - (lo[j] > up[i]).astype(np.int8)


def diff_sd(cov: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Standard deviation of the rating difference of each pair (i, j) under ``cov``."""
    var = cov[i, i] + cov[j, j] - 2.0 * cov[i, j]
    return np.sqrt(np.clip(var, 0.0, None))


def forecast(diff: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """P(a above b) = Phi(diff / sd); certain (0, 0.5 or 1) where sd == 0."""
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(sd > 0, diff / np.where(sd > 0, sd, 1.0), np.sign(diff) * np.inf)
    p = ndtr(z)
    return np.where((sd == 0) & (diff == 0), 0.5, p)


# ----------------------------------------------------------------------------- metrics
def spearman(ours: RatingsLike, theirs: RatingsLike) -> float:
    """Spearman rank correlation between two leaderboards.

    Pearson correlation of the average ranks (ties share their mean rank), as
    :func:`scipy.stats.spearmanr`. Symmetric in its arguments.

    Parameters
    ----------
    ours, theirs : Series, DataFrame with ``rating``, or array, shape (M,)
        Ratings of the same M >= 2 models (pandas: indexed by model, any order).

    Returns
    -------
    float in [-1, 1]

    Raises
    ------
    ValidationError
        Different model sets or lengths, non-finite ratings, fewer than 2 models, or a
        constant ranking (correlation undefined).
    """
    return _one_pair(spearman_rows, ours, theirs, "spearman")


def kendall(ours: RatingsLike, theirs: RatingsLike) -> float:
    """Kendall rank correlation tau-b between two leaderboards.

    ``(concordant - discordant) / sqrt((P - T_ours) (P - T_theirs))`` over the
    ``P = M (M - 1) / 2`` pairs, with ``T`` the pairs tied in one ranking; equals
    :func:`scipy.stats.kendalltau` (variant ``"b"``). Symmetric in its arguments.

    Takes and checks its arguments as :func:`spearman`; returns a float in [-1, 1].
    """
    return _one_pair(kendall_rows, ours, theirs, "kendall")


def pearson(ours: RatingsLike, theirs: RatingsLike) -> float:
    """Pearson correlation of the ratings themselves (sensitive to scale differences
    between the top and the bottom of the board, unlike the rank correlations).

    Takes and checks its arguments as :func:`spearman`; returns a float in [-1, 1].
    """
    return _one_pair(pearson_rows, ours, theirs, "pearson")


def _one_pair(rows: Callable[[np.ndarray, np.ndarray], np.ndarray], ours: RatingsLike,
              theirs: RatingsLike, name: str) -> float:
    """The correlation ``rows`` of two leaderboards (``name`` in the error when undefined)."""
    a, b, _ = _pair(ours, theirs)
    return _defined(float(rows(a[None, :], b)[0]), name)


def _defined(value: float, name: str) -> float:
    if not np.isfinite(value):
        raise ValidationError(
            f"{name} is undefined: one of the leaderboards gives every model the same rating"
        )
    return value


def separability(intervals: IntervalsLike) -> float:
    """Share of model pairs whose intervals do not overlap (Arena-Hard "separability").

    A pair counts as separated when ``lower_a > upper_b`` or ``lower_b > upper_a``;
    touching intervals overlap. The metric describes one leaderboard alone: how many of
    its orderings are confident.

    Parameters
    ----------
    intervals : DataFrame with ``lower`` and ``upper`` columns, or array, shape (M, 2)
        e.g. ``board.table``.

    Returns
    -------
    float in [0, 1]
    """
    lo, up, _ = _intervals(intervals, "intervals")
    if lo.size < 2:
        raise ValidationError(f"separability needs at least 2 models; got {lo.size}")
    i, j = _pair_index(lo.size)
    return float(np.mean(_separated(lo, up, i, j) != 0))


def pair_verdicts(ours: IntervalsLike, theirs: IntervalsLike) -> pd.DataFrame:
    """Per model pair: how each leaderboard separates it, and the agreement verdict.

    Parameters
    ----------
    ours, theirs : DataFrame with ``lower``, ``upper`` (indexed by model), or arrays (M, 2)

    Returns
    -------
    DataFrame, one row per unordered pair (M (M - 1) / 2 rows), columns ``model_a``,
    ``model_b`` (``model_a`` comes first in ``theirs``' ordering: by its ``rating`` column
    when present, else by interval midpoint; ties by name), ``ours`` and ``theirs``
    (+1: a confidently above b, -1: below, 0: overlap) and ``verdict`` (``ours * theirs``
    where ``theirs`` separates the pair, else <NA>).
    """
    lo_o, up_o, idx_o = _intervals(ours, "ours")
    lo_t, up_t, idx_t = _intervals(theirs, "theirs")
    if idx_o is not None and idx_t is not None:
        _align_index(idx_o, idx_t, "ours", "theirs")
        pos = idx_t.get_indexer(idx_o)
        lo_t, up_t = lo_t[pos], up_t[pos]
        names = np.array([str(m) for m in idx_o], dtype=object)
    elif (idx_o is None) != (idx_t is None):
        raise ValidationError("ours and theirs must both be DataFrames or both arrays")
    else:
        if lo_o.size != lo_t.size:
            raise ValidationError(
                f"ours and theirs must have the same length; got {lo_o.size} and {lo_t.size}"
            )
        names = np.array([str(k) for k in range(lo_o.size)], dtype=object)
    if lo_o.size < 2:
        raise ValidationError(f"need at least 2 common models; got {lo_o.size}")
    key = (lo_t + up_t) / 2
    if isinstance(theirs, pd.DataFrame) and "rating" in theirs.columns:
        key = theirs["rating"].to_numpy(dtype=float)
        if idx_o is not None and idx_t is not None:
            key = key[idx_t.get_indexer(idx_o)]
    order = np.lexsort((names, -key))
    i, j = _pair_index(lo_o.size)
    i, j = order[i], order[j]  # i comes before j in the reference order
    theirs_s = _separated(lo_t, up_t, i, j)
    ours_s = _separated(lo_o, up_o, i, j)
    verdict = pd.array(np.where(theirs_s != 0, ours_s * theirs_s, 0), dtype="Int8")
    verdict[theirs_s == 0] = pd.NA
    return pd.DataFrame(
        {
            "model_a": names[i],
            "model_b": names[j],
            "ours": ours_s,
            "theirs": theirs_s,
            "verdict": verdict,
        }
    )


def agreement_with_ci(
    ours: IntervalsLike, theirs: IntervalsLike, *, scale: str | AgreementScale = "signed"
) -> float:
    """Agreement with confidence intervals (Arena-Hard).

    Over the pairs the reference (``theirs``) separates confidently, a pair scores +1 when
    ours separates it the same way, -1 when ours separates it the other way, and 0 when our
    intervals overlap. The metric is the mean score. Not symmetric: the reference decides
    which pairs count.

    Parameters
    ----------
    ours, theirs : DataFrame with ``lower``, ``upper`` (indexed by model), or arrays (M, 2)
    scale : {"signed", "proportion"}, default "signed"
        ``signed`` gives the mean in [-1, 1]; ``proportion`` gives ``(1 + mean) / 2`` in
        [0, 1] (the Arena-Hard script's 1 / 0.5 / 0 scoring). See :class:`AgreementScale`.

    Returns
    -------
    float, or NaN when the reference separates no pair.
    """
    sc = _scale(scale)
    v = pair_verdicts(ours, theirs)["verdict"].dropna().to_numpy(dtype=float)
    if v.size == 0:
        return float("nan")
    mean = float(v.mean())
    return mean if sc is AgreementScale.SIGNED else (1.0 + mean) / 2.0


def _scale(scale: str | AgreementScale) -> AgreementScale:
    try:
        return AgreementScale(scale)
    except ValueError:
        raise ValidationError(
            f"scale must be one of {[s.value for s in AgreementScale]}; got {scale!r}"
        ) from None


def brier(
    ours: RatingsLike,
    theirs: RatingsLike,
    *,
    covariance: pd.DataFrame | np.ndarray,
) -> float:
    """Pair-rank Brier score (Arena-Hard).

    For every pair (a, b) whose reference ratings differ, our forecast that a ranks above b
    is ``Phi((r_a - r_b) / sd(r_a - r_b))`` (Gaussian on the difference, ``sd`` from our
    covariance), the label is 1 if the reference ranks a above b, else 0, and the score is
    the mean squared error ``mean((p - y)^2)``. Lower is better: 0 for certain, correct
    forecasts; 0.25 for coin flips; 1 for certain, wrong ones. Swapping a and b in a pair
    changes nothing (``(1-p) - (1-y) = -(p - y)``). Pairs the reference ties are left out.

    Parameters
    ----------
    ours, theirs : Series, DataFrame with ``rating``, or array, shape (M,)
    covariance : DataFrame (M x M, labelled by model) or array (M, M), keyword-only
        Covariance of our ratings in rating units squared (``board.covariance``). Zero
        variance gives certain forecasts (0, 0.5 for equal ratings, or 1).

    Returns
    -------
    float in [0, 1], or NaN when the reference ties every pair.
    """
    a, b, names = _pair(ours, theirs)
    cov = covariance_matrix(covariance, names, a.size)
    i, j = _pair_index(a.size)
    label = np.sign(b[i] - b[j])
    keep = label != 0
    if not keep.any():
        return float("nan")
    i, j, y = i[keep], j[keep], (label[keep] > 0).astype(float)
    p = forecast(a[i] - a[j], diff_sd(cov, i, j))
    return float(np.mean((p - y) ** 2))


def covariance_matrix(
    covariance: pd.DataFrame | np.ndarray, names: list[Any] | None, m: int
) -> np.ndarray:
    """``covariance`` (a frame over ``names`` or an array) as a checked (m, m) array."""
    if isinstance(covariance, pd.DataFrame):
        if names is not None:
            missing = [n for n in names if n not in covariance.index or n not in covariance.columns]
            if missing:
                raise ValidationError(
                    f"covariance lacks rows/columns for models {list(map(str, missing[:5]))}"
                )
            cov = covariance.loc[names, names].to_numpy(dtype=float)
        else:
            cov = covariance.to_numpy(dtype=float)
    else:
        cov = np.asarray(covariance, dtype=float)
    if cov.shape != (m, m):
        raise ValidationError(f"covariance must have shape ({m}, {m}); got {cov.shape}")
    if not np.all(np.isfinite(cov)):
        raise ValidationError("covariance must be finite")
    return cov


def top_k_overlap(ours: RatingsLike, theirs: RatingsLike, *, k: int) -> float:
    """Share of the reference's top-k models that are also in our top-k.

    Ties at the cut are broken by model name (pandas input) or position (arrays), the same
    way on both sides. Symmetric in its arguments (both top-k sets have k members).

    Parameters
    ----------
    ours, theirs : Series, DataFrame with ``rating``, or array, shape (M,)
    k : int, keyword-only
        1 <= k <= M.

    Returns
    -------
    float in [0, 1] (a multiple of 1/k)
    """
    a, b, names = _pair(ours, theirs, minimum=1)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= a.size:
        raise ValidationError(f"k must be an integer between 1 and {a.size}; got {k!r}")
    tie = np.array(
        [str(n) for n in names] if names is not None else [f"{q:012d}" for q in range(a.size)],
        dtype=object,
    )
    return float(top_k_rows(a[None, :], b, int(k), tie)[0])


def consistency(spearman: float, agreement_ci: float, separability: float) -> float:
    """WizardArena "average consistency": mean of Spearman, agreement-with-CI, separability.

    WizardArena-Mix vs LMSYS reports (99.23% + 99.11% + 98.02%) / 3 = 98.79%. Use the
    signed agreement (the default of :func:`agreement_with_ci`).

    Parameters
    ----------
    spearman, agreement_ci, separability : float

    Returns
    -------
    float, NaN if any input is NaN (e.g. the reference has no intervals).
    """
    vals = np.array([spearman, agreement_ci, separability], dtype=float)
    return float(vals.mean()) if np.all(np.isfinite(vals)) else float("nan")
