"""Online Elo: order-dependent ratings, vectorised over random orders.

Online Elo updates two ratings after every battle, so its result depends on the order of
the battles. It is kept as a diagnostic (LMSYS reported it before switching to
Bradley-Terry). Its spread is obtained as FastChat does: each replicate is a bootstrap
sample of the battles in a random order (i.i.d. row indices are already in random order).
All replicates advance together: one Python step per battle position, numpy across
replicates.
"""

from __future__ import annotations

import numpy as np

__all__ = ["online_elo", "online_elo_replicates"]


def online_elo(
    a: np.ndarray,
    b: np.ndarray,
    score_a: np.ndarray,
    n_models: int,
    *,
    k: float = 4.0,
    scale: float = 400.0,
    base: float = 10.0,
    init: float = 1000.0,
    weight: np.ndarray | None = None,
) -> np.ndarray:
    """Online Elo over the battles in the given order (plain reference loop).

    Parameters
    ----------
    a, b : ndarray of int, shape (N,)
        Model codes.
    score_a : ndarray of float, shape (N,)
        1 if ``a`` won, 0 if it lost, 0.5 for a tie.
    n_models : int
    k, scale, base, init : float
        K-factor (LMSYS used 4), Elo scale and base, initial rating.
    weight : ndarray, shape (N,), optional
        Multiplies the K-factor of each battle.

    Returns
    -------
    ndarray, shape (M,)
    """
    r = np.full(n_models, float(init))
    kw = np.full(a.shape[0], float(k)) if weight is None else k * np.asarray(weight, float)
    for t in range(a.shape[0]):
        ia, ib = a[t], b[t]
        ea = 1.0 / (1.0 + base ** ((r[ib] - r[ia]) / scale))
        delta = kw[t] * (score_a[t] - ea)
        r[ia] += delta
        r[ib] -= delta
    return r


def online_elo_replicates(
    a: np.ndarray,
    b: np.ndarray,
    score_a: np.ndarray,
    n_models: int,
    rounds: int,
    rng: np.random.Generator,
    *,
    k: float = 4.0,
    scale: float = 400.0,
    base: float = 10.0,
    init: float = 1000.0,
    weight: np.ndarray | None = None,
    chunk: int = 200,
    block: int = 4096,
) -> np.ndarray:
    """Online Elo on ``rounds`` bootstrap samples in random order, shape (rounds, M).

    Replicates are run ``chunk`` at a time; chunk ``c`` draws from its own generator
    ``rng.spawn(n_chunks)[c]``, and its replicate ``r`` runs :func:`online_elo` on the rows
    ``idx[r]``, where ``idx`` (size, N) is drawn ``block`` columns at a time
    (``g.integers(0, N, size=(size, block))``, the last block shorter). Memory is
    O(rounds × M + chunk × block), whatever the number of battles.
    """
    n = a.shape[0]
    kw = np.full(n, float(k)) if weight is None else k * np.asarray(weight, float)
    out = np.empty((rounds, n_models))
    starts = list(range(0, rounds, chunk))
    for start, g in zip(starts, rng.spawn(len(starts))):
        size = min(chunk, rounds - start)
        r = np.full((size, n_models), float(init))
        rows = np.arange(size)
        for t0 in range(0, n, block):
            idx = g.integers(0, n, size=(size, min(block, n - t0)))
            aa, bb, ss, kk = a[idx], b[idx], score_a[idx], kw[idx]
            for t in range(idx.shape[1]):
                ia, ib = aa[:, t], bb[:, t]
                ra, rb = r[rows, ia], r[rows, ib]
                ea = 1.0 / (1.0 + base ** ((rb - ra) / scale))
                delta = kk[:, t] * (ss[:, t] - ea)
                r[rows, ia] = ra + delta
                r[rows, ib] = rb - delta
        out[start : start + size] = r
    return out
