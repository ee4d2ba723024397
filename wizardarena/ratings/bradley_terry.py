"""Bradley-Terry maximum likelihood on pairwise counts, batched over replicates.

Everything here works on *natural* log-strengths ``r`` (``P(i beats j) = 1 / (1 + exp(r_j -
r_i))``) and on per-pair sufficient statistics; the Elo scale is applied by the caller
(:mod:`wizardarena.ratings.fit`).

Tie models
----------
``"half"``
    a tie counts as half a win for each side (LMSYS, arena-rank). The objective is the
    Bernoulli log-likelihood with fractional outcomes.
``"drop"``
    ties are left out of the fit.
``"davidson"``
    Davidson (1970): ``P(i) ∝ π_i``, ``P(j) ∝ π_j``, ``P(tie) ∝ ν √(π_i π_j)`` with one tie
    parameter ``ν`` fitted jointly (its log is the last coordinate of the parameter vector).

The solver is Newton's method with a per-replicate step cap, vectorised over a leading batch
axis, with a tiny ridge ``ridge/2 · Σ r²`` that keeps undefeated, winless or disconnected
models finite (and fixes the mean at 0, since the likelihood is shift invariant).
Replicates that have converged are frozen while the others iterate. A plain loop over
replicates with :func:`fit_single` gives the same answers (tests check it).

References
----------
R. A. Bradley and M. E. Terry, Biometrika 39 (1952). R. R. Davidson, JASA 65 (1970).
D. R. Hunter, "MM algorithms for generalized Bradley-Terry models", Ann. Stat. 32 (2004).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from wizardarena.battles import Counts, Outcome
from wizardarena.exceptions import ValidationError

__all__ = [
    "PairData",
    "SolveResult",
    "Ties",
    "fit_batch",
    "fit_single",
    "pair_data",
]


class Ties(str, Enum):
    """How ties enter the model; see the module docstring."""

    HALF = "half"
    DROP = "drop"
    DAVIDSON = "davidson"


@dataclass(frozen=True, eq=False)
class PairData:
    """The unordered pairs a log contains and the map from unique rows to pair statistics.

    Attributes
    ----------
    n_models : int
    i, j : ndarray of int64, shape (P,)
        The pairs, ``i < j``.
    row_pair : ndarray of int64, shape (R,)
        Pair index of each unique row of the :class:`~wizardarena.battles.Counts`.
    row_win, row_loss, row_tie : ndarray of float64, shape (R,)
        Weighted contribution of one battle of the row to the pair's ``i``-wins, ``j``-wins
        and ties.
    """

    n_models: int
    i: np.ndarray
    j: np.ndarray
    row_pair: np.ndarray
    row_win: np.ndarray
    row_loss: np.ndarray
    row_tie: np.ndarray

    @property
    def n_pairs(self) -> int:
        return int(self.i.shape[0])

    def stats(self, row_counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per-pair (wins of i, wins of j, ties), each shape ``row_counts.shape[:-1] + (P,)``.

        ``row_counts`` has the number of battles of each unique row on its last axis.
        """
        rc = np.asarray(row_counts, dtype=float)
        out = []
        for contrib in (self.row_win, self.row_loss, self.row_tie):
            mat = sp.csr_matrix(
                (contrib, (np.arange(contrib.shape[0]), self.row_pair)),
                shape=(contrib.shape[0], self.n_pairs),
            )
            if rc.ndim == 1:
                out.append(np.asarray(mat.T @ rc))
            else:
                out.append(np.asarray((mat.T @ rc.reshape(-1, rc.shape[-1]).T).T).reshape(
                    (*rc.shape[:-1], self.n_pairs)
                ))
        return out[0], out[1], out[2]


