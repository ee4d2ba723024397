"""The one solver: penalised maximum likelihood by damped Newton, batched over replicates.

Parameters ``θ = (r, β, log ν)``: natural log-strengths ``r`` (one per model), feature
coefficients ``β`` (style, position; none for plain Bradley-Terry) and, for Davidson ties,
``log ν``. With the logit ``z = r_i − r_j + β · x`` of a design row
(:mod:`~wizardarena.ratings.design`), the negative log-likelihood of a row is

* Bernoulli (ties ``half`` or ``drop``): ``n log(1 + e^{−z}) + (n − s) z`` with ``s`` the
  wins of ``i`` (ties folded as halves) and ``n`` the battles;
* Davidson: ``−[w z/2 − l z/2 + t log ν − (w + l + t) log(e^{z/2} + e^{−z/2} + ν)]``.

The objective adds ``ridge/2 · Σ r²`` (keeps undefeated, winless or disconnected models
finite, and fixes the mean of ``r`` at 0, since the likelihood is shift invariant) and
``l2/2 · Σ β²``.

All replicates (a leading batch axis B) are solved together: per-row derivatives are
computed for every active replicate at once, summed per pair, and scattered onto the
parameters; each replicate then takes its own Newton step (``np.linalg.solve`` on a
(B, K, K) stack). A step that moves some coordinate by more than ``max_step`` is capped and
halved until the objective decreases, which makes the method globally convergent on this
convex problem. The shift component of every step is projected out (it is pure round-off
amplified by ``1/ridge``).

**One convergence rule.** A replicate has converged when its relative gradient
``max|∇| / (1 + battles)`` is at most ``tol``, or when it has *stalled at round-off*: two
consecutive full (uncapped) Newton steps that did not halve the gradient. In the local
regime Newton's method at least squares the error at every step, so a gradient that stops
shrinking is float64 round-off, not slow progress; no caller ever needs a ``tol`` below
what round-off allows (``tol=0`` is valid and ends at the round-off floor).

References
----------
R. A. Bradley and M. E. Terry, Biometrika 39 (1952). R. R. Davidson, JASA 65 (1970).
S. Boyd and L. Vandenberghe, Convex Optimization (2004), §9.5 (damped Newton).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wizardarena.ratings.design import Design, Stats

__all__ = ["Solution", "objective", "solve"]


@dataclass(frozen=True, eq=False)
class Solution:
    """Output of :func:`solve`.

    Attributes
    ----------
    theta : ndarray, shape (B, K)
        ``(r, β, log ν)`` per replicate; ``r`` has mean 0.
    n_iter : ndarray of int64, shape (B,)
        Newton steps taken.
    converged : ndarray of bool, shape (B,)
        Relative gradient at most ``tol``, or stalled at round-off.
    stalled : ndarray of bool, shape (B,)
        Converged by the round-off stall test rather than by ``tol``.
    gradient : ndarray, shape (B,)
        Relative gradient ``max|∇| / (1 + battles)`` at the returned point.
    """

    theta: np.ndarray
    n_iter: np.ndarray
    converged: np.ndarray
    stalled: np.ndarray
    gradient: np.ndarray


class _Data:
    """The statistics of the replicates being solved, in the form the likelihood needs."""

    def __init__(self, design: Design, stats: Stats) -> None:
        win, loss, tie = (None if s is None else np.atleast_2d(np.asarray(s, dtype=float))
                          for s in stats)
        assert win is not None and loss is not None  # internal invariant
        self.davidson = design.davidson
        if self.davidson:
            t = np.zeros_like(win) if tie is None else tie
            self.w, self.l, self.t = win, loss, t
            self.n = win + loss + t
        else:
            self.s = win
            self.n = win + loss
        self.total = self.n.sum(axis=1)

    def take(self, idx: np.ndarray) -> _Data:
        out = object.__new__(_Data)
        out.davidson = self.davidson
        for name in ("w", "l", "t", "s", "n", "total"):
            if hasattr(self, name):
                setattr(out, name, getattr(self, name)[idx])
        return out


def _split(theta: np.ndarray, design: Design) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    m, f = design.n_models, design.n_features
    return theta[:, :m], theta[:, m:m + f], (theta[:, m + f] if design.davidson else None)


def _logits(theta: np.ndarray, design: Design) -> np.ndarray:
    """``z = r_i − r_j + β · x`` per replicate and row, shape (B, R)."""
    r, beta, _ = _split(theta, design)
    d = r[:, design.pair_i] - r[:, design.pair_j]
    if design.n_features == 0:
        return d
    z = beta @ design.x.T
    z += design.row_values(d)
    return z


def objective(theta: np.ndarray, design: Design, data: _Data | Stats, ridge: float,
              l2: float) -> np.ndarray:
    """Penalised negative log-likelihood per replicate, shape (B,)."""
    if not isinstance(data, _Data):
        data = _Data(design, data)
    theta = np.atleast_2d(theta)
    z = _logits(theta, design)
    r, beta, lognu = _split(theta, design)
    if data.davidson:
        assert lognu is not None
        ln = lognu[:, None]
        log_den = np.logaddexp(np.logaddexp(0.5 * z, -0.5 * z), ln)
        nll = -(data.w * 0.5 * z - data.l * 0.5 * z + data.t * ln - data.n * log_den)
    else:
        nll = data.n * np.logaddexp(0.0, -z) + (data.n - data.s) * z
    return nll.sum(axis=1) + 0.5 * ridge * np.sum(r * r, axis=1) + 0.5 * l2 * np.sum(
        beta * beta, axis=1)


class _Point:
    """Per-row derivatives at one iterate (shared by the gradient and the Hessian)."""

    def __init__(self, theta: np.ndarray, design: Design, data: _Data) -> None:
        z = _logits(theta, design)
        if data.davidson:
            _, _, lognu = _split(theta, design)
            assert lognu is not None
            nu = np.exp(lognu)[:, None]
            u = np.exp(0.5 * z)
            v = np.exp(-0.5 * z)
            den = u + v + nu
            # derivatives of the negative log-likelihood w.r.t. z and log ν
            self.gz = -(0.5 * (data.w - data.l) - data.n * (u - v) / (2.0 * den))
            self.gn = -(data.t - data.n * nu / den)
            self.hzz = data.n * ((u + v) * den - (u - v) ** 2) / (4.0 * den * den)
            self.hnn = data.n * nu * (u + v) / (den * den)
            self.hzn = -data.n * (u - v) * nu / (2.0 * den * den)
        else:
            p = np.negative(z, out=z)
            np.exp(p, out=p)
            p += 1.0
            np.reciprocal(p, out=p)  # σ(z), computed in place
            self.p = p
            self.gz = data.n * p
            self.gz -= data.s
            self._data = data

    def hzz_bernoulli(self, idx: np.ndarray | None) -> np.ndarray:
        p = self.p if idx is None else self.p[idx]
        n = self._data.n if idx is None else self._data.n[idx]
        return n * p * (1.0 - p)


def _gradient(theta: np.ndarray, design: Design, pt: _Point, ridge: float,
              l2: float) -> np.ndarray:
    bsz = theta.shape[0]
    m, f = design.n_models, design.n_features
    grad = np.empty((bsz, design.n_params))
    gp = design.pair_sums(pt.gz)
    grad[:, :m] = (design.incidence.T @ gp.T).T
    grad[:, :m] += ridge * theta[:, :m]
    if f:
        grad[:, m:m + f] = pt.gz @ design.x
        grad[:, m:m + f] += l2 * theta[:, m:m + f]
    if design.davidson:
        grad[:, m + f] = pt.gn.sum(axis=1)
    return grad


def _hessian(design: Design, pt: _Point, idx: np.ndarray | None, ridge: float,
             l2: float) -> np.ndarray:
    """Hessian (B', K, K) of the replicates ``idx`` (all when None) at the point."""
    def sel(a: np.ndarray) -> np.ndarray:
        return a if idx is None else a[idx]

    h = sel(pt.hzz) if design.davidson else pt.hzz_bernoulli(idx)
    bsz = h.shape[0]
    m, f, k = design.n_models, design.n_features, design.n_params
    i, j = design.pair_i, design.pair_j
    hp = design.pair_sums(h)
    flat = np.zeros((bsz, k * k))
    flat[:, i * k + j] = -hp
    flat[:, j * k + i] = -hp
    flat[:, np.arange(m) * (k + 1)] = (design.abs_incidence.T @ hp.T).T + ridge
    hess = flat.reshape(bsz, k, k)
    if f:
        x = design.x
        for c in range(f):
            cross = (design.incidence.T @ design.pair_sums(h * x[:, c]).T).T  # (B, M)
            hess[:, :m, m + c] = cross
            hess[:, m + c, :m] = cross
        hess[:, m:m + f, m:m + f] = (h @ design.xx).reshape(bsz, f, f) + l2 * np.eye(f)
    if design.davidson:
        hzn, hnn = sel(pt.hzn), sel(pt.hnn)
        col = (design.incidence.T @ design.pair_sums(hzn).T).T
        hess[:, :m, k - 1] = col
        hess[:, k - 1, :m] = col
        if f:
            bx = hzn @ design.x
            hess[:, m:m + f, k - 1] = bx
            hess[:, k - 1, m:m + f] = bx
        hess[:, k - 1, k - 1] = hnn.sum(axis=1)
    return hess


def hessian(theta: np.ndarray, design: Design, stats: Stats, *, ridge: float,
            l2: float) -> np.ndarray:
    """Hessian of the penalised objective at ``theta`` (B, K), shape (B, K, K)."""
    data = _Data(design, stats)
    theta = np.atleast_2d(theta)
    return _hessian(design, _Point(theta, design, data), None, ridge, l2)


def _newton_step(h: np.ndarray, g: np.ndarray) -> np.ndarray:
    try:
        return np.linalg.solve(h, g[..., None])[..., 0]
    except np.linalg.LinAlgError:
        return np.stack([np.linalg.lstsq(hh, gg, rcond=None)[0] for hh, gg in zip(h, g)])


def solve(
    design: Design,
    stats: Stats,
    *,
    init: np.ndarray | None = None,
    ridge: float = 1e-6,
    l2: float = 0.0,
    tol: float = 1e-10,
    max_iter: int = 100,
    max_step: float = 2.0,
) -> Solution:
    """Fit B replicates at once.

    Parameters
    ----------
    design : Design
    stats : (win, loss, tie)
        Per-row statistics, each shape (B, R) (see :meth:`Categories.stats`).
    init : ndarray, shape (K,) or (B, K), optional
        Starting point (e.g. the full-data fit for bootstrap replicates); zeros by default.
    ridge : float, default 1e-6
        ``ridge/2 · Σ r²`` on the log-strengths; must be positive.
    l2 : float, default 0
        ``l2/2 · Σ β²`` on the feature coefficients.
    tol : float, default 1e-10
        Relative gradient ``max|∇| / (1 + battles)`` at which a replicate has converged. Any
        value ≥ 0 is valid: below the round-off floor the stall test ends the iteration.
    max_iter : int, default 100
    max_step : float, default 2.0
        Largest change of any coordinate in one step (natural units).

    Returns
    -------
    Solution
    """
    data_all = _Data(design, stats)
    bsz = data_all.n.shape[0]
    k = design.n_params
    m = design.n_models
    theta = (np.zeros((bsz, k)) if init is None
             else np.broadcast_to(np.asarray(init, dtype=float), (bsz, k)).copy())
    n_iter = np.zeros(bsz, dtype=np.int64)
    converged = np.zeros(bsz, dtype=bool)
    stalled = np.zeros(bsz, dtype=bool)
    rel_grad = np.full(bsz, np.inf)
    prev = np.full(bsz, np.inf)  # relative gradient before the last step
    flat = np.zeros(bsz, dtype=np.int64)  # consecutive full steps that did not halve it
    full_step = np.zeros(bsz, dtype=bool)
    active = np.arange(bsz)
    data = data_all
    for _ in range(max_iter + 1):
        th = theta[active]
        pt = _Point(th, design, data)
        g = _gradient(th, design, pt, ridge, l2)
        rg = np.max(np.abs(g), axis=1) / (1.0 + data.total)
        rel_grad[active] = rg
        no_progress = full_step[active] & (rg > 0.5 * prev[active])
        flat[active] = np.where(no_progress, flat[active] + 1, 0)
        is_stalled = flat[active] >= 2
        done = (rg <= tol) | is_stalled
        converged[active[done]] = True
        stalled[active[done & ~(rg <= tol)]] = True
        out_of_steps = n_iter[active] >= max_iter
        keep = ~done & ~out_of_steps
        if not keep.any():
            break
        sub = np.flatnonzero(keep)
        idx = None if sub.size == active.size else sub
        act = active[sub]
        th, g, rg = th[sub], g[sub], rg[sub]
        d_sub = data if idx is None else data.take(sub)
        h = _hessian(design, pt, idx, ridge, l2)
        del pt
        step = _newton_step(h, g)
        step[:, :m] -= step[:, :m].mean(axis=1, keepdims=True)
        big = np.max(np.abs(step), axis=1)
        scale = np.minimum(1.0, max_step / np.maximum(big, 1e-300))
        new = th - step * scale[:, None]
        capped = np.flatnonzero(scale < 1.0)
        if capped.size:
            d_cap = d_sub.take(capped)
            f_old = objective(th[capped], design, d_cap, ridge, l2)
            t = scale[capped].copy()
            for _halving in range(30):
                cand = th[capped] - step[capped] * t[:, None]
                worse = objective(cand, design, d_cap, ridge, l2) > f_old
                new[capped] = cand
                if not worse.any():
                    break
                t = np.where(worse, 0.5 * t, t)
        new[:, :m] -= new[:, :m].mean(axis=1, keepdims=True)
        theta[act] = new
        n_iter[act] += 1
        prev[act] = rg
        full_step[act] = scale >= 1.0
        active = act
        data = d_sub
    return Solution(theta=theta, n_iter=n_iter, converged=converged, stalled=stalled,
                    gradient=rel_grad)
