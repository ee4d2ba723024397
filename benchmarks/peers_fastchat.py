"""FastChat's two Bradley-Terry pipelines, re-implemented faithfully for the benchmark.

FastChat is not installed (``fschat`` pulls in a serving stack); the functions below follow
its source line by line, with only the I/O changed (the battles come from our Parquet file
through ``pandas.read_parquet``, as a FastChat user loading a Parquet log would).

Current method — ``fastchat/serve/monitor/rating_systems.py`` (lm-sys/FastChat, after PR
#3523 "Accelerate Bradley Terry MLE model fitting"): ``preprocess_for_bt`` deduplicates
the log to unique ``(model_a, model_b, outcome)`` rows with ``np.unique(axis=0)``;
``fit_bt`` runs scipy L-BFGS-B (``maxiter=100``, ``gtol=1e-6``) on the count-weighted
half-tie likelihood; ``compute_bootstrap_bt`` draws multinomial count vectors over the unique
rows (seeded ``default_rng(0)``) and fits each replicate in a ``multiprocessing.Pool`` of
``os.cpu_count()`` workers. Ratings are ``400·θ + 1000`` with θ in log10 units, anchored at
mixtral-8x7b-instruct-v0.1 = 1114 when present (it is not, here).

Older method — ``compute_mle_elo`` as in ``fastchat/serve/monitor/elo_analysis.py`` before
that rewrite (and the Chatbot Arena notebook it came from): three pandas pivot tables
(A wins, B wins, ties) combined into ``2·A wins + 2·B wins.T + ties + ties.T``, one weighted
design row per ordered pair and outcome, scikit-learn ``LogisticRegression(fit_intercept=
False, penalty=None, tol=1e-6)``; intervals by ``get_bootstrap_result``: a Python loop of
``battles.sample(frac=1.0, replace=True)`` row resamples, each refitted.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
from functools import partial

import numpy as np
import pandas as pd
from scipy.optimize import minimize
from scipy.special import expit

_COLUMNS = ["model_a", "model_b", "winner"]


def _read(path: str) -> pd.DataFrame:
    return pd.read_parquet(path, columns=_COLUMNS)


# --------------------------------------------------------------------------- current method


def get_matchups_models(df: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """FastChat ``get_matchups_models``: factorize both name columns together."""
    n_rows = len(df)
    model_indices, models = pd.factorize(pd.concat([df["model_a"], df["model_b"]]))
    matchups = np.column_stack([model_indices[:n_rows], model_indices[n_rows:]])
    return matchups, list(models)


def preprocess_for_bt(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """FastChat ``preprocess_for_bt``: unique (a, b, outcome) rows and their counts."""
    n_rows = len(df)
    schedule = np.full((n_rows, 3), fill_value=1, dtype=np.int32)
    schedule[:, [0, 1]], models = get_matchups_models(df)
    schedule[(df["winner"] == "model_a").to_numpy(), 2] = 2
    schedule[(df["winner"] == "model_b").to_numpy(), 2] = 0
    matchups_outcomes, weights = np.unique(schedule, return_counts=True, axis=0)
    matchups = matchups_outcomes[:, [0, 1]]
    outcomes = matchups_outcomes[:, 2].astype(np.float64) / 2.0
    return matchups, outcomes, models, weights.astype(np.float64)


def bt_loss_and_grad(ratings: np.ndarray, matchups: np.ndarray, outcomes: np.ndarray,
                     weights: np.ndarray, alpha: float = 1.0) -> tuple[float, np.ndarray]:
    """FastChat ``bt_loss_and_grad``: weighted half-tie BT negative log-likelihood."""
    matchup_ratings = ratings[matchups]
    logits = alpha * (matchup_ratings[:, 0] - matchup_ratings[:, 1])
    probs = expit(logits)
    loss = -((np.log(probs) * outcomes + np.log(1.0 - probs) * (1.0 - outcomes)) * weights).sum()
    matchups_grads = -alpha * (outcomes - probs) * weights
    model_grad = np.zeros_like(ratings)
    np.add.at(model_grad, matchups[:, [0, 1]],
              matchups_grads[:, None] * np.array([1.0, -1.0], dtype=np.float64))
    return float(loss), model_grad


def fit_bt(matchups: np.ndarray, outcomes: np.ndarray, weights: np.ndarray, n_models: int,
           alpha: float, tol: float = 1e-6) -> np.ndarray:
    """FastChat ``fit_bt``: L-BFGS-B from zeros, ``maxiter=100``, ``gtol=tol``."""
    result = minimize(
        fun=bt_loss_and_grad,
        x0=np.zeros(n_models, dtype=np.float64),
        args=(matchups, outcomes, weights, alpha),
        jac=True,
        method="L-BFGS-B",
        options={"disp": False, "maxiter": 100, "gtol": tol},
    )
    x: np.ndarray = result["x"]
    return x


def _scale(ratings: np.ndarray, models: list[str], scale: float = 400.0,
           init_rating: float = 1000.0) -> np.ndarray:
    """FastChat ``scale_and_offset`` (the mixtral anchor is absent from these logs)."""
    out = ratings * scale + init_rating
    if "mixtral-8x7b-instruct-v0.1" in models:
        idx = models.index("mixtral-8x7b-instruct-v0.1")
        out = out + (1114 - out[..., [idx]])
    return out


def compute_bt(df: pd.DataFrame, base: float = 10.0, scale: float = 400.0,
               init_rating: float = 1000.0, tol: float = 1e-6) -> pd.Series:
    """FastChat ``compute_bt``: the point fit."""
    matchups, outcomes, models, weights = preprocess_for_bt(df)
    ratings = fit_bt(matchups, outcomes, weights, len(models), math.log(base), tol)
    return pd.Series(_scale(ratings, models, scale, init_rating), index=models)


def compute_bootstrap_bt(battles: pd.DataFrame, num_round: int, base: float = 10.0,
                         scale: float = 400.0, init_rating: float = 1000.0, tol: float = 1e-6,
                         num_cpu: int | None = None) -> pd.DataFrame:
    """FastChat ``compute_bootstrap_bt``: multinomial counts, L-BFGS per replicate in a pool."""
    matchups, outcomes, models, weights = preprocess_for_bt(battles)
    rng = np.random.default_rng(seed=0)
    idxs = rng.multinomial(n=len(battles), pvals=weights / weights.sum(), size=num_round)
    boot_weights = idxs.astype(np.float64) / len(battles)
    bt_fn = partial(fit_bt, matchups, outcomes, n_models=len(models), alpha=np.log(base),
                    tol=tol)
    with mp.Pool(num_cpu if num_cpu else os.cpu_count()) as pool:
        results = list(pool.imap_unordered(bt_fn, boot_weights))
    ratings = np.array(results)
    return pd.DataFrame(_scale(ratings, models, scale, init_rating), columns=models)


def current_point(path: str, *, rounds: int, seed: int) -> pd.Series:
    """Case: FastChat ``compute_bt`` from Parquet."""
    return compute_bt(_read(path))


def current_bootstrap(path: str, *, rounds: int, seed: int) -> pd.Series:
    """Case: FastChat ``compute_bt`` + ``compute_bootstrap_bt(num_round=rounds)``."""
    battles = _read(path)
    point = compute_bt(battles)
    boot = compute_bootstrap_bt(battles, rounds)
    _ = boot.quantile([0.025, 0.975])
    return point


# --------------------------------------------------------------------------- older method


def compute_mle_elo(df: pd.DataFrame, SCALE: float = 400, BASE: float = 10,
                    INIT_RATING: float = 1000) -> pd.Series:
    """FastChat's pivot-table ``compute_mle_elo`` (scikit-learn logistic regression)."""
    from sklearn.linear_model import LogisticRegression

    ptbl_a_win = pd.pivot_table(df[df["winner"] == "model_a"], index="model_a",
                                columns="model_b", aggfunc="size", fill_value=0)
    if sum(df["winner"].isin(["tie", "tie (bothbad)"])) == 0:
        ptbl_tie = pd.DataFrame(0, index=ptbl_a_win.index, columns=ptbl_a_win.columns)
    else:
        ptbl_tie = pd.pivot_table(df[df["winner"].isin(["tie", "tie (bothbad)"])],
                                  index="model_a", columns="model_b", aggfunc="size",
                                  fill_value=0)
        ptbl_tie = ptbl_tie + ptbl_tie.T
    ptbl_b_win = pd.pivot_table(df[df["winner"] == "model_b"], index="model_a",
                                columns="model_b", aggfunc="size", fill_value=0)
    ptbl_win = ptbl_a_win * 2 + ptbl_b_win.T * 2 + ptbl_tie
    models = pd.Series(np.arange(len(ptbl_win.index)), index=ptbl_win.index)
    p = len(models)
    X = np.zeros([p * (p - 1) * 2, p])
    Y = np.zeros(p * (p - 1) * 2)
    cur_row = 0
    sample_weights = []
    for m_a in ptbl_win.index:
        for m_b in ptbl_win.columns:
            if m_a == m_b:
                continue
            if math.isnan(ptbl_win.loc[m_a, m_b]) or math.isnan(ptbl_win.loc[m_b, m_a]):
                continue
            X[cur_row, models[m_a]] = +math.log(BASE)
            X[cur_row, models[m_b]] = -math.log(BASE)
            Y[cur_row] = 1.0
            sample_weights.append(ptbl_win.loc[m_a, m_b])
            X[cur_row + 1, models[m_a]] = math.log(BASE)
            X[cur_row + 1, models[m_b]] = -math.log(BASE)
            Y[cur_row + 1] = 0.0
            sample_weights.append(ptbl_win.loc[m_b, m_a])
            cur_row += 2
    X = X[:cur_row]
    Y = Y[:cur_row]
    lr = LogisticRegression(fit_intercept=False, penalty=None, tol=1e-6)
    lr.fit(X, Y, sample_weight=sample_weights)
    elo_scores = SCALE * lr.coef_[0] + INIT_RATING
    if "mixtral-8x7b-instruct-v0.1" in models.index:
        elo_scores += 1114 - elo_scores[models["mixtral-8x7b-instruct-v0.1"]]
    return pd.Series(elo_scores, index=models.index)


def get_bootstrap_result(battles: pd.DataFrame, func_compute_elo: object,
                         num_round: int) -> pd.DataFrame:
    """FastChat ``get_bootstrap_result``: refit on ``num_round`` row resamples."""
    rows = []
    for _ in range(num_round):
        rows.append(func_compute_elo(battles.sample(frac=1.0, replace=True)))  # type: ignore[operator]
    df = pd.DataFrame(rows)
    return df[df.median().sort_values(ascending=False).index]


def lr_point(path: str, *, rounds: int, seed: int) -> pd.Series:
    """Case: older ``compute_mle_elo`` from Parquet."""
    return compute_mle_elo(_read(path))


def lr_bootstrap(path: str, *, rounds: int, seed: int) -> pd.Series:
    """Case: older ``compute_mle_elo`` + ``get_bootstrap_result`` (row bootstrap).

    FastChat seeds numpy's global state in ``__main__``; the benchmark does not (no global
    seeding in this repository), which changes nothing about the cost.
    """
    battles = _read(path)
    point = compute_mle_elo(battles)
    boot = get_bootstrap_result(battles, compute_mle_elo, rounds)
    _ = boot.quantile([0.025, 0.975])
    return point
