"""Benchmark cases for the rating libraries users would pick, and a skilled user's own code.

Each case reads the Parquet log with ``pandas.read_parquet`` (what a user of the library
would do), calls the library as its documentation shows, and returns point ratings on the
Elo scale (mean-centred for the accuracy comparison). APIs were read from the installed
sources (``arena_rank/models/bradley_terry.py``, ``arena_rank/utils/data_utils.py``,
``evalica/__init__.py``, ``choix/lsr.py``). Packages: ``pip install arena-rank evalica
choix`` (the ``bench`` extra); none is a dependency of wizardarena.

Ties: every library is asked for the half-tie Bradley-Terry model that wizardarena fits by
default (arena-rank: outcome 0.5; evalica: ``tie_weight=0.5``; choix, which only takes
(winner, loser) pairs: each decisive battle counted twice and each tie once each way, which
has exactly the half-tie likelihood, doubled).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

ELO = 400.0 / math.log(10.0)
_COLUMNS = ["model_a", "model_b", "winner"]


def _read(path: str) -> pd.DataFrame:
    return pd.read_parquet(path, columns=_COLUMNS)


def _codes(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Model codes of both columns (one factorisation), outcome 2/1/0 = A wins / tie / B wins."""
    n = len(df)
    codes, models = pd.factorize(pd.concat([df["model_a"], df["model_b"]]), sort=True)
    a, b = codes[:n].astype(np.int64), codes[n:].astype(np.int64)
    w = df["winner"].to_numpy()
    out = np.select([w == "model_a", w == "model_b"], [2, 0], default=1).astype(np.int64)
    return a, b, out, [str(m) for m in models]


# --------------------------------------------------------------------------- arena-rank


def _arena_rank_fit(path: str, ci_method: str, rounds: int, seed: int) -> pd.Series:
    from arena_rank.models.bradley_terry import BradleyTerry
    from arena_rank.utils.data_utils import PairDataset

    dataset = PairDataset.from_pandas(_read(path))
    model = BradleyTerry(n_competitors=len(dataset.competitors))
    kwargs = {"num_bootstrap": rounds, "seed": seed} if ci_method == "bootstrap" else {}
    res = model.compute_ratings_and_cis(dataset, ci_method=ci_method, **kwargs)
    return pd.Series(np.asarray(res["ratings"], dtype=float), index=res["competitors"])


def arena_rank_sandwich(path: str, *, rounds: int, seed: int) -> pd.Series:
    """arena-rank ``BradleyTerry.compute_ratings_and_cis(ci_method="sandwich")``."""
    return _arena_rank_fit(path, "sandwich", rounds, seed)


def arena_rank_bootstrap(path: str, *, rounds: int, seed: int) -> pd.Series:
    """arena-rank bootstrap: JAX multinomial counts, L-BFGS per replicate in a process pool.

    arena-rank builds a ``multiprocessing.Pool`` with the platform default start method; on
    Linux that is ``fork``, and forking after JAX has started its threads deadlocked here
    (JAX warns that it will; a 4-round run on 1M × 20 hung for 300 s). A user hitting that
    switches to ``spawn``, which this case does before calling the library.
    """
    import multiprocessing as mp

    mp.set_start_method("spawn", force=True)
    return _arena_rank_fit(path, "bootstrap", rounds, seed)


# --------------------------------------------------------------------------- evalica


def _evalica_inputs(path: str) -> tuple[pd.Series, pd.Series, list[Any]]:
    import evalica

    df = _read(path)
    label = {"model_a": evalica.Winner.X, "model_b": evalica.Winner.Y,
             "tie": evalica.Winner.Draw, "tie (bothbad)": evalica.Winner.Draw}
    winners = [label[w] for w in df["winner"].tolist()]
    return df["model_a"], df["model_b"], winners


def _strength_to_elo(scores: pd.Series) -> pd.Series:
    return pd.Series(ELO * np.log(scores.to_numpy(dtype=float)), index=scores.index)


