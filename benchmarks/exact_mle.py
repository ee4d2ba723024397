"""An independent, tightly converged Bradley-Terry MLE: the accuracy reference of the benchmark.

It shares no code with :mod:`wizardarena`: the log is read with pyarrow, counted with pandas,
and the half-tie Bradley-Terry likelihood (a tie is half a win each way) is maximised with
``scipy.optimize.minimize(method="trust-exact")`` in a gauge-fixed parameterisation (the
first model's log-strength is pinned at 0, so the Hessian is positive definite, no ridge),
then polished by plain Newton steps until the largest step is below 1e-13 (natural units,
2e-11 Elo). Ratings are reported on the Elo scale, mean-centred at 1000.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
from scipy.optimize import minimize
from scipy.special import expit

ELO = 400.0 / np.log(10.0)


@dataclass(frozen=True)
class ExactFit:
    """Reference fit: ratings (Series indexed by model), Newton polish steps, last step size."""

    ratings: pd.Series
    n_newton: int
    last_step: float
    grad_norm: float


def pair_totals(path: str | Path) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """Models, pairs ``(i, j)`` shape (P, 2), scores of ``i`` (wins + ½ ties) and games, (P,)."""
    frame = pq.read_table(path, columns=["model_a", "model_b", "winner"]).to_pandas()
    models = sorted(set(frame["model_a"]) | set(frame["model_b"]))
    code = {m: k for k, m in enumerate(models)}
    a = frame["model_a"].map(code).to_numpy(np.int64)
    b = frame["model_b"].map(code).to_numpy(np.int64)
    score_a = frame["winner"].map(
        {"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5}
    )
    if score_a.isna().any():
        raise ValueError("unexpected winner labels in the benchmark log")
    s = score_a.to_numpy(float)
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    s_lo = np.where(a == lo, s, 1.0 - s)
    tab = pd.DataFrame({"lo": lo, "hi": hi, "s": s_lo}).groupby(["lo", "hi"])["s"].agg(
        ["sum", "count"]
    )
    pairs = np.column_stack(
        [tab.index.get_level_values(0).to_numpy(), tab.index.get_level_values(1).to_numpy()]
    )
    return models, pairs, tab["sum"].to_numpy(float), tab["count"].to_numpy(float)


def _nll(x: np.ndarray, pairs: np.ndarray, s: np.ndarray, n: np.ndarray) -> tuple[
    float, np.ndarray, np.ndarray
]:
    """Negative log-likelihood, gradient and Hessian in the free coordinates (θ₀ = 0)."""
    m = x.shape[0] + 1
    theta = np.concatenate([[0.0], x])
    d = theta[pairs[:, 0]] - theta[pairs[:, 1]]
    f = float(np.sum(n * np.logaddexp(0.0, -d) + (n - s) * d))
    p = expit(d)
    gd = n * p - s
    hd = n * p * (1.0 - p)
    g = np.bincount(pairs[:, 0], gd, m) - np.bincount(pairs[:, 1], gd, m)
    h = np.zeros((m, m))
    np.add.at(h, (pairs[:, 0], pairs[:, 1]), -hd)
    np.add.at(h, (pairs[:, 1], pairs[:, 0]), -hd)
    h[np.diag_indices(m)] += np.bincount(pairs[:, 0], hd, m) + np.bincount(pairs[:, 1], hd, m)
    return f, g[1:], h[1:, 1:]


def exact_mle(path: str | Path) -> ExactFit:
    """Fit the reference MLE of the log at ``path``; see the module docstring."""
    models, pairs, s, n = pair_totals(path)
    x0 = np.zeros(len(models) - 1)
    res = minimize(
        lambda x: _nll(x, pairs, s, n)[0],
        x0,
        jac=lambda x: _nll(x, pairs, s, n)[1],
        hess=lambda x: _nll(x, pairs, s, n)[2],
        method="trust-exact",
        options={"gtol": 1e-8, "maxiter": 1000},
    )
    x = res.x
    step = np.inf
    n_newton = 0
    while n_newton < 50 and step >= 1e-13:
        _, g, h = _nll(x, pairs, s, n)
        delta = np.linalg.solve(h, g)
        x = x - delta
        step = float(np.max(np.abs(delta)))
        n_newton += 1
    _, g, _ = _nll(x, pairs, s, n)
    theta = np.concatenate([[0.0], x])
    elo = 1000.0 + ELO * (theta - theta.mean())
    return ExactFit(
        ratings=pd.Series(elo, index=pd.Index(models, name="model"), name="exact"),
        n_newton=n_newton,
        last_step=step,
        grad_norm=float(np.linalg.norm(g)),
    )


def max_abs_diff(ratings: pd.Series, exact: pd.Series) -> float:
    """max |Δ| in Elo between two rating vectors after aligning their means (same models)."""
    r = ratings.reindex(exact.index).astype(float)
    if r.isna().any():
        raise ValueError(f"ratings lack models {list(r.index[r.isna()][:5])}")
    return float(np.max(np.abs((r - r.mean()) - (exact - exact.mean()))))
