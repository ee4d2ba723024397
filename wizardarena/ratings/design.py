"""The design of a rating fit: which pairs and feature rows the model has, and the data on them.

Every fit of this package, plain Bradley-Terry, Davidson ties, style control and the
first-slot (position) effect, is one model::

    logit  z = r_i − r_j + β · x

over *design rows*: a design row is one unordered pair of models ``i < j`` together with a
feature vector ``x`` (oriented ``i`` minus ``j``). Without features a design row is a pair.
The data enter as *categories*: each category is one kind of battle on one design row (its
outcome, weight and, for the prompt bootstrap, its prompt), with the number of battles of
that kind. A battle contributes ``win`` (to ``i``), ``loss`` (to ``j``) and ``tie`` to its
row; with ``ties="half"`` a tie is folded into half a win each way (so ``tie`` is 0), with
``ties="drop"`` tie categories are removed.

The per-row statistics of any resampled count vector over the categories are then one sparse
product (:meth:`Categories.stats`), which is what the solver
(:mod:`~wizardarena.ratings.solver`) and the samplers (:mod:`~wizardarena.ratings.sampling`)
share. The same design feeds the sandwich covariance and the identifiability diagnosis
(:func:`diagnose`).

Pure numpy / scipy.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from wizardarena.battles import Outcome

__all__ = ["Categories", "Design", "Stats", "Ties", "build_design", "diagnose"]

Stats = tuple[np.ndarray, np.ndarray, "np.ndarray | None"]
"""Per-row ``(win, loss, tie)`` of B replicates, each shape (B, R); ``tie`` is None when the
tie model has no tie term (``half`` folds ties into wins and losses, ``drop`` removes them)."""


class Ties(str, Enum):
    """How ties enter the model.

    ``half``
        a tie is half a win for each side (LMSYS, arena-rank).
    ``drop``
        ties are left out.
    ``davidson``
        Davidson (1970): ``P(i) ∝ π_i``, ``P(j) ∝ π_j``, ``P(tie) ∝ ν √(π_i π_j)`` with one
        fitted tie parameter ``ν``.
    """

    HALF = "half"
    DROP = "drop"
    DAVIDSON = "davidson"


@dataclass(frozen=True, eq=False)
class Design:
    """Design rows of a fit, sorted by pair.

    Attributes
    ----------
    n_models : int
    pair_i, pair_j : ndarray of int64, shape (P,)
        The pairs present, ``i < j``.
    row_pair : ndarray of int64, shape (R,)
        Pair of each design row (non-decreasing).
    pair_start : ndarray of int64, shape (P,)
        First row of each pair.
    x : ndarray of float64, shape (R, F)
        Features of each row, oriented ``i`` minus ``j`` (``F`` may be 0).
    feature_names : tuple of str, length F
    davidson : bool
        Whether the model has Davidson's tie parameter (the last coordinate, ``log ν``).
    """

    n_models: int
    pair_i: np.ndarray
    pair_j: np.ndarray
    row_pair: np.ndarray
    pair_start: np.ndarray
    x: np.ndarray
    feature_names: tuple[str, ...]
    davidson: bool

    @property
    def n_pairs(self) -> int:
        return int(self.pair_i.shape[0])

    @property
    def n_rows(self) -> int:
        return int(self.row_pair.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.x.shape[1])

    @property
    def n_params(self) -> int:
        """``M + F`` (+1 for Davidson's ``log ν``)."""
        return self.n_models + self.n_features + int(self.davidson)

    @property
    def rows_are_pairs(self) -> bool:
        """True when every pair has exactly one row (no features): row sums need no reduction."""
        return self.n_rows == self.n_pairs

    @cached_property
    def incidence(self) -> sp.csr_matrix:
        """(P, M): +1 at ``i`` and −1 at ``j`` of each pair."""
        p = self.n_pairs
        rows = np.concatenate([np.arange(p), np.arange(p)])
        cols = np.concatenate([self.pair_i, self.pair_j])
        vals = np.concatenate([np.ones(p), -np.ones(p)])
        return sp.csr_matrix((vals, (rows, cols)), shape=(p, self.n_models))

    @cached_property
    def abs_incidence(self) -> sp.csr_matrix:
        """(P, M): 1 at both models of each pair."""
        return abs(self.incidence).tocsr()

    @cached_property
    def sides(self) -> tuple[sp.csr_matrix, sp.csr_matrix]:
        """(P, M) matrices with a 1 at ``i`` (first) and at ``j`` (second) of each pair."""
        p = self.n_pairs
        ones = np.ones(p)
        first = sp.csr_matrix((ones, (np.arange(p), self.pair_i)), shape=(p, self.n_models))
        second = sp.csr_matrix((ones, (np.arange(p), self.pair_j)), shape=(p, self.n_models))
        return first, second

    def extremes(self, stats: Stats) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per replicate and model (each (B, M)): played, scored nothing (winless: the MLE
        rating is −∞) and conceded nothing (undefeated: +∞). A tie scores for both sides."""
        win, loss, tie = (self.pair_sums(s) if s is not None else None for s in stats)
        assert win is not None and loss is not None  # internal invariant
        t = 0.0 if tie is None else tie
        first, second = self.sides
        scored = (first.T @ (win + t).T).T + (second.T @ (loss + t).T).T
        conceded = (first.T @ (loss + t).T).T + (second.T @ (win + t).T).T
        played = (self.abs_incidence.T @ (win + loss + t).T).T > 0
        return played, played & (scored <= 0), played & (conceded <= 0)

    @cached_property
    def xt(self) -> np.ndarray:
        """``x`` transposed, shape (F, R), C-contiguous (rows of one feature are adjacent)."""
        return np.ascontiguousarray(self.x.T)

    def pair_sums(self, values: np.ndarray) -> np.ndarray:
        """Sum (B, R) row values over the rows of each pair → (B, P)."""
        if self.rows_are_pairs:
            return values
        return np.add.reduceat(values, self.pair_start, axis=1)


@dataclass(frozen=True, eq=False)
class Categories:
    """The data of a fit: kinds of battle per design row, with their counts.

    Attributes
    ----------
    row : ndarray of int64, shape (C,)
        Design row of each category.
    win, loss, tie : ndarray of float64, shape (C,)
        What one battle of the category adds to its row's ``i``-wins, ``j``-wins and ties
        (weights included; ``tie`` is all zero unless the tie model is Davidson).
    count : ndarray of int64, shape (C,)
        Battles of the category.
    group : ndarray of int64, shape (C,), or None
        Prompt (cluster) of each category, for the prompt bootstrap and cluster sandwich.
    n_groups : int
    n_rows : int
        Number of design rows.
    has_ties : bool
        Whether ``tie`` is used (Davidson).
    """

    row: np.ndarray
    win: np.ndarray
    loss: np.ndarray
    tie: np.ndarray
    count: np.ndarray
    group: np.ndarray | None
    n_groups: int
    n_rows: int
    has_ties: bool

    def __len__(self) -> int:
        return int(self.row.shape[0])

    @property
    def total(self) -> int:
        """Number of battles."""
        return int(self.count.sum())

    def _matrix(self, values: np.ndarray) -> sp.csr_matrix:
        c = len(self)
        return sp.csr_matrix((values, (np.arange(c), self.row)), shape=(c, self.n_rows))

    @cached_property
    def _matrices(self) -> tuple[sp.csr_matrix, ...]:
        cols = (self.win, self.loss, self.tie) if self.has_ties else (self.win, self.loss)
        return tuple(self._matrix(v) for v in cols)

    def stats(self, counts: np.ndarray) -> Stats:
        """Per-row ``(win, loss, tie)`` of category counts of shape (B, C) → each (B, R)."""
        cnt = np.atleast_2d(np.asarray(counts, dtype=float))
        out = [np.asarray((m.T @ cnt.T).T) for m in self._matrices]
        return out[0], out[1], (out[2] if self.has_ties else None)

    def full_stats(self) -> Stats:
        """Per-row statistics of the data itself, each shape (1, R)."""
        return self.stats(self.count[None, :])


def _score_parts(outcome: np.ndarray, ties: Ties) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(win of a, loss of a, tie) per battle for the tie model (before weights)."""
    a_wins = (outcome == Outcome.A).astype(float)
    b_wins = (outcome == Outcome.B).astype(float)
    tie = ((outcome == Outcome.TIE) | (outcome == Outcome.TIE_BOTHBAD)).astype(float)
    if ties is Ties.HALF:
        return a_wins + 0.5 * tie, b_wins + 0.5 * tie, np.zeros_like(tie)
    if ties is Ties.DROP:
        return a_wins, b_wins, np.zeros_like(tie)
    return a_wins, b_wins, tie


def _unique_rows(columns: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the first of each distinct row of the stacked columns (sorted by the first
    column, then the others) and the inverse map. Columns are compared exactly."""
    order = np.lexsort(columns[::-1])
    new = np.zeros(order.shape[0], dtype=bool)
    if order.size:
        new[0] = True
    for col in columns:
        s = col[order]
        new[1:] |= s[1:] != s[:-1]
    first = order[new]
    inverse = np.empty(order.shape[0], dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return first, inverse


def build_design(
    n_models: int,
    a: np.ndarray,
    b: np.ndarray,
    outcome: np.ndarray,
    *,
    ties: Ties,
    weight: np.ndarray | None = None,
    count: np.ndarray | None = None,
    x: np.ndarray | None = None,
    feature_names: tuple[str, ...] = (),
    group: np.ndarray | None = None,
    n_groups: int = 0,
) -> tuple[Design, Categories]:
    """Design rows and categories of a set of battles (or of already collapsed battle kinds).

    Parameters
    ----------
    n_models : int
    a, b : ndarray of int, shape (N,)
        Model codes; ``a`` is the model whose outcome is recorded (``model_a``).
    outcome : ndarray of int8, shape (N,)
        :class:`~wizardarena.battles.Outcome` codes from ``a``'s point of view.
    ties : Ties
    weight : ndarray, shape (N,), optional
        Weight of one battle of each entry (default 1).
    count : ndarray of int, shape (N,), optional
        Battles each entry stands for (default 1: one entry per battle).
    x : ndarray, shape (N, F), optional
        Features of each entry, oriented ``a`` minus ``b``.
    feature_names : tuple of str
    group, n_groups
        Prompt code of each entry (prompt bootstrap) and the number of prompts.

    Returns
    -------
    Design, Categories
    """
    # temporaries are dropped as soon as they are used: on counts of a log larger than
    # memory (11M unique rows, say) each is ~90 MB
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    n = a.shape[0]
    w = None if weight is None else np.asarray(weight, dtype=float)
    count = np.ones(n, dtype=np.int64) if count is None else np.asarray(count, dtype=np.int64)
    x = np.zeros((n, 0)) if x is None else np.asarray(x, dtype=float).reshape(n, -1)
    win_a, loss_a, tie = _score_parts(np.asarray(outcome), ties)
    scored = win_a + loss_a
    scored += tie
    if w is not None:
        scored *= w
    keep = (scored > 0) & (count > 0)
    del scored
    if not keep.all():
        a, b, x, count = a[keep], b[keep], x[keep], count[keep]
        w = None if w is None else w[keep]
        win_a, loss_a, tie = win_a[keep], loss_a[keep], tie[keep]
        group = None if group is None else np.asarray(group)[keep]
    del keep
    flip = a > b
    lo = np.where(flip, b, a)
    lo *= n_models
    lo += np.where(flip, a, b)
    pair = lo  # lo * n_models + hi
    del lo, a, b
    win = np.where(flip, loss_a, win_a)
    loss = np.where(flip, win_a, loss_a)
    del win_a, loss_a
    if w is not None:  # (a weight of 1 changes nothing: x * 1.0 == x)
        win *= w
        loss *= w
        tie = tie * w
    del w
    if x.shape[1]:
        x = np.where(flip[:, None], -x, x)
    del flip
    f = x.shape[1]
    if f == 0:
        pair_codes, row = np.unique(pair, return_inverse=True)
        row = row.astype(np.int64)
        row_pair = np.arange(pair_codes.shape[0], dtype=np.int64)
        x_rows = np.zeros((pair_codes.shape[0], 0))
    else:
        first, row = _unique_rows([pair, *x.T])
        pair_of_row = pair[first]
        pair_codes, row_pair = np.unique(pair_of_row, return_inverse=True)
        row_pair = row_pair.astype(np.int64)
        x_rows = np.ascontiguousarray(x[first])
    del pair
    starts = np.flatnonzero(np.r_[True, row_pair[1:] != row_pair[:-1]]).astype(np.int64)
    design = Design(
        n_models=int(n_models),
        pair_i=(pair_codes // n_models).astype(np.int64),
        pair_j=(pair_codes % n_models).astype(np.int64),
        row_pair=row_pair,
        pair_start=starts,
        x=x_rows,
        feature_names=tuple(feature_names),
        davidson=ties is Ties.DAVIDSON,
    )
    # merge entries of one kind: (group, row, win, loss, tie)
    cols = [row, win, loss, tie] if group is None else [np.asarray(group, np.int64), row, win,
                                                         loss, tie]
    first, inverse = _unique_rows(cols)
    merged = np.bincount(inverse, weights=count, minlength=first.shape[0])
    cats = Categories(
        row=row[first],
        win=win[first],
        loss=loss[first],
        tie=tie[first],
        count=np.rint(merged).astype(np.int64),
        group=None if group is None else np.asarray(group, np.int64)[first],
        n_groups=int(n_groups) if group is not None else 0,
        n_rows=design.n_rows,
        has_ties=ties is Ties.DAVIDSON,
    )
    return design, cats


def diagnose(design: Design, stats: Stats, models: tuple[str, ...]) -> dict[str, str]:
    """Models whose maximum-likelihood rating is infinite or not identified, with a reason.

    The Bradley-Terry MLE is finite and unique exactly when the directed graph with an edge
    ``i → j`` whenever ``i`` scored against ``j`` (a win, or a tie that counts) is strongly
    connected (Zermelo 1929; Ford 1957). Reasons: ``"disconnected"`` (outside the largest
    connected component), ``"undefeated"`` (never scored against), ``"winless"`` (never
    scored), ``"not strongly connected"``. Features cannot rescue such a model: its rating
    is then held finite only by the ridge.
    """
    win, loss, tie = stats
    ws = design.pair_sums(win)[0]
    ls = design.pair_sums(loss)[0]
    ts = np.zeros_like(ws) if tie is None else design.pair_sums(tie)[0]
    m = design.n_models
    i_scores = (ws > 0) | (ts > 0)
    j_scores = (ls > 0) | (ts > 0)
    played = (ws + ls + ts) > 0
    i, j = design.pair_i, design.pair_j
    adj = np.zeros((m, m), dtype=bool)
    adj[i[i_scores], j[i_scores]] = True
    adj[j[j_scores], i[j_scores]] = True
    und = np.zeros((m, m), dtype=bool)
    und[i[played], j[played]] = True
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