def evalica_point(path: str, *, rounds: int, seed: int) -> pd.Series:
    """``evalica.bradley_terry`` (Rust MM solver, defaults ``tolerance=1e-6, limit=100``)."""
    import evalica

    xs, ys, winners = _evalica_inputs(path)
    res = evalica.bradley_terry(xs, ys, winners, tie_weight=0.5)
    return _strength_to_elo(res.scores)


def evalica_bootstrap(path: str, *, rounds: int, seed: int) -> pd.Series:
    """``evalica.bootstrap(evalica.bradley_terry, ...)`` with ``bootstrap_method="percentile"``.

    evalica's default is BCa, whose jackknife refits the model once per battle (10⁶ fits
    here), so the percentile method (what LMSYS reports) is the fair comparison.
    """
    import evalica

    xs, ys, winners = _evalica_inputs(path)
    res = evalica.bootstrap(evalica.bradley_terry, xs, ys, winners, tie_weight=0.5,
                            n_resamples=rounds, bootstrap_method="percentile",
                            random_state=seed)
    return _strength_to_elo(res.result.scores)


# --------------------------------------------------------------------------- choix


def choix_point(path: str, *, rounds: int, seed: int) -> pd.Series:
    """``choix.ilsr_pairwise`` on (winner, loser) pairs (defaults ``max_iter=100, tol=1e-8``)."""
    import choix

    a, b, out, models = _codes(_read(path))
    dec = out != 1
    win = np.where(out == 2, a, b)[dec]
    lose = np.where(out == 2, b, a)[dec]
    tie_a, tie_b = a[~dec], b[~dec]
    data = np.concatenate([
        np.column_stack([win, lose]), np.column_stack([win, lose]),
        np.column_stack([tie_a, tie_b]), np.column_stack([tie_b, tie_a]),
    ])
    pairs = list(map(tuple, data.tolist()))
    params = choix.ilsr_pairwise(len(models), pairs)
    return pd.Series(1000.0 + ELO * params, index=models)


# --------------------------------------------------------------------------- skilled user


def _skilled(path: str, rounds: int, seed: int) -> pd.Series:
    """numpy dedup → multinomial counts → ``choix.ilsr_pairwise_dense`` per replicate."""
    import choix

    a, b, out, models = _codes(_read(path))
    m = len(models)
    key = (a * m + b) * 3 + out
    uniq, counts = np.unique(key, return_counts=True)
    ua, ub, uo = uniq // (3 * m), (uniq // 3) % m, uniq % 3
    # score of a per unique row: win 1, tie 1/2, loss 0; the rest goes to b
    sa = uo / 2.0
    flat_ab, flat_ba = ua * m + ub, ub * m + ua

    def comp(c: np.ndarray) -> np.ndarray:
        mat = np.bincount(flat_ab, weights=c * sa, minlength=m * m)
        mat += np.bincount(flat_ba, weights=c * (1.0 - sa), minlength=m * m)
        return mat.reshape(m, m)

    params = choix.ilsr_pairwise_dense(comp(counts.astype(float)))
    if rounds:
        rng = np.random.default_rng(seed)
        total = int(counts.sum())
        draws = rng.multinomial(total, counts / total, size=rounds)
        reps = np.empty((rounds, m))
        for r in range(rounds):
            reps[r] = choix.ilsr_pairwise_dense(comp(draws[r].astype(float)),
                                                initial_params=params)
        _ = np.quantile(ELO * reps, [0.025, 0.975], axis=0)
    return pd.Series(1000.0 + ELO * params, index=models)


def skilled_point(path: str, *, rounds: int, seed: int) -> pd.Series:
    """Skilled user, point fit only."""
    return _skilled(path, 0, seed)


def skilled_bootstrap(path: str, *, rounds: int, seed: int) -> pd.Series:
    """Skilled user, point fit + ``rounds`` multinomial replicates in a Python loop."""
    return _skilled(path, rounds, seed)
