"""Style control: Bradley-Terry with per-battle style features (contextual Bradley-Terry).

The model (LMSYS style control; arena-rank's ``ContextualBradleyTerry``)::

    P(model_a beats model_b) = σ(r_a − r_b + β · x)

with natural log-strengths ``r`` (one per model), a feature vector ``x`` per battle (by
default the normalised style differences of :mod:`~wizardarena.ratings.style_features`,
standardised) and coefficients ``β``. Ratings and coefficients are fitted jointly by
penalised maximum likelihood: ``ridge/2 · Σ r²`` keeps the ratings identified (as in the
core) and ``l2/2 · Σ β²`` is the optional L2 penalty on the coefficients (sum-of-battles
scale: arena-rank's ``reg`` on its mean loss equals ``l2 = reg · N``). Ties count half a win
each way (``ties="half"``) or are dropped (``ties="drop"``).

Sufficient statistics: the likelihood depends on a battle only through
``(pair, outcome, weight, x)``. Battles are oriented so that the lower model code comes
first (``x`` and the outcome flip with it) and collapsed to unique rows with counts. With
continuous features most rows are unique; with discrete user features the reduction is
large.

Bootstrap, vectorised: replicate ``k`` draws a multinomial count vector over the unique rows
(identical in distribution to resampling battles; ``unit="prompt"`` draws prompts and gives
every row of a drawn prompt its multiplicity) from its own child generator spawned from
``rng``, so results depend on the seed only. Replicates are solved together, a block of them
at a time (the block size bounds memory), by a damped Newton method batched over the
replicate axis, starting from the full-data fit (3-4 steps). There is no Python loop over
replicates in the solver.

Pure: numpy/scipy/pandas only, no I/O.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import ndtri

from wizardarena._blas import with_single_threaded_blas
from wizardarena.battles import BattleLog, BattleSource, Outcome, Vocabulary, read_battles
from wizardarena.exceptions import ConvergenceWarning, ValidationError
from wizardarena.leaderboard import FitInfo, Leaderboard, as_anchor, build_table
from wizardarena.ratings.fit import CI, Unit, _enum, _seed, _to_elo, check_scale_options
from wizardarena.ratings.style_features import (
    STYLE_FEATURES,
    answer_style,
    normalized_difference,
)

__all__ = ["Standardize", "StyleFit", "StyleRows", "fit_style", "solve_style_batch"]


class Standardize(str, Enum):
    """How feature columns are scaled before the fit.

    ``symmetric`` (default)
        z-score over the battles *in both orientations*: the mean is then 0 and the scale is
        the root mean square. This is the LMSYS z-score made invariant to which model is
        shown first (swapping ``model_a``/``model_b`` with the winner changes nothing).
    ``zscore``
        LMSYS exactly: subtract the column mean and divide by the standard deviation, over
        the battles as oriented in the log.
    ``none``
        use the features as given.
    """

    SYMMETRIC = "symmetric"
    ZSCORE = "zscore"
    NONE = "none"


class _Ties(str, Enum):
    HALF = "half"
    DROP = "drop"


# --------------------------------------------------------------------------- sufficient statistics


@dataclass(frozen=True, eq=False)
class StyleRows:
    """Unique battle rows of a contextual Bradley-Terry fit.

    Rows are oriented ``lo < hi`` and sorted by pair, so ``pair_start`` delimits each pair's
    rows (for ``np.add.reduceat``).

    Attributes
    ----------
    n_models : int
    lo, hi : ndarray of int64, shape (R,)
        Model codes, ``lo < hi``.
    x : ndarray of float64, shape (R, F)
        Features, oriented as ``lo`` minus ``hi``.
    s, t : ndarray of float64, shape (R,)
        Per battle of the row: weighted score of ``lo`` (win 1, tie ½) and weight.
    count : ndarray of int64, shape (R,)
        Battles collapsed into the row.
    group : ndarray of int64, shape (R,), or None
        Prompt code (for ``unit="prompt"``).
    n_groups : int
    pair_i, pair_j : ndarray of int64, shape (P,)
        The pairs present.
    pair_start : ndarray of int64, shape (P,)
        First row of each pair.
    agg : scipy.sparse.csr_matrix, shape ((F + 1) · P, R)
        Per-pair sums: block 0 sums rows, block ``c + 1`` sums rows weighted by ``x[:, c]``.
    xx : ndarray, shape (R, F · F)
        Row-wise outer products of ``x``.
    """

    n_models: int
    lo: np.ndarray
    hi: np.ndarray
    x: np.ndarray
    s: np.ndarray
    t: np.ndarray
    count: np.ndarray
    group: np.ndarray | None
    n_groups: int
    pair_i: np.ndarray
    pair_j: np.ndarray
    pair_start: np.ndarray
    agg: sp.csr_matrix
    xx: np.ndarray

    @property
    def n_features(self) -> int:
        return int(self.x.shape[1])

    def __len__(self) -> int:
        return int(self.lo.shape[0])


def _collapse(a: np.ndarray, b: np.ndarray, score: np.ndarray, weight: np.ndarray,
              x: np.ndarray, n_models: int, group: np.ndarray | None, n_groups: int) -> StyleRows:
    """Orient battles ``lo < hi`` and collapse identical rows (pure numpy)."""
    flip = a > b
    lo = np.where(flip, b, a).astype(np.int64)
    hi = np.where(flip, a, b).astype(np.int64)
    sc = np.where(flip, 1.0 - score, score)
    xo = np.where(flip[:, None], -x, x)
    pair = lo * n_models + hi
    cols = [pair.astype(float), sc, weight] + ([group.astype(float)] if group is not None else [])
    table = np.column_stack([*cols, xo])
    # unique rows, sorted lexicographically (pair first); lexsort is ~10x faster than
    # np.unique(axis=0), which sorts the rows as opaque byte strings
    order = np.lexsort(table.T[::-1])
    ordered = table[order]
    new = np.ones(ordered.shape[0], dtype=bool)
    new[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    uniq = ordered[new]
    inverse = np.empty(ordered.shape[0], dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    count = np.bincount(inverse, minlength=uniq.shape[0]).astype(np.int64)
    k = 3 + (1 if group is not None else 0)
    pair_u = uniq[:, 0].astype(np.int64)
    starts = np.flatnonzero(np.r_[True, pair_u[1:] != pair_u[:-1]])
    w = uniq[:, 2]
    x_u = np.ascontiguousarray(uniq[:, k:])
    n_rows, n_feat, n_pairs = uniq.shape[0], x_u.shape[1], starts.shape[0]
    row_pair = np.repeat(np.arange(n_pairs), np.diff(np.r_[starts, n_rows]))
    agg = sp.csr_matrix(
        (np.concatenate([np.ones(n_rows), x_u.T.ravel()]),
         (np.concatenate([row_pair + c * n_pairs for c in range(n_feat + 1)]),
          np.tile(np.arange(n_rows), n_feat + 1))),
        shape=((n_feat + 1) * n_pairs, n_rows),
    )
    return StyleRows(
        n_models=n_models,
        lo=pair_u // n_models,
        hi=pair_u % n_models,
        x=x_u,
        s=w * uniq[:, 1],
        t=w,
        count=count,
        group=uniq[:, 3].astype(np.int64) if group is not None else None,
        n_groups=n_groups,
        pair_i=pair_u[starts] // n_models,
        pair_j=pair_u[starts] % n_models,
        pair_start=starts.astype(np.int64),
        agg=agg,
        xx=(x_u[:, :, None] * x_u[:, None, :]).reshape(n_rows, n_feat * n_feat),
    )


# --------------------------------------------------------------------------- batched Newton


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """In-place logistic function (faster than scipy's expit on large blocks)."""
    with np.errstate(over="ignore"):
        np.negative(z, out=z)
        np.exp(z, out=z)
        z += 1.0
        np.reciprocal(z, out=z)
    return z


def _logits(theta: np.ndarray, rows: StyleRows) -> np.ndarray:
    """``r_lo − r_hi + β·x`` for every row and replicate, shape (R, B)."""
    m = rows.n_models
    th = theta.T  # (K, B)
    z = rows.x @ th[m:]
    z += th[rows.lo]
    z -= th[rows.hi]
    return z


def _objective(theta: np.ndarray, rows: StyleRows, counts: np.ndarray, ridge: float,
               l2: float) -> np.ndarray:
    """Penalised negative log-likelihood per replicate, shape (B,)."""
    m = rows.n_models
    z = _logits(theta, rows)
    ll = rows.t[:, None] * np.logaddexp(0.0, z) - rows.s[:, None] * z
    pen = 0.5 * ridge * np.sum(theta[:, :m] ** 2, axis=1) + 0.5 * l2 * np.sum(
        theta[:, m:] ** 2, axis=1)
    return np.einsum("rb,rb->b", counts, ll) + pen


def _grad_hess(theta: np.ndarray, rows: StyleRows, counts: np.ndarray, ridge: float,
               l2: float) -> tuple[np.ndarray, np.ndarray]:
    """Gradient (B, K) and Hessian (B, K, K) for a block of replicates; counts (R, B)."""
    m, f = rows.n_models, rows.n_features
    k = m + f
    bsz = theta.shape[0]
    p = _sigmoid(_logits(theta, rows))  # (R, B)
    unit = bool(np.all(rows.t == 1.0))  # unweighted battles: skip multiplying by t
    g = p.copy() if unit else rows.t[:, None] * p
    g -= rows.s[:, None]
    g *= counts  # ∂NLL/∂z per row
    q = 1.0 - p
    p *= q
    del q
    if not unit:
        p *= rows.t[:, None]
    p *= counts  # ∂²NLL/∂z² per row (w)
    w = p
    n_pairs = rows.pair_i.shape[0]
    gp = rows.agg[:n_pairs] @ g  # (P, B)
    sums = rows.agg @ w  # ((F + 1) P, B): per-pair Σ w, then Σ w x_c for each feature
    wp = sums[:n_pairs]
    grad = np.zeros((bsz, k))
    np.add.at(grad.T, rows.pair_i, gp)
    np.subtract.at(grad.T, rows.pair_j, gp)
    grad[:, :m] += ridge * theta[:, :m]
    # (B, R) @ (R, F): OpenBLAS is far faster this way round than x.T @ g (long inner axis)
    grad[:, m:] = g.T @ rows.x + l2 * theta[:, m:]
    hess = np.zeros((bsz, k, k))
    pi, pj = rows.pair_i, rows.pair_j
    hess[:, pi, pj] -= wp.T
    hess[:, pj, pi] -= wp.T
    diag = np.zeros((m, bsz))
    np.add.at(diag, pi, wp)
    np.add.at(diag, pj, wp)
    idx = np.arange(m)
    hess[:, idx, idx] = diag.T + ridge
    # cross block: per-pair Σ w x, then ± onto the pair's two models
    cross = np.zeros((m, f, bsz))
    per_pair = sums[n_pairs:].reshape(f, n_pairs, bsz).transpose(1, 0, 2)  # (P, F, B)
    np.add.at(cross, pi, per_pair)
    np.subtract.at(cross, pj, per_pair)
    cross_b = cross.transpose(2, 0, 1)  # (B, M, F)
    hess[:, :m, m:] = cross_b
    hess[:, m:, :m] = cross_b.transpose(0, 2, 1)
    hess[:, m:, m:] = (w.T @ rows.xx).reshape(bsz, f, f) + l2 * np.eye(f)
    return grad, hess


def solve_style_batch(
    rows: StyleRows,
    counts: np.ndarray,
    *,
    init: np.ndarray | None = None,
    ridge: float = 1e-6,
    l2: float = 1e-6,
    tol: float = 1e-8,
    max_iter: int = 100,
    max_step: float = 2.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit B replicates of the contextual Bradley-Terry model at once by damped Newton.

    Parameters
    ----------
    rows : StyleRows
    counts : ndarray, shape (R, B)
        Battles of each unique row in each replicate.
    init : ndarray, shape (K,) or (B, K), optional
        Start (``K = M + F``: log-strengths then coefficients); zeros by default.
    ridge, l2 : float
        Penalties ``ridge/2 · Σ r²`` and ``l2/2 · Σ β²``.
    tol : float, default 1e-8
        Converged when a replicate's largest Newton step is below ``tol`` (natural units).
    max_iter : int, default 100
    max_step : float, default 2.0
        Cap on any coordinate's change per step; a capped step is halved until the objective
        decreases.

    Returns
    -------
    theta : ndarray, shape (B, K)
    n_iter : ndarray of int64, shape (B,)
    converged : ndarray of bool, shape (B,)
    """
    counts = np.asarray(counts, dtype=float)
    if counts.ndim == 1:
        counts = counts[:, None]
    bsz = counts.shape[1]
    k = rows.n_models + rows.n_features
    theta = (np.zeros((bsz, k)) if init is None
             else np.broadcast_to(np.asarray(init, dtype=float), (bsz, k)).copy())
    n_iter = np.zeros(bsz, dtype=np.int64)
    converged = np.zeros(bsz, dtype=bool)
    active = np.arange(bsz)
    for _ in range(max_iter):
        if active.size == 0:
            break
        th = theta[active]
        cnt = counts[:, active] if active.size < bsz else counts
        g, h = _grad_hess(th, rows, cnt, ridge, l2)
        try:
            step = np.linalg.solve(h, g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.stack([np.linalg.lstsq(hh, gg, rcond=None)[0] for hh, gg in zip(h, g)])
        big = np.max(np.abs(step), axis=1)
        scale = np.minimum(1.0, max_step / np.maximum(big, 1e-300))
        new = th - step * scale[:, None]
        capped = np.flatnonzero(scale < 1.0)
        if capped.size:
            sub = cnt[:, capped]
            f_old = _objective(th[capped], rows, sub, ridge, l2)
            t = scale[capped].copy()
            for _halving in range(30):
                cand = th[capped] - step[capped] * t[:, None]
                worse = _objective(cand, rows, sub, ridge, l2) > f_old
                new[capped] = cand
                if not worse.any():
                    break
                t = np.where(worse, 0.5 * t, t)
        theta[active] = new
        n_iter[active] += 1
        done = big < tol
        converged[active[done]] = True
        active = active[~done]
    return theta, n_iter, converged


# --------------------------------------------------------------------------- features of a log


AnswerSource = pd.DataFrame | Mapping[tuple[str, str], Any]


def _answer_lookup(answers: AnswerSource, log: BattleLog, tokenizer: Callable[[str], int] | None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Style counts (N, 4) of the answers of model_a and model_b of every battle."""
    if isinstance(answers, Mapping):
        keys = list(answers.keys())
        frame = pd.DataFrame({
            "question_id": [k[0] for k in keys], "model": [k[1] for k in keys],
            "answer": list(answers.values()),
        })
    elif isinstance(answers, pd.DataFrame):
        frame = answers
    else:
        raise ValidationError(
            "answers must be a DataFrame with columns question_id, model, answer or a mapping "
            f"{{(question_id, model): answer}}; got {type(answers).__name__}"
        )
    missing = [c for c in ("question_id", "model", "answer") if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"answers is missing column(s) {missing}; expected question_id, model, answer; "
            f"found {list(frame.columns)}"
        )
    qid = frame["question_id"].astype(str)
    key = pd.MultiIndex.from_arrays([qid.to_numpy(), frame["model"].astype(str).to_numpy()])
    dup = np.flatnonzero(key.duplicated())
    if dup.size:
        raise ValidationError(
            "answers has more than one answer for (question_id, model) at rows "
            f"{dup[:5].tolist()}: {[tuple(key[i]) for i in dup[:5]]}"
        )
    counts = answer_style(frame["answer"].reset_index(drop=True), tokenizer=tokenizer).to_numpy()
    q = log.column("question_id").astype(str).to_numpy()
    models = np.asarray(log.models, dtype=object)
    out = []
    for codes, side in ((log.a, "model_a"), (log.b, "model_b")):
        pos = key.get_indexer(pd.MultiIndex.from_arrays([q, models[codes]]))
        bad = np.flatnonzero(pos < 0)
        if bad.size:
            raise ValidationError(
                f"answers has no answer for the {side} of battles {bad[:5].tolist()}: "
                f"{[(q[i], models[codes[i]]) for i in bad[:5]]}"
            )
        out.append(counts[pos])
    return out[0], out[1]


def _style_source(log: BattleLog, answers: AnswerSource | None,
                  tokenizer: Callable[[str], int] | None) -> tuple[np.ndarray, np.ndarray]:
    """Counts (N, 4) of both sides from answers=, count columns, or answer text columns."""
    if answers is not None:
        return _answer_lookup(answers, log, tokenizer)
    count_cols = [f"{f}_{s}" for f in STYLE_FEATURES for s in ("a", "b")]
    if all(log.has_column(c) for c in count_cols):
        ca = np.column_stack([_numeric(log, f"{f}_a") for f in STYLE_FEATURES])
        cb = np.column_stack([_numeric(log, f"{f}_b") for f in STYLE_FEATURES])
        return ca, cb
    if log.has_column("answer_a") and log.has_column("answer_b"):
        sa = answer_style(log.column("answer_a").reset_index(drop=True), tokenizer=tokenizer)
        sb = answer_style(log.column("answer_b").reset_index(drop=True), tokenizer=tokenizer)
        return sa.to_numpy(), sb.to_numpy()
    raise ValidationError(
        "style features need the answers: pass answers= (question_id, model, answer), or give "
        f"the battle log count columns {count_cols}, or text columns answer_a and answer_b"
    )


def _numeric(log: BattleLog, name: str) -> np.ndarray:
    col = log.column(name)
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        raise ValidationError(f"feature column {name!r} must be numeric; got dtype {col.dtype}")
    vals = col.to_numpy(dtype=float, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(vals))
    if bad.size:
        raise ValidationError(
            f"feature column {name!r} must be finite; rows {bad[:5].tolist()} hold "
            f"{vals[bad[:5]].tolist()}"
        )
    return vals


def _feature_matrix(log: BattleLog, features: bool | str | Sequence[str],
                    answers: AnswerSource | None, tokenizer: Callable[[str], int] | None
                    ) -> tuple[np.ndarray, list[str]]:
    if features is True or features == "style":
        names = list(STYLE_FEATURES)
    elif isinstance(features, str) or features is False or not isinstance(features, Sequence):
        raise ValidationError(
            "features must be True / 'style' (the style features "
            f"{list(STYLE_FEATURES)}) or a list of feature names; got {features!r}"
        )
    else:
        names = [str(f) for f in features]
    if not names:
        raise ValidationError("features must name at least one feature")
    dup = sorted({f for f in names if names.count(f) > 1})
    if dup:
        raise ValidationError(f"features are listed more than once: {dup}")
    style_needed = [f for f in names if not log.has_column(f)]
    unknown = [f for f in style_needed if f not in STYLE_FEATURES]
    if unknown:
        have = [] if log.extra is None else list(log.extra.columns)
        raise ValidationError(
            f"features {unknown} are neither columns of the battle log ({have}) nor style "
            f"features {list(STYLE_FEATURES)}"
        )
    cols: dict[str, np.ndarray] = {}
    if style_needed:
        ca, cb = _style_source(log, answers, tokenizer)
        diff = normalized_difference(ca, cb)
        for f in style_needed:
            cols[f] = diff[:, STYLE_FEATURES.index(f)]
    for f in names:
        if f not in cols:
            cols[f] = _numeric(log, f)
    return np.column_stack([cols[f] for f in names]), names


def _standardize(x: np.ndarray, how: Standardize, names: list[str]
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f = x.shape[1]
    if how is Standardize.NONE:
        return x, np.zeros(f), np.ones(f)
    if how is Standardize.SYMMETRIC:
        center = np.zeros(f)
        spread = np.sqrt(np.mean(x * x, axis=0))
    else:
        center = x.mean(axis=0)
        spread = x.std(axis=0)
    flat = [names[k] for k in np.flatnonzero(~(spread > 0))]
    if flat:
        raise ValidationError(
            f"feature(s) {flat} are constant over the battles (zero spread); their coefficient "
            "cannot be estimated: drop them"
        )
    return (x - center) / spread, center, spread


# --------------------------------------------------------------------------- the result


@dataclass(frozen=True, eq=False)
class StyleFit:
    """A style-controlled leaderboard and the style coefficients.

    Attributes
    ----------
    board : Leaderboard
        Ratings with the style effects held at zero difference (``info.method`` is
        ``"bradley-terry+style"``); intervals as in the core.
    coefficients : DataFrame, indexed by ``feature``
        ``coef`` (log-odds per unit of the standardised feature), ``lower``, ``upper`` (at
        ``board.info.level``; NaN without bootstrap), ``se`` (bootstrap standard deviation),
        ``elo`` (``coef`` in Elo points: ``coef · scale / ln(base)``), and ``center`` and
        ``spread`` of the standardisation (a raw feature value ``v`` enters as
        ``(v − center) / spread``).
    coefficient_replicates : DataFrame or None
        Bootstrap coefficients, shape (rounds, F).
    standardize : str
        See :class:`Standardize`.
    l2 : float
        L2 penalty on the coefficients.
    n_rows : int
        Unique (pair, outcome, weight, features) rows the fit used.
    """

    board: Leaderboard
    coefficients: pd.DataFrame
    coefficient_replicates: pd.DataFrame | None = field(default=None, repr=False)
    standardize: str = Standardize.SYMMETRIC.value
    l2: float = 0.0
    n_rows: int = 0

    @property
    def table(self) -> pd.DataFrame:
        """The style-controlled leaderboard table (see :class:`Leaderboard`)."""
        return self.board.table

    @property
    def info(self) -> FitInfo:
        return self.board.info

    @property
    def models(self) -> list[str]:
        return self.board.models

    @property
    def ratings(self) -> pd.Series:
        return self.board.ratings

    def to_markdown(self) -> str:
        """The leaderboard, then the coefficient table, as markdown."""
        c = self.coefficients.reset_index()
        head = "| " + " | ".join(str(x) for x in c.columns) + " |"
        sep = "|" + "|".join("---:" if i else ":---" for i in range(c.shape[1])) + "|"
        body = [
            "| " + " | ".join(v if isinstance(v, str) else f"{v:.4g}" for v in row) + " |"
            for row in c.itertuples(False)
        ]
        return "\n".join([self.board.to_markdown(), "", "Style coefficients:", "",
                          head, sep, *body])

    def __repr__(self) -> str:
        return (f"StyleFit({len(self.coefficients)} features)\n{self.board!r}\n"
                f"{self.coefficients.round(4).to_string()}")


# --------------------------------------------------------------------------- the fit


def _draw_counts(rows: StyleRows, gens: Sequence[np.random.Generator], unit: Unit) -> np.ndarray:
    """Bootstrap counts (R, len(gens)), one column per replicate generator."""
    out = np.empty((len(rows), len(gens)))
    if unit is Unit.PROMPT:
        assert rows.group is not None  # internal invariant (built with groups)
        q = rows.n_groups
        for c, g in enumerate(gens):
            mult = np.bincount(g.integers(0, q, q), minlength=q)
            out[:, c] = rows.count * mult[rows.group]
        return out
    n = int(rows.count.sum())
    expanded = np.repeat(np.arange(len(rows)), rows.count) if np.any(rows.count != 1) else None
    for c, g in enumerate(gens):
        draw = g.integers(0, n, n)
        out[:, c] = np.bincount(draw if expanded is None else expanded[draw], minlength=len(rows))
    return out


def _games(rows: StyleRows, counts: np.ndarray) -> np.ndarray:
    """Battles per model per replicate, shape (B, M)."""
    per_pair = np.add.reduceat(counts, rows.pair_start, axis=0)  # (P, B)
    games = np.zeros((rows.n_models, counts.shape[1]))
    np.add.at(games, rows.pair_i, per_pair)
    np.add.at(games, rows.pair_j, per_pair)
    return games.T


def _sandwich(theta: np.ndarray, rows: StyleRows, *, l2: float, cluster: bool) -> np.ndarray:
    """Robust covariance ``H⁺ J H⁺`` of (log-strengths, coefficients), shape (K, K).

    With design rows ``x̃ = [e_lo − e_hi, x]``, ``H = Σ count · t p (1 − p) x̃ x̃ᵀ`` (+ ``l2`` on
    the coefficients) and ``J = Σ count (s − t p)² x̃ x̃ᵀ``, or with ``cluster`` the outer
    products of the per-prompt sums of ``count (s − t p) x̃``. The pseudo-inverse drops the
    shift direction of the ratings (mean-centred ratings live in its complement).
    """
    m, f = rows.n_models, rows.n_features
    n = len(rows)
    r = np.arange(n)
    design = sp.csr_matrix(
        (np.concatenate([np.ones(n), -np.ones(n), rows.x.T.ravel()]),
         (np.concatenate([r, r, np.tile(r, f)]),
          np.concatenate([rows.lo, rows.hi, np.repeat(np.arange(m, m + f), n)]))),
        shape=(n, m + f),
    )
    p = _sigmoid(_logits(theta[None, :], rows)[:, 0].copy())
    resid = rows.s - rows.t * p  # score of one battle of the row along x̃
    count = rows.count.astype(float)
    hess = (design.T @ sp.diags(count * rows.t * p * (1.0 - p)) @ design).toarray()
    hess[m:, m:] += l2 * np.eye(f)
    if cluster:
        if rows.group is None:
            raise ValidationError("a cluster sandwich needs question_id groups")
        agg = sp.csr_matrix((count * resid, (rows.group, r)), shape=(rows.n_groups, n))
        g = (agg @ design).toarray()
        meat = g.T @ g
    else:
        meat = (design.T @ sp.diags(count * resid**2) @ design).toarray()
    hinv = np.linalg.pinv(hess, rcond=1e-10, hermitian=True)
    cov = hinv @ meat @ hinv
    return 0.5 * (cov + cov.T)


@with_single_threaded_blas
def fit_style(
    battles: BattleSource,
    *,
    features: bool | str | Sequence[str] = True,
    answers: AnswerSource | None = None,
    tokenizer: Callable[[str], int] | None = None,
    standardize: str | Standardize = Standardize.SYMMETRIC,
    l2: float = 1e-6,
    ties: str = "half",
    ci: str = "bootstrap",
    rounds: int = 1000,
    unit: str = "battle",
    level: float = 0.95,
    anchor: Mapping[str, float] | None = None,
    ridge: float = 1e-6,
    scale: float = 400.0,
    base: float = 10.0,
    init: float = 1000.0,
    tol: float = 1e-8,
    max_iter: int = 100,
    outcomes: str | Vocabulary = Vocabulary.FASTCHAT,
    strong_weight: float = 1.0,
    block_elements: int = 16_000_000,
    threads: int = 2,
    rng: int | np.random.Generator | None = None,
) -> StyleFit:
    """Fit a style-controlled leaderboard (contextual Bradley-Terry) with intervals.

    Parameters
    ----------
    battles : path, DataFrame, pyarrow Table, list of dict, or BattleLog
        The battle log (see :func:`~wizardarena.battles.read_battles`).
    features : True, "style" or list of str, default True
        ``True`` / ``"style"``: the four style features :data:`STYLE_FEATURES` (``tokens``,
        ``headers``, ``lists``, ``bold``) as normalised differences ``(a − b)/(a + b + 1)``.
        A list names numeric columns of the log (used as given, oriented ``model_a`` minus
        ``model_b``) and/or style features.
    answers : DataFrame or mapping, optional
        Where the style features come from: a table ``question_id, model, answer`` (answer =
        str or list of assistant turns) or ``{(question_id, model): answer}``, looked up by
        the log's ``question_id``. Without it, the log's count columns ``tokens_a``,
        ``tokens_b``, ``headers_a``, ... or its text columns ``answer_a``, ``answer_b`` are used.
    tokenizer : callable, optional
        ``tokenizer(text) -> int`` for the ``tokens`` feature (see
        :func:`~wizardarena.ratings.style_features.answer_style`).
    standardize : {"symmetric", "zscore", "none"}, default "symmetric"
        Scaling of the feature columns; see :class:`Standardize`.
    l2 : float, default 1e-6
        ``l2/2 · Σ β²`` on the coefficients (sum-over-battles scale; arena-rank's ``reg`` on
        its mean loss corresponds to ``l2 = reg · N``).
    ties : {"half", "drop"}, default "half"
        A tie is half a win each way (LMSYS), or is left out.
    ci : {"bootstrap", "sandwich", "none"}, default "bootstrap"
        Percentile bootstrap (each replicate refitted), or the closed-form sandwich
        ``H⁺ J H⁺`` at the fit (cluster-robust by ``question_id`` with ``unit="prompt"``):
        one pass over the rows instead of ``rounds`` refits.
    rounds : int, default 1000
        Bootstrap replicates.
    unit : {"battle", "prompt"}, default "battle"
        Resample battles, or prompts (``question_id``; cluster bootstrap).
    level : float, default 0.95
        Coverage of the rating and coefficient intervals (percentile bootstrap).
    anchor : {model: rating}, optional
        Pin one model's rating in the fit and every replicate; default mean ``init``.
    ridge : float, default 1e-6
        ``ridge/2 · Σ r²`` on the log-strengths (identifies the ratings).
    scale, base, init : float, default 400, 10, 1000
        ``rating = init + scale · log_base(strength)``.
    tol : float, default 1e-8
        Newton tolerance on the largest step (natural units; 1e-8 is 2e-6 Elo).
    max_iter : int, default 100
    outcomes, strong_weight
        As in :func:`~wizardarena.battles.read_battles`.
    block_elements : int, default 16_000_000
        Replicates are solved in blocks of ``max(1, block_elements // n_rows)``; memory is
        about 8 · 6 · block_elements bytes per thread.
    threads : int, default 2
        Blocks solved concurrently (numpy releases the GIL); results do not depend on it.
    rng : int, Generator or None
        Seed of the bootstrap (each replicate gets a child generator; None draws a seed and
        records it in ``board.info.seed``).

    Returns
    -------
    StyleFit
        ``.board`` (a :class:`~wizardarena.leaderboard.Leaderboard`) and ``.coefficients``.

    Raises
    ------
    ValidationError
        Bad options, missing or non-numeric feature columns, missing answers, constant
        features.

    Examples
    --------
    >>> from wizardarena.ratings.style_features import simulate_style_battles
    >>> log = simulate_style_battles({"a": {"skill": 1100}, "b": {"skill": 1000, "verbosity": 1},
    ...                               "c": {"skill": 950}}, 4000,
    ...                              style_bias={"tokens": 1.0}, rng=0)
    >>> fit = fit_style(log, rounds=50, rng=0)
    >>> bool(fit.coefficients.loc["tokens", "coef"] > 0)
    True
    """
    how = _enum(Standardize, standardize, "standardize")
    tie_rule = _enum(_Ties, ties, "ties")
    ci_ = _enum(CI, ci, "ci")
    unit_ = _enum(Unit, unit, "unit")
    check_scale_options(ci_, level=level, rounds=rounds, ridge=ridge, scale=scale, base=base)
    if not np.isfinite(l2) or l2 < 0:
        raise ValidationError(f"l2 must be a non-negative number; got {l2!r}")
    if not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValidationError(f"threads must be a positive integer; got {threads!r}")
    log = read_battles(battles, outcomes=outcomes, strong_weight=strong_weight)
    anchor_ = as_anchor(anchor, log.models)
    anchor_idx = None if anchor_ is None else log.models.index(next(iter(anchor_)))
    anchor_value = 0.0 if anchor_ is None else next(iter(anchor_.values()))
    factor = scale / np.log(base)
    gen, seed = _seed(rng)

    x_raw, names = _feature_matrix(log, features, answers, tokenizer)
    x, center, spread = _standardize(x_raw, how, names)
    out = log.outcome
    is_tie = (out == Outcome.TIE) | (out == Outcome.TIE_BOTHBAD)
    score = np.where(out == Outcome.A, 1.0, np.where(out == Outcome.B, 0.0, 0.5))
    weight = np.ones(log.n_battles) if log.weight is None else log.weight
    keep = ~is_tie if tie_rule is _Ties.DROP else np.ones(log.n_battles, dtype=bool)
    if not keep.any():
        raise ValidationError("ties='drop' leaves no battles: every battle is a tie")
    group, n_groups = None, 0
    if unit_ is Unit.PROMPT and ci_ is not CI.NONE:
        col = log.column("question_id")
        if col.isna().any():
            raise ValidationError(
                "column 'question_id' has missing values at rows "
                f"{np.flatnonzero(col.isna().to_numpy())[:5].tolist()}; unit='prompt' needs it"
            )
        codes, uniq = pd.factorize(col[keep], sort=False)
        group, n_groups = codes.astype(np.int64), len(uniq)
    rows = _collapse(log.a[keep], log.b[keep], score[keep], weight[keep], x[keep],
                     log.n_models, group, n_groups)
    m, f = log.n_models, len(names)

    theta_all, it_full, conv_full = solve_style_batch(
        rows, rows.count.astype(float), ridge=ridge, l2=l2, tol=tol, max_iter=max_iter)
    theta = theta_all[0]
    if not conv_full[0]:
        warnings.warn(f"the style-controlled fit did not converge in {max_iter} iterations",
                      ConvergenceWarning, stacklevel=2)
    games_full = _games(rows, rows.count[:, None].astype(float))
    rating = _to_elo(theta[None, :m], games_full > 0, anchor_idx, anchor_value, factor, init)[0]
    lower = np.full(m, np.nan)
    upper = np.full(m, np.nan)
    c_lower = np.full(f, np.nan)
    c_upper = np.full(f, np.nan)
    c_se = np.full(f, np.nan)
    replicates = coef_reps = covariance = None
    b_iter, b_conv = 0, 1.0
    if ci_ is CI.BOOTSTRAP:
        children = gen.spawn(int(rounds))
        per_block = max(1, min(int(rounds), int(block_elements) // max(len(rows), 1)))
        blocks = [children[s:s + per_block] for s in range(0, int(rounds), per_block)]

        def run(block: list[np.random.Generator]) -> tuple[np.ndarray, ...]:
            cnt = _draw_counts(rows, block, unit_)
            th, it, cv = solve_style_batch(rows, cnt, init=theta, ridge=ridge, l2=l2, tol=tol,
                                           max_iter=max_iter)
            return th, it, cv, _games(rows, cnt)

        if threads > 1 and len(blocks) > 1:
            with ThreadPoolExecutor(int(threads)) as pool:
                parts = list(pool.map(run, blocks))
        else:
            parts = [run(b) for b in blocks]
        th_b = np.concatenate([p[0] for p in parts])
        it_b = np.concatenate([p[1] for p in parts])
        cv_b = np.concatenate([p[2] for p in parts])
        games = np.concatenate([p[3] for p in parts])
        b_iter, b_conv = int(it_b.max()), float(cv_b.mean())
        if b_conv < 1.0:
            warnings.warn(f"{int((~cv_b).sum())} of {rounds} bootstrap fits did not converge in "
                          f"{max_iter} iterations", ConvergenceWarning, stacklevel=2)
        reps = _to_elo(th_b[:, :m], games > 0, anchor_idx, anchor_value, factor, init)
        alpha = 1.0 - float(level)
        lower = np.nanquantile(reps, alpha / 2, axis=0)
        upper = np.nanquantile(reps, 1 - alpha / 2, axis=0)
        replicates = pd.DataFrame(reps, columns=list(log.models))
        replicates.columns.name = "model"
        covariance = replicates.cov()
        beta = th_b[:, m:]
        c_lower = np.quantile(beta, alpha / 2, axis=0)
        c_upper = np.quantile(beta, 1 - alpha / 2, axis=0)
        c_se = beta.std(axis=0, ddof=1)
        coef_reps = pd.DataFrame(beta, columns=pd.Index(names, name="feature"))
    if ci_ is CI.SANDWICH:
        cov = _sandwich(theta, rows, l2=l2, cluster=unit_ is Unit.PROMPT)
        if anchor_idx is not None:
            e = np.eye(m + f)
            e[:m, anchor_idx] -= 1.0  # ratings relative to the anchor
            cov = e @ cov @ e.T
        z = float(ndtri(1 - (1.0 - float(level)) / 2))
        se_r = factor * np.sqrt(np.clip(np.diag(cov)[:m], 0.0, None))
        lower, upper = rating - z * se_r, rating + z * se_r
        c_se = np.sqrt(np.clip(np.diag(cov)[m:], 0.0, None))
        c_lower, c_upper = theta[m:] - z * c_se, theta[m:] + z * c_se
        covariance = pd.DataFrame(cov[:m, :m] * factor**2, index=list(log.models),
                                  columns=list(log.models))
    coefs = pd.DataFrame(
        {"coef": theta[m:], "lower": c_lower, "upper": c_upper, "se": c_se,
         "elo": theta[m:] * factor, "center": center, "spread": spread},
        index=pd.Index(names, name="feature"),
    )
    info = FitInfo(
        method="bradley-terry+style", ties=tie_rule.value, ci=ci_.value, unit=unit_.value,
        rounds=int(rounds) if ci_ is CI.BOOTSTRAP else 0, level=float(level),
        seed=seed if ci_ is CI.BOOTSTRAP else None, anchor=anchor_, point="mle",
        n_iter=int(it_full[0]), converged=bool(conv_full[0]), bootstrap_max_iter=b_iter,
        bootstrap_converged=b_conv, ridge=float(ridge), ridge_models={}, scale=float(scale),
        base=float(base), init=float(init), n_battles=log.n_battles, n_models=m,
    )
    table = build_table(log.models, rating, lower, upper, log.record())
    board = Leaderboard(table=table, info=info, replicates=replicates, covariance=covariance)
    return StyleFit(board=board, coefficients=coefs, coefficient_replicates=coef_reps,
                    standardize=how.value, l2=float(l2), n_rows=len(rows))
