"""Bradley-Terry MLE against independent solvers and golden values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from reference_solvers import newton_loop
from scipy.optimize import minimize

import wizardarena as wa
from wizardarena.ratings.design import Ties, build_design
from wizardarena.ratings.sampling import BattleSampler
from wizardarena.ratings.solver import solve

FACTOR = 400 / np.log(10)


def _reference_mle(df: pd.DataFrame, models: list[str], ties: str = "half") -> np.ndarray:
    """Independent solver: BFGS on the row-level log-likelihood (no aggregation)."""
    pos = {m: k for k, m in enumerate(models)}
    a = df["model_a"].map(pos).to_numpy()
    b = df["model_b"].map(pos).to_numpy()
    y = df["winner"].map({"model_a": 1.0, "model_b": 0.0, "tie": 0.5, "tie (bothbad)": 0.5})
    y = y.to_numpy()
    if ties == "drop":
        keep = y != 0.5
        a, b, y = a[keep], b[keep], y[keep]
    m = len(models)

    def nll(x: np.ndarray) -> tuple[float, np.ndarray]:
        th = np.concatenate([[0.0], x])  # first model fixed at 0 (identification)
        d = th[a] - th[b]
        val = np.sum(np.logaddexp(0, -d) + (1 - y) * d)
        p = 1 / (1 + np.exp(-d))
        g_d = p - y
        g = np.bincount(a, g_d, minlength=m) - np.bincount(b, g_d, minlength=m)
        return float(val), g[1:]

    res = minimize(nll, np.zeros(m - 1), jac=True, method="BFGS",
                   options={"gtol": 1e-10, "maxiter": 10_000})
    th = np.concatenate([[0.0], res.x])
    return 1000 + FACTOR * (th - th.mean())


@pytest.mark.parametrize("ties", ["half", "drop"])
def test_mle_matches_row_level_reference(ties: str) -> None:
    truth = {"a": 1250, "b": 1100, "c": 1040, "d": 1000, "e": 900, "f": 860}
    df = wa.simulate_battles(truth, 6000, tie_rate=0.3,
                             pair_weights=np.arange(36).reshape(6, 6) % 5 + 1, rng=3)
    board = wa.rank(df, ci="none", ties=ties)
    ref = _reference_mle(df, sorted(truth), ties)
    ours = board.table["rating"].reindex(sorted(truth)).to_numpy()
    assert np.max(np.abs(ours - ref)) < 0.01


def test_mle_matches_logistic_regression_as_fastchat() -> None:
    """FastChat's compute_mle_elo: logistic regression on ±log(base) design, ties as both."""
    from sklearn.linear_model import LogisticRegression

    truth = {"a": 1150, "b": 1000, "c": 950, "d": 900}
    df = wa.simulate_battles(truth, 4000, tie_rate=0.2, rng=11)
    models = sorted(truth)
    pos = {m: k for k, m in enumerate(models)}
    # FastChat duplicates the log; ties become one win and one loss (half a win each)
    x = np.zeros((2 * len(df), len(models)))
    rows = np.arange(len(df))
    a = df["model_a"].map(pos).to_numpy()
    b = df["model_b"].map(pos).to_numpy()
    for half in (0, 1):
        x[rows + half * len(df), a] = np.log(10)
        x[rows + half * len(df), b] = -np.log(10)
    y = np.concatenate([(df["winner"] == "model_a").to_numpy(),
                        (df["winner"] != "model_b").to_numpy()]).astype(float)
    lr = LogisticRegression(fit_intercept=False, C=1e10, tol=1e-12, max_iter=10_000)
    lr.fit(x, y)
    coef = 400 * lr.coef_[0]
    ref = 1000 + coef - coef.mean()
    ours = wa.rank(df, ci="none").table["rating"].reindex(models).to_numpy()
    assert np.max(np.abs(ours - ref)) < 0.01


def test_wikipedia_four_team_example() -> None:
    """Wikipedia "Bradley–Terry model" worked example: p ≈ (0.640, 1.043, 0.660, 2.270)."""
    wins = {("A", "B"): 2, ("A", "D"): 1, ("B", "A"): 3, ("B", "C"): 5,
            ("C", "B"): 3, ("C", "D"): 1, ("D", "A"): 4, ("D", "C"): 3}
    rows = [{"model_a": w, "model_b": lo, "winner": "model_a"}
            for (w, lo), n in wins.items() for _ in range(n)]
    board = wa.rank(rows, ci="none")
    theta = (board.table["rating"] - 1000) / FACTOR  # mean-zero log strengths
    p = np.exp(theta).reindex(["A", "B", "C", "D"]).to_numpy()  # geometric mean 1
    np.testing.assert_allclose(p, [0.640, 1.043, 0.660, 2.270], atol=0.0015)


