"""Sandwich (robust) covariance of the fitted parameters, in closed form, for every model.

At the maximum-likelihood point, ``Cov(θ) ≈ H⁺ J H⁺`` where ``H`` is the observed information
(the solver's Hessian without the ridge) and ``J`` the sum of outer products of the per-unit
scores. With unit ``battle`` the units are battles; with unit ``prompt`` the scores are first
summed over the battles of each prompt (a cluster-robust sandwich). The pseudo-inverse works
in the complement of the shift direction of the ratings, which is where centred ratings live.
This is the interval of the Chatbot Arena paper (Chiang et al., 2024, arXiv 2403.04132) and
arena-rank's default; here it covers plain Bradley-Terry, Davidson ties, style and position
features alike, since all are one design (:mod:`~wizardarena.ratings.design`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from wizardarena.ratings.design import Categories, Design
from wizardarena.ratings.solver import hessian

__all__ = ["sandwich_covariance"]


def sandwich_covariance(
    theta: np.ndarray,
    design: Design,
    cats: Categories,
    *,
    l2: float = 0.0,
    cluster: bool = False,
) -> np.ndarray:
    """Robust covariance of ``θ = (r, β, log ν)``, shape (K, K).

    Parameters
    ----------
    theta : ndarray, shape (K,)
        The fit.
    design, cats
        The fit's design and data.
    l2 : float
        The L2 penalty on the feature coefficients used in the fit (kept in ``H``).
    cluster : bool
        Sum the scores within each prompt (``cats.group``) before taking outer products.
    """
    theta = np.asarray(theta, dtype=float)
    m, f, k = design.n_models, design.n_features, design.n_params
    r = theta[:m]
    beta = theta[m:m + f]
    row = cats.row
    pair = design.row_pair[row]
    z = r[design.pair_i[pair]] - r[design.pair_j[pair]]
    if f:
        z = z + design.x[row] @ beta
    n_c = cats.win + cats.loss + cats.tie
    if design.davidson:
        nu = float(np.exp(theta[k - 1]))
        u, v = np.exp(0.5 * z), np.exp(-0.5 * z)
        den = u + v + nu
        g_z = 0.5 * (cats.win - cats.loss) - n_c * (u - v) / (2.0 * den)
        g_n = cats.tie - n_c * nu / den
    else:
        g_z = cats.win - n_c / (1.0 + np.exp(-z))
        g_n = None
    c = len(cats)
    idx = np.arange(c)
    rows_ = [idx, idx]
    cols = [design.pair_i[pair], design.pair_j[pair]]
    vals = [g_z, -g_z]
    for q in range(f):
        rows_.append(idx)
        cols.append(np.full(c, m + q))
        vals.append(g_z * design.x[row, q])
    if g_n is not None:
        rows_.append(idx)
        cols.append(np.full(c, k - 1))
        vals.append(g_n)
    scores = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows_), np.concatenate(cols))), shape=(c, k))
    count = cats.count.astype(float)
    if cluster:
        if cats.group is None:
            raise ValueError("a cluster sandwich needs categories with prompt groups")
        agg = sp.csr_matrix((count, (cats.group, idx)), shape=(cats.n_groups, c))
        g = (agg @ scores).toarray()
        meat = g.T @ g
    else:
        meat = (scores.T @ sp.diags(count) @ scores).toarray()
    h = hessian(theta, design, cats.full_stats(), ridge=0.0, l2=l2)[0]
    hinv = np.linalg.pinv(h, rcond=1e-10, hermitian=True)
    cov = hinv @ meat @ hinv
    return 0.5 * (cov + cov.T)
