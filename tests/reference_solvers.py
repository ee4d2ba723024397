"""Plain reference implementations the vectorised engine is checked against (tests only).

Everything here is written for clarity, one battle or one row at a time, with Python loops:
nothing is shared with ``wizardarena.ratings`` except the meaning of the numbers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def newton_loop(
    n_models: int,
    i: np.ndarray,
    j: np.ndarray,
    win: np.ndarray,
    loss: np.ndarray,
    tie: np.ndarray | None = None,
    *,
    x: np.ndarray | None = None,
    davidson: bool = False,
    ridge: float = 1e-6,
    l2: float = 0.0,
    tol: float = 1e-12,
    max_iter: int = 200,
) -> tuple[np.ndarray, int, bool]:
    """Newton's method on rows ``(i, j, x, win, loss, tie)``, one row at a time.

    Bernoulli model (``win`` already holding half ties when ties are halves) or Davidson.
    Parameters: log-strengths (mean 0), feature coefficients, then ``log ν`` for Davidson.
    Stops when the largest step is below ``tol`` (this reference is not asked for more than
    float64 allows in the tests).
    """
    rows = len(i)
    x = np.zeros((rows, 0)) if x is None else np.asarray(x, dtype=float)
    tie = np.zeros(rows) if tie is None else np.asarray(tie, dtype=float)
    f = x.shape[1]
    k = n_models + f + (1 if davidson else 0)
    theta = np.zeros(k)
    for it in range(1, max_iter + 1):
        grad = np.zeros(k)
        hess = np.zeros((k, k))
        for r in range(rows):
            a, b = int(i[r]), int(j[r])
            vec = np.zeros(k)
            vec[a], vec[b] = 1.0, -1.0
            vec[n_models:n_models + f] = x[r]
            z = float(vec @ theta)
            if davidson:
                nu = np.exp(theta[-1])
                u, v = np.exp(z / 2), np.exp(-z / 2)
                den = u + v + nu
                n = win[r] + loss[r] + tie[r]
                gz = -(0.5 * (win[r] - loss[r]) - n * (u - v) / (2 * den))
                hzz = n * ((u + v) * den - (u - v) ** 2) / (4 * den * den)
                hzn = -n * (u - v) * nu / (2 * den * den)
                grad[-1] += -(tie[r] - n * nu / den)
                hess[-1, -1] += n * nu * (u + v) / (den * den)
                hess[:-1, -1] += hzn * vec[:-1]
                hess[-1, :-1] += hzn * vec[:-1]
            else:
                n = win[r] + loss[r]
                p = 1.0 / (1.0 + np.exp(-z))
                gz = n * p - win[r]
                hzz = n * p * (1 - p)
            grad += gz * vec
            hess += hzz * np.outer(vec, vec)
        grad[:n_models] += ridge * theta[:n_models]
        hess[np.arange(n_models), np.arange(n_models)] += ridge
        grad[n_models:n_models + f] += l2 * theta[n_models:n_models + f]
        hess[np.arange(n_models, n_models + f), np.arange(n_models, n_models + f)] += l2
        step = np.linalg.solve(hess, grad)
        step[:n_models] -= step[:n_models].mean()
        big = float(np.max(np.abs(step)))
        if big > 2.0:
            step *= 2.0 / big
        theta = theta - step
        theta[:n_models] -= theta[:n_models].mean()
        if big < tol:
            return theta, it, True
    return theta, max_iter, False


def tie_parts(winner: str, ties: str) -> tuple[float, float, float]:
    """(win of model_a, win of model_b, tie) of one FastChat verdict under a tie model."""
    a = 1.0 if winner == "model_a" else 0.0
    b = 1.0 if winner == "model_b" else 0.0
    t = 1.0 if winner in ("tie", "tie (bothbad)") else 0.0
    if ties == "half":
        return a + 0.5 * t, b + 0.5 * t, 0.0
    if ties == "drop":
        return a, b, 0.0
    return a, b, t


def resampled_pair_stats(df: pd.DataFrame, models: list[str], prompts: list[object],
                         drawn: np.ndarray, ties: str) -> dict[tuple[int, int], np.ndarray]:
    """Per-pair ``(win of i, win of j, tie)`` of a resampled log, built row by row.

    ``drawn`` holds the indices (into ``prompts``) of the prompts drawn with replacement; all
    battles of each drawn prompt are copied into the replicate, once per draw.
    """
    pos = {m: k for k, m in enumerate(models)}
    out: dict[tuple[int, int], np.ndarray] = {}
    by_prompt = {q: rows for q, rows in df.groupby("question_id", sort=False)}
    for q_idx in drawn:
        for row in by_prompt[prompts[int(q_idx)]].itertuples():
            a, b = pos[row.model_a], pos[row.model_b]
            wa_, wb, t = tie_parts(row.winner, ties)
            if wa_ + wb + t == 0:
                continue
            i, j = (a, b) if a < b else (b, a)
            if a > b:
                wa_, wb = wb, wa_
            acc = out.setdefault((i, j), np.zeros(3))
            acc += (wa_, wb, t)
    return out
