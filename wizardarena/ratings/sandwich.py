"""Sandwich (robust) covariance of Bradley-Terry ratings, in closed form.

At the maximum-likelihood point, ``Cov(θ) ≈ H⁺ J H⁺`` where ``H`` is the observed
information (a weighted graph Laplacian with weights ``n_p p (1 - p)`` per pair) and ``J`` the
sum of outer products of the per-unit scores. With unit ``battle`` the units are battles;
with unit ``prompt`` the scores are first summed over the battles of each prompt (a
cluster-robust sandwich). The pseudo-inverse works in the sum-zero subspace, which is where
mean-centred ratings live. This is the interval of the Chatbot Arena paper (Chiang et al.,
2024, arXiv 2403.04132) and arena-rank's default. Ties count as half a win (or are dropped);
the Davidson model has no closed-form sandwich here.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from wizardarena.battles import Counts
from wizardarena.ratings.bradley_terry import PairData, Ties

__all__ = ["sandwich_covariance"]


def sandwich_covariance(
    theta: np.ndarray,
    pairs: PairData,
    counts: Counts,
    *,
    ties: Ties = Ties.HALF,
    cluster: bool = False,
) -> np.ndarray:
    """Robust covariance of the natural log-strengths, shape (M, M), rows summing to zero.

    Parameters
    ----------
    theta : ndarray, shape (M,)
        The fitted natural log-strengths.
    pairs : PairData
        Row-to-pair map of ``counts``.
    counts : Counts
        Unique rows; with ``cluster=True`` they must carry ``group`` (question ids).
    ties : Ties
        ``HALF`` or ``DROP``.
    cluster : bool
        Sum scores within each group before taking outer products.
    """
    m = pairs.n_models
    half = 0.5 if ties is Ties.HALF else 0.0
    n_row = pairs.row_win + pairs.row_loss + (pairs.row_tie if ties is Ties.HALF else 0.0)
    s_row = pairs.row_win + half * pairs.row_tie
    p_pair = expit(theta[pairs.i] - theta[pairs.j])
    resid = s_row - n_row * p_pair[pairs.row_pair]  # score of one battle along e_i - e_j
    hp = np.bincount(pairs.row_pair, weights=counts.count * n_row, minlength=pairs.n_pairs)
    hp = hp * p_pair * (1.0 - p_pair)
    hess = _laplacian(pairs.i, pairs.j, hp, m)
    if cluster:
        if counts.group is None:
            raise ValueError("a cluster sandwich needs counts grouped by question_id")
        rows = np.arange(resid.shape[0])
        lo = pairs.i[pairs.row_pair]
        hi = pairs.j[pairs.row_pair]
        # per-row score vectors (R, M), summed within groups: G = A @ S
        score = sp.csr_matrix(
            (
                np.concatenate([resid, -resid]),
                (np.concatenate([rows, rows]), np.concatenate([lo, hi])),
            ),
            shape=(resid.shape[0], m),
        )
        agg = sp.csr_matrix(
            (counts.count.astype(float), (counts.group, rows)),
            shape=(counts.n_groups, resid.shape[0]),
        )
        g = (agg @ score).toarray()
        meat = g.T @ g
    else:
        q = np.bincount(pairs.row_pair, weights=counts.count * resid**2, minlength=pairs.n_pairs)
        meat = _laplacian(pairs.i, pairs.j, q, m)
    hinv = np.linalg.pinv(hess, rcond=1e-10, hermitian=True)
    cov = hinv @ meat @ hinv
    return 0.5 * (cov + cov.T)


def _laplacian(i: np.ndarray, j: np.ndarray, w: np.ndarray, m: int) -> np.ndarray:
    lap = np.zeros((m, m))
    np.add.at(lap, (i, j), -w)
    np.add.at(lap, (j, i), -w)
    lap[np.arange(m), np.arange(m)] = -lap.sum(axis=1)
    return lap