def pair_data(counts: Counts) -> PairData:
    """Map the unique rows of ``counts`` onto unordered pairs ``i < j``."""
    m = counts.n_models
    lo = np.minimum(counts.a, counts.b).astype(np.int64)
    hi = np.maximum(counts.a, counts.b).astype(np.int64)
    key = lo * m + hi
    uniq, row_pair = np.unique(key, return_inverse=True)
    a_is_lo = counts.a == lo
    out = counts.outcome
    a_wins = out == Outcome.A
    b_wins = out == Outcome.B
    tie = (out == Outcome.TIE) | (out == Outcome.TIE_BOTHBAD)
    lo_wins = np.where(a_is_lo, a_wins, b_wins)
    hi_wins = np.where(a_is_lo, b_wins, a_wins)
    w = counts.weight
    return PairData(
        n_models=m,
        i=uniq // m,
        j=uniq % m,
        row_pair=row_pair.astype(np.int64),
        row_win=w * lo_wins,
        row_loss=w * hi_wins,
        row_tie=w * tie,
    )


@dataclass(frozen=True, eq=False)
class SolveResult:
    """Output of the batched solver.

    Attributes
    ----------
    theta : ndarray, shape (B, M) or (B, M + 1)
        Natural log-strengths (mean 0), with ``log ν`` appended for Davidson.
    n_iter : ndarray of int, shape (B,)
    converged : ndarray of bool, shape (B,)
    """

    theta: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray


def _incidence(i: np.ndarray, j: np.ndarray, m: int) -> sp.csr_matrix:
    p = i.shape[0]
    rows = np.concatenate([np.arange(p), np.arange(p)])
    cols = np.concatenate([i, j])
    vals = np.concatenate([np.ones(p), -np.ones(p)])
    return sp.csr_matrix((vals, (rows, cols)), shape=(p, m))


def _objective(
    theta: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    win: np.ndarray,
    loss: np.ndarray,
    tie: np.ndarray,
    ties: Ties,
    ridge: float,
) -> np.ndarray:
    """Penalised negative log-likelihood per replicate, shape (B,)."""
    m = theta.shape[1] - (1 if ties is Ties.DAVIDSON else 0)
    r = theta[:, :m]
    d = r[:, i] - r[:, j]
    pen = 0.5 * ridge * np.sum(r * r, axis=1)
    if ties is Ties.DAVIDSON:
        lognu = theta[:, m][:, None]
        log_den = np.logaddexp(np.logaddexp(0.5 * d, -0.5 * d), lognu)
        ll = win * 0.5 * d - loss * 0.5 * d + tie * lognu - (win + loss + tie) * log_den
        return -ll.sum(axis=1) + pen
    s = win + (0.5 * tie if ties is Ties.HALF else 0.0)
    n = win + loss + (tie if ties is Ties.HALF else 0.0)
    # -[s log σ(d) + (n - s) log σ(-d)] = n log(1 + e^{-d}) + (n - s) d
    ll = -(n * np.logaddexp(0.0, -d) + (n - s) * d)
    return -ll.sum(axis=1) + pen