def test_davidson_matches_scipy() -> None:
    truth = {"a": 1100, "b": 1000, "c": 950}
    df = wa.simulate_battles(truth, 3000, tie_rate=0.4, rng=5)
    models = sorted(truth)
    pos = {m: k for k, m in enumerate(models)}
    a = df["model_a"].map(pos).to_numpy()
    b = df["model_b"].map(pos).to_numpy()
    w = df["winner"].to_numpy()
    aw, bw, tt = (w == "model_a"), (w == "model_b"), np.isin(w, ["tie", "tie (bothbad)"])

    def nll(x: np.ndarray) -> float:
        th = np.concatenate([[0.0], x[:-1]])
        lognu = x[-1]
        d = th[a] - th[b]
        den = np.logaddexp(np.logaddexp(d / 2, -d / 2), lognu)
        ll = aw * d / 2 - bw * d / 2 + tt * lognu - den
        return -float(ll.sum())

    res = minimize(nll, np.zeros(3), method="Nelder-Mead",
                   options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20_000})
    th = np.concatenate([[0.0], res.x[:-1]])
    ref = 1000 + FACTOR * (th - th.mean())
    board = wa.rank(df, ci="none", ties="davidson")
    ours = board.table["rating"].reindex(models).to_numpy()
    assert np.max(np.abs(ours - ref)) < 0.01
    assert board.info.tie_param == pytest.approx(np.exp(res.x[-1]), rel=1e-4)


def _design_of(df: pd.DataFrame, ties: Ties):  # type: ignore[no-untyped-def]
    counts = wa.read_battles(df).counts()
    return build_design(counts.n_models, counts.a, counts.b, counts.outcome, ties=ties,
                        weight=counts.weight, count=counts.count)


@pytest.mark.parametrize("ties", [Ties.HALF, Ties.DROP, Ties.DAVIDSON])
def test_batched_solver_equals_plain_loop(ties: Ties) -> None:
    """The vectorised batch gives what a plain per-row, per-replicate loop gives, to 1e-6 Elo."""
    truth = {f"m{k}": 1000 + 60 * k for k in range(6)}
    df = wa.simulate_battles(truth, 1500, tie_rate=0.25, rng=2)
    design, cats = _design_of(df, ties)
    bw, bl, bt = BattleSampler(cats)(np.random.default_rng(0), 40)
    batch = solve(design, (bw, bl, bt), tol=1e-12)
    assert batch.converged.all()
    m = design.n_models
    for r in range(bw.shape[0]):
        th, _, ok = newton_loop(m, design.pair_i, design.pair_j, bw[r], bl[r],
                                None if bt is None else bt[r], davidson=ties is Ties.DAVIDSON)
        assert ok
        diff = FACTOR * (batch.theta[r, :m] - th[:m])
        assert np.max(np.abs(diff)) < 1e-6
        if ties is Ties.DAVIDSON:
            assert batch.theta[r, -1] == pytest.approx(th[-1], abs=1e-8)


@pytest.mark.parametrize("ties", [Ties.HALF, Ties.DAVIDSON])
def test_batched_solver_with_features_equals_plain_loop(ties: Ties) -> None:
    """Features (a style-like covariate and a ±1 first-slot column) through the same solver."""
    rng = np.random.default_rng(4)
    n, m = 700, 4
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    x = np.column_stack([rng.choice([-1.0, 1.0], n), np.round(rng.standard_normal(n), 1)])
    z = np.array([0.0, 0.4, 0.8, 1.2])[a] - np.array([0.0, 0.4, 0.8, 1.2])[b] + x @ [0.3, 0.5]
    u = rng.random(n)
    outcome = np.where(u < 0.15, 2, np.where(u < 0.15 + 0.85 / (1 + np.exp(-z)), 0, 1))
    design, cats = build_design(m, a, b, outcome.astype(np.int8), ties=ties, x=x,
                                feature_names=("first", "len"))
    stats = BattleSampler(cats)(np.random.default_rng(1), 3)
    batch = solve(design, stats, l2=0.1, tol=1e-12)
    assert batch.converged.all()
    pair = design.row_pair
    for r in range(3):
        th, _, ok = newton_loop(m, design.pair_i[pair], design.pair_j[pair], stats[0][r],
                                stats[1][r], None if stats[2] is None else stats[2][r],
                                x=design.x, davidson=ties is Ties.DAVIDSON, l2=0.1)
        assert ok
        np.testing.assert_allclose(batch.theta[r], th, atol=1e-8)


def test_solver_stall_test_ends_at_round_off() -> None:
    """Asked for a gradient of exactly zero, every replicate stops, converged, in a few steps."""
    truth = {f"m{k}": 1000 + 90 * k for k in range(8)}
    df = wa.simulate_battles(truth, 20_000, tie_rate=0.2, rng=5)
    design, cats = _design_of(df, Ties.HALF)
    stats = BattleSampler(cats)(np.random.default_rng(2), 16)
    sol = solve(design, stats, tol=0.0, max_iter=100)
    assert sol.converged.all() and sol.stalled.all()
    assert sol.n_iter.max() <= 12
    assert sol.gradient.max() < 1e-12
    loose = solve(design, stats, tol=1e-8)
    assert loose.converged.all() and not loose.stalled.any()
    assert loose.n_iter.max() <= sol.n_iter.max()


def test_battle_replicates_are_multinomial_resamples_of_battles() -> None:
    """Each replicate has N battles, and its mean over many replicates is the data."""
    df = wa.simulate_battles({"a": 1000, "b": 1100, "c": 900}, 500, tie_rate=0.3, rng=1)
    _, cats = _design_of(df, Ties.DAVIDSON)
    bw, bl, bt = BattleSampler(cats)(np.random.default_rng(3), 2000)
    assert bt is not None
    np.testing.assert_allclose((bw + bl + bt).sum(axis=1), 500)
    w, _, t = cats.full_stats()
    assert t is not None
    np.testing.assert_allclose(bw.mean(axis=0), w[0], rtol=0.03)
    np.testing.assert_allclose(bt.mean(axis=0), t[0], rtol=0.05)
