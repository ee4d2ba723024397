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


#: a full Newton step smaller than this (natural units, 0.04 Elo) leaves a point that is
#: almost surely converged: its check starts with the gradient alone
_LIKELY_CONVERGED = 1e-4

#: (replicate, row) cells per block of the row loop: small enough to stay in cache
_BLOCK_CELLS = 1 << 15


class _Block:
    """Rows ``r0:r1``, covering pairs ``p0:p1``; ``starts`` are the block-local first rows of
    those pairs and ``runs`` their numbers of rows in the block (rows are sorted by pair;
    both None when rows are pairs)."""

    __slots__ = ("p0", "p1", "r0", "r1", "runs", "starts")

    def __init__(self, design: Design, r0: int, r1: int) -> None:
        self.r0, self.r1 = r0, r1
        if design.rows_are_pairs:
            self.p0, self.p1 = r0, r1
            self.starts = self.runs = None
            return
        self.p0 = int(design.row_pair[r0])
        self.p1 = int(design.row_pair[r1 - 1]) + 1
        self.starts = np.maximum(design.pair_start[self.p0:self.p1], r0) - r0
        self.runs = np.diff(np.append(self.starts, r1 - r0))


def _blocks(design: Design, bsz: int) -> list[_Block]:
    """The row blocks of ``bsz`` replicates (cached on the design)."""
    size = (design.n_rows if design.rows_are_pairs
            else max(256, _BLOCK_CELLS // max(bsz, 1)))
    cache: dict[int, list[_Block]] = design.__dict__.setdefault("_blocks", {})
    if size not in cache:
        r = design.n_rows
        cache[size] = [_Block(design, r0, min(r, r0 + size)) for r0 in range(0, r, size)]
    return cache[size]


class _Sums:
    """Sums of the per-row derivatives at one iterate.

    ``pair`` (B, S, P) holds per-pair sums of the stacked row terms: ``∂²/∂z²``, ``∂/∂z``,
    ``∂²/∂z² · x_c`` for each feature, then for Davidson ``∂²/∂z∂log ν`` (rows 1: are the
    ones multiplied by ``x``, adjacent so that the product needs no copy). ``feat`` (B, 1 + F
    (+1), F) holds their products with ``x``: ``Σ ∂/∂z · x``, ``Σ ∂²/∂z² · x xᵀ`` (and
    ``Σ ∂²/∂z∂log ν · x``). ``gn`` and ``hnn`` are Davidson's ``Σ ∂/∂log ν`` and
    ``Σ ∂²/∂log ν²``.
    """

    def __init__(self, bsz: int, design: Design) -> None:
        p, f = design.n_pairs, design.n_features
        self.n_stack = 2 + f + int(design.davidson)
        self.pair = np.zeros((bsz, self.n_stack, p))
        self.feat = np.zeros((bsz, 1 + f + int(design.davidson), f))
        self.gn = np.zeros(bsz)
        self.hnn = np.zeros(bsz)

    @property
    def hp(self) -> np.ndarray:
        return self.pair[:, 0]

    @property
    def gp(self) -> np.ndarray:
        return self.pair[:, 1]


def _pair_logits(theta: np.ndarray, design: Design) -> np.ndarray:
    """``r_i − r_j`` of every pair, shape (B, P)."""
    r = theta[:, :design.n_models]
    return r[:, design.pair_i] - r[:, design.pair_j]


def _logits_block(theta: np.ndarray, design: Design, blk: _Block, d: np.ndarray
                  ) -> np.ndarray:
    """``z = r_i − r_j + β · x`` for the block's rows, shape (B, r1 − r0); ``d`` is
    :func:`_pair_logits`."""
    beta = _split(theta, design)[1]
    if blk.runs is None:
        db = d[:, blk.p0:blk.p1]
        return db.copy() if design.n_features == 0 else db + beta @ design.xt[:, blk.r0:blk.r1]
    z = beta @ design.xt[:, blk.r0:blk.r1]
    z += np.repeat(d[:, blk.p0:blk.p1], blk.runs, axis=1)  # each row's pair (a copy, as take)
    return z


def _derivatives(theta: np.ndarray, design: Design, data: _Data,
                 hessian: bool = True) -> _Sums:
    """Sums of the per-row derivatives of the negative log-likelihood, block by block.

    Each block stacks its row terms into one (B, S, L) array, so that one ``reduceat`` gives
    all per-pair sums and one batched product with ``x`` all feature sums. With
    ``hessian=False`` (Bernoulli models) only the first-derivative sums are filled.
    """
    bsz = theta.shape[0]
    f = design.n_features
    out = _Sums(bsz, design)
    lognu = _split(theta, design)[2]
    d = _pair_logits(theta, design)
    if not hessian and not data.davidson:
        for blk in _blocks(design, bsz):
            z = _logits_block(theta, design, blk, d)
            p = np.negative(z, out=z)
            np.exp(p, out=p)
            p += 1.0
            np.reciprocal(p, out=p)
            gz = p
            gz *= data.n[:, blk.r0:blk.r1]
            gz -= data.s[:, blk.r0:blk.r1]
            if f:
                out.feat[:, 0] += gz @ design.xt[:, blk.r0:blk.r1].T
            if blk.starts is None:
                out.pair[:, 1, blk.p0:blk.p1] += gz
            else:
                out.pair[:, 1, blk.p0:blk.p1] += np.add.reduceat(gz, blk.starts, axis=1)
        return out
    for blk in _blocks(design, bsz):
        r0, r1 = blk.r0, blk.r1
        z = _logits_block(theta, design, blk, d)
        n = data.n[:, r0:r1]
        stack = np.empty((bsz, out.n_stack, r1 - r0))
        if data.davidson:
            assert lognu is not None
            nu = np.exp(lognu)[:, None]
            u = np.exp(0.5 * z)
            v = np.exp(-0.5 * z)
            den = u + v + nu
            stack[:, 1] = n * (u - v) / (2.0 * den) - 0.5 * (data.w[:, r0:r1] - data.l[:, r0:r1])
            stack[:, 0] = n * ((u + v) * den - (u - v) ** 2) / (4.0 * den * den)
            stack[:, -1] = -n * (u - v) * nu / (2.0 * den * den)
            out.gn += (n * nu / den).sum(axis=1) - data.t[:, r0:r1].sum(axis=1)
            out.hnn += (n * nu * (u + v) / (den * den)).sum(axis=1)
        else:
            p = np.negative(z, out=z)
            np.exp(p, out=p)
            p += 1.0
            np.reciprocal(p, out=p)  # σ(z), in place
            gz = stack[:, 1]
            np.multiply(n, p, out=gz)
            hz = stack[:, 0]
            np.subtract(1.0, p, out=hz)
            hz *= gz  # n p (1 − p)
            gz -= data.s[:, r0:r1]
        if f:
            xb = design.xt[:, r0:r1]
            np.multiply(stack[:, 0:1], xb[None], out=stack[:, 2:2 + f])
            out.feat += stack[:, 1:] @ xb.T
        if blk.starts is None:
            out.pair[:, :, blk.p0:blk.p1] += stack
        else:
            out.pair[:, :, blk.p0:blk.p1] += np.add.reduceat(stack, blk.starts, axis=2)
    return out


def objective(theta: np.ndarray, design: Design, data: _Data | Stats, ridge: float,
              l2: float) -> np.ndarray:
    """Penalised negative log-likelihood per replicate, shape (B,)."""
    if not isinstance(data, _Data):
        data = _Data(design, data)
    theta = np.atleast_2d(theta)
    r, beta, lognu = _split(theta, design)
    total = 0.5 * ridge * np.sum(r * r, axis=1) + 0.5 * l2 * np.sum(beta * beta, axis=1)
    d = _pair_logits(theta, design)
    for blk in _blocks(design, theta.shape[0]):
        r0, r1 = blk.r0, blk.r1
        z = _logits_block(theta, design, blk, d)
        n = data.n[:, r0:r1]
        if data.davidson:
            assert lognu is not None
            ln = lognu[:, None]
            log_den = np.logaddexp(np.logaddexp(0.5 * z, -0.5 * z), ln)
            nll = -(data.w[:, r0:r1] * 0.5 * z - data.l[:, r0:r1] * 0.5 * z
                    + data.t[:, r0:r1] * ln - n * log_den)
        else:
            nll = n * np.logaddexp(0.0, -z) + (n - data.s[:, r0:r1]) * z
        total = total + nll.sum(axis=1)
    return total


def _gradient(theta: np.ndarray, design: Design, sums: _Sums, ridge: float,
              l2: float) -> np.ndarray:
    m, f = design.n_models, design.n_features
    grad = np.empty((theta.shape[0], design.n_params))
    grad[:, :m] = (design.incidence.T @ sums.gp.T).T
    grad[:, :m] += ridge * theta[:, :m]
    if f:
        grad[:, m:m + f] = sums.feat[:, 0] + l2 * theta[:, m:m + f]
    if design.davidson:
        grad[:, m + f] = sums.gn
    return grad


def _hessian(design: Design, sums: _Sums, ridge: float, l2: float) -> np.ndarray:
    """Hessian (B, K, K) from the summed second derivatives."""
    bsz = sums.pair.shape[0]
    m, f, k = design.n_models, design.n_features, design.n_params
    i, j = design.pair_i, design.pair_j
    hp = sums.hp
    flat = np.zeros((bsz, k * k))
    flat[:, i * k + j] = -hp
    flat[:, j * k + i] = -hp
    flat[:, np.arange(m) * (k + 1)] = (design.abs_incidence.T @ hp.T).T + ridge
    hess = flat.reshape(bsz, k, k)
    if f:
        for c in range(f):
            cross = (design.incidence.T @ sums.pair[:, 2 + c].T).T  # (B, M)
            hess[:, :m, m + c] = cross
            hess[:, m + c, :m] = cross
        hess[:, m:m + f, m:m + f] = sums.feat[:, 1:1 + f] + l2 * np.eye(f)
    if design.davidson:
        col = (design.incidence.T @ sums.pair[:, -1].T).T
        hess[:, :m, k - 1] = col
        hess[:, k - 1, :m] = col
        if f:
            hess[:, m:m + f, k - 1] = sums.feat[:, -1]
            hess[:, k - 1, m:m + f] = sums.feat[:, -1]
        hess[:, k - 1, k - 1] = sums.hnn
    return hess


def hessian(theta: np.ndarray, design: Design, stats: Stats, *, ridge: float,
            l2: float) -> np.ndarray:
    """Hessian of the penalised objective at ``theta`` (B, K), shape (B, K, K)."""
    theta = np.atleast_2d(theta)
    sums = _derivatives(theta, design, _Data(design, stats))
    return _hessian(design, sums, ridge, l2)


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
    data = _Data(design, stats)
    bsz = data.n.shape[0]
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
    last = np.full(bsz, np.inf)  # largest coordinate of the last step
    for _ in range(max_iter + 1):
        th = theta[active]
        # after a tiny full Newton step the point has almost surely converged: check the
        # gradient alone first (a cheaper pass) and add the Hessian only if needed; the
        # convergence rule itself is unchanged
        light = (not design.rows_are_pairs and not design.davidson
                 and bool(np.all(full_step[active] & (last[active] < _LIKELY_CONVERGED))))
        sums = _derivatives(th, design, data, hessian=not light)
        g = _gradient(th, design, sums, ridge, l2)
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
        if light:
            sums = _derivatives(th, design, data)
        h = _hessian(design, sums, ridge, l2)
        del sums
        if sub.size < active.size:
            th, g, rg, h = th[sub], g[sub], rg[sub], h[sub]
            data = data.take(sub)
        act = active[sub]
        step = _newton_step(h, g)
        step[:, :m] -= step[:, :m].mean(axis=1, keepdims=True)
        big = np.max(np.abs(step), axis=1)
        scale = np.minimum(1.0, max_step / np.maximum(big, 1e-300))
        new = th - step * scale[:, None]
        capped = np.flatnonzero(scale < 1.0)
        if capped.size:
            d_cap = data.take(capped)
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
        last[act] = big
        active = act
    return Solution(theta=theta, n_iter=n_iter, converged=converged, stalled=stalled,
                    gradient=rel_grad)