def _grad_hess(
    theta: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    inc: sp.csr_matrix,
    win: np.ndarray,
    loss: np.ndarray,
    tie: np.ndarray,
    ties: Ties,
    ridge: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient (B, K) and Hessian (B, K, K) of the penalised negative log-likelihood."""
    bsz = theta.shape[0]
    dav = ties is Ties.DAVIDSON
    m = theta.shape[1] - (1 if dav else 0)
    r = theta[:, :m]
    d = r[:, i] - r[:, j]
    if dav:
        nu = np.exp(theta[:, m])[:, None]
        u = np.exp(0.5 * d)
        v = np.exp(-0.5 * d)
        den = u + v + nu
        n = win + loss + tie
        # derivatives of the log-likelihood w.r.t. d and θ = log ν
        g_d = 0.5 * (win - loss) - n * (u - v) / (2.0 * den)
        g_t = (tie - n * nu / den).sum(axis=1)
        h_dd = n * ((u + v) * den - (u - v) ** 2) / (4.0 * den * den)  # = -∂²ll/∂d²
        h_tt = (n * nu * (u + v) / (den * den)).sum(axis=1)  # = -∂²ll/∂θ²
        h_dt = -n * (u - v) * nu / (2.0 * den * den)  # = -∂²ll/∂d∂θ
        gp = -g_d
        hp = h_dd
    else:
        s = win + (0.5 * tie if ties is Ties.HALF else 0.0)
        n = win + loss + (tie if ties is Ties.HALF else 0.0)
        p = expit(d)
        gp = n * p - s  # d(NLL)/dd
        hp = n * p * (1.0 - p)
    k = theta.shape[1]
    grad = np.zeros((bsz, k))
    grad[:, :m] = np.asarray((inc.T @ gp.T).T) + ridge * r
    hess = np.zeros((bsz, k * k))
    hess[:, i * k + j] = -hp
    hess[:, j * k + i] = -hp
    diag = np.asarray((abs(inc).T @ hp.T).T) + ridge
    hess[:, np.arange(m) * (k + 1)] = diag
    if dav:
        grad[:, m] = -g_t
        hd = np.asarray((inc.T @ h_dt.T).T)  # ∂²/∂r_a∂θ
        hess[:, np.arange(m) * k + m] = hd
        hess[:, m * k + np.arange(m)] = hd
        hess[:, m * k + m] = h_tt
    return grad, hess.reshape(bsz, k, k)


def fit_batch(
    pairs: PairData,
    win: np.ndarray,
    loss: np.ndarray,
    tie: np.ndarray,
    *,
    ties: Ties = Ties.HALF,
    ridge: float = 1e-6,
    init: np.ndarray | None = None,
    tol: float = 1e-10,
    max_iter: int = 200,
    max_step: float = 2.0,
    chunk_elements: int = 40_000_000,
) -> SolveResult:
    """Fit B replicates at once by damped Newton.

    Parameters
    ----------
    pairs : PairData
    win, loss, tie : ndarray, shape (B, P)
        Weighted counts per pair: ``i`` wins, ``j`` wins, ties.
    ties : Ties
    ridge : float, default 1e-6
        Coefficient of ``ridge/2 · Σ r²`` (natural units).
    init : ndarray, shape (K,) or (B, K), optional
        Starting point (e.g. the full-data fit); zeros (and ``log ν = 0``) by default.
    tol : float, default 1e-10
        Converged when the largest Newton step of a replicate is below ``tol`` (natural
        units; 1e-10 is 2e-8 Elo).
    max_iter : int, default 200
    max_step : float, default 2.0
        Largest allowed change of any coordinate in one step (a trust region that makes the
        method globally convergent in practice on this convex problem).
    chunk_elements : int
        Replicates are processed in chunks so that a chunk's Hessians hold at most this many
        numbers (memory bound for many models).

    Returns
    -------
    SolveResult
    """
    win = np.atleast_2d(np.asarray(win, dtype=float))
    loss = np.atleast_2d(np.asarray(loss, dtype=float))
    tie = np.atleast_2d(np.asarray(tie, dtype=float))
    bsz = win.shape[0]
    m = pairs.n_models
    k = m + (1 if ties is Ties.DAVIDSON else 0)
    if init is None:
        theta0 = np.zeros((bsz, k))
    else:
        theta0 = np.broadcast_to(np.asarray(init, dtype=float), (bsz, k)).copy()
    inc = _incidence(pairs.i, pairs.j, m)
    theta = theta0
    n_iter = np.zeros(bsz, dtype=np.int64)
    converged = np.zeros(bsz, dtype=bool)
    chunk = max(1, int(chunk_elements // max(k * k, 1)))
    for start in range(0, bsz, chunk):
        sl = slice(start, min(bsz, start + chunk))
        th, it, cv = _newton(
            theta[sl], pairs, inc, win[sl], loss[sl], tie[sl], ties, ridge, tol, max_iter, max_step
        )
        theta[sl], n_iter[sl], converged[sl] = th, it, cv
    return SolveResult(theta=theta, n_iter=n_iter, converged=converged)


def _grad_hess_bt(
    theta: np.ndarray,
    i: np.ndarray,
    j: np.ndarray,
    inc: sp.csr_matrix,
    inc_abs: sp.csr_matrix,
    s: np.ndarray,
    n: np.ndarray,
    ridge: float,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_grad_hess` for the Bernoulli model on precomputed scores ``s`` and totals ``n``.

    Same numbers as the general function with ``ties="half"`` or ``"drop"``, fewer passes
    over the (B, P) arrays (this is the hot loop of the bootstrap).
    """
    bsz, m = theta.shape
    d = theta[:, i]
    d -= theta[:, j]
    p = expit(d, out=d)
    npr = n * p
    gp = npr - s  # d(NLL)/dd
    p -= 1.0
    npr *= p
    hp = np.negative(npr, out=npr)  # n p (1 - p)
    grad = np.asarray((inc.T @ gp.T).T)
    grad += ridge * theta
    hess = np.zeros((bsz, m * m))
    hess[:, i * m + j] = -hp
    hess[:, j * m + i] = -hp
    hess[:, np.arange(m) * (m + 1)] = np.asarray((inc_abs.T @ hp.T).T) + ridge
    return grad, hess.reshape(bsz, m, m)


def _newton(
    theta: np.ndarray,
    pairs: PairData,
    inc: sp.csr_matrix,
    win: np.ndarray,
    loss: np.ndarray,
    tie: np.ndarray,
    ties: Ties,
    ridge: float,
    tol: float,
    max_iter: int,
    max_step: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    theta = theta.copy()
    bsz = theta.shape[0]
    n_iter = np.zeros(bsz, dtype=np.int64)
    converged = np.zeros(bsz, dtype=bool)
    active = np.arange(bsz)
    i, j = pairs.i, pairs.j
    m = pairs.n_models
    # gradient floor set by float64 round-off of sums over all battles
    gtol = 1e-12 * (1.0 + (win + loss + tie).sum(axis=1))
    prev_big = np.full(bsz, np.inf)
    dav = ties is Ties.DAVIDSON
    if not dav:
        s_all = win + 0.5 * tie if ties is Ties.HALF else win
        n_all = win + loss + tie if ties is Ties.HALF else win + loss
        inc_abs = abs(inc)
    for _ in range(max_iter):
        if active.size == 0:
            break
        th = theta[active]
        if dav:
            g, h = _grad_hess(th, i, j, inc, win[active], loss[active], tie[active], ties, ridge)
        else:
            every = active.size == bsz
            g, h = _grad_hess_bt(th, i, j, inc, inc_abs, s_all if every else s_all[active],
                                 n_all if every else n_all[active], ridge)
        try:
            step = np.linalg.solve(h, g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.stack([np.linalg.lstsq(hh, gg, rcond=None)[0] for hh, gg in zip(h, g)])
        # the likelihood is shift invariant and the ridge optimum has mean 0 exactly, so the
        # shift component of a step is pure round-off amplified by 1/ridge: project it out
        step[:, :m] -= step[:, :m].mean(axis=1, keepdims=True)
        big = np.max(np.abs(step), axis=1)
        small_grad = np.max(np.abs(g), axis=1) <= gtol[active]
        scale = np.minimum(1.0, max_step / np.maximum(big, 1e-300))
        new = th - step * scale[:, None]
        if np.any(scale < 1.0):
            # a capped step must still decrease the objective; halve it until it does
            capped = np.flatnonzero(scale < 1.0)
            f_old = _objective(
                th[capped], i, j, win[active[capped]], loss[active[capped]],
                tie[active[capped]], ties, ridge,
            )
            t = scale[capped].copy()
            for _halving in range(30):
                cand = th[capped] - step[capped] * t[:, None]
                f_new = _objective(
                    cand, i, j, win[active[capped]], loss[active[capped]],
                    tie[active[capped]], ties, ridge,
                )
                worse = f_new > f_old
                new[capped] = cand
                if not worse.any():
                    break
                t = np.where(worse, t * 0.5, t)
        new[:, :m] -= new[:, :m].mean(axis=1, keepdims=True)
        theta[active] = new
        n_iter[active] += 1
        # in the quadratic regime (this step ≤ 10 × previous step²) the error left after a
        # step of size δ is about 10 δ², so δ < 1e-6 already leaves < 1e-11: stop there
        quadratic = (big < 1e-6) & (big <= 10.0 * prev_big[active] ** 2)
        prev_big[active] = big
        done = (big < tol) | small_grad | quadratic
        converged[active[done]] = True
        active = active[~done]
    return theta, n_iter, converged


def fit_single(
    n_models: int,
    i: np.ndarray,
    j: np.ndarray,
    win: np.ndarray,
    loss: np.ndarray,
    tie: np.ndarray,
    *,
    ties: Ties = Ties.HALF,
    ridge: float = 1e-6,
    tol: float = 1e-10,
    max_iter: int = 200,
) -> tuple[np.ndarray, int, bool]:
    """Fit one data set with a plain (unbatched) Newton loop — the reference for the batch.

    Parameters
    ----------
    n_models : int
    i, j : ndarray of int, shape (P,)
    win, loss, tie : ndarray, shape (P,)
    ties, ridge, tol, max_iter
        As in :func:`fit_batch`.

    Returns
    -------
    theta : ndarray, shape (K,)
    n_iter : int
    converged : bool
    """
    if np.any(np.asarray(i) == np.asarray(j)):
        raise ValidationError("pairs must join two different models")
    k = n_models + (1 if ties is Ties.DAVIDSON else 0)
    theta = np.zeros(k)
    win, loss, tie = (np.asarray(x, dtype=float) for x in (win, loss, tie))
    for it in range(1, max_iter + 1):
        grad = np.zeros(k)
        hess = np.zeros((k, k))
        for p in range(len(i)):
            a, b = int(i[p]), int(j[p])
            d = theta[a] - theta[b]
            if ties is Ties.DAVIDSON:
                nu = np.exp(theta[-1])
                u, v = np.exp(d / 2), np.exp(-d / 2)
                den = u + v + nu
                n = win[p] + loss[p] + tie[p]
                gd = -(0.5 * (win[p] - loss[p]) - n * (u - v) / (2 * den))
                hdd = n * ((u + v) * den - (u - v) ** 2) / (4 * den * den)
                hdt = -n * (u - v) * nu / (2 * den * den)
                grad[-1] += -(tie[p] - n * nu / den)
                hess[-1, -1] += n * nu * (u + v) / (den * den)
                hess[a, -1] += hdt
                hess[-1, a] += hdt
                hess[b, -1] -= hdt
                hess[-1, b] -= hdt
            else:
                s = win[p] + (0.5 * tie[p] if ties is Ties.HALF else 0.0)
                n = win[p] + loss[p] + (tie[p] if ties is Ties.HALF else 0.0)
                prob = 1.0 / (1.0 + np.exp(-d))
                gd = n * prob - s
                hdd = n * prob * (1 - prob)
            grad[a] += gd
            grad[b] -= gd
            hess[a, a] += hdd
            hess[b, b] += hdd
            hess[a, b] -= hdd
            hess[b, a] -= hdd
        grad[:n_models] += ridge * theta[:n_models]
        hess[np.arange(n_models), np.arange(n_models)] += ridge
        step = np.linalg.solve(hess, grad)
        step[:n_models] -= step[:n_models].mean()
        big = float(np.max(np.abs(step)))
        if big > 2.0:
            step *= 2.0 / big
        theta = theta - step
        theta[:n_models] -= theta[:n_models].mean()
        if big < tol or np.max(np.abs(grad)) <= 1e-12 * (1.0 + np.sum(win + loss + tie)):
            return theta, it, True
    return theta, max_iter, False
