"""Leaderboard.compare / prob_better: paired replicates, ±inf and NaN, the sandwich, pair counts."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import wizardarena as wa
from wizardarena.leaderboard import RatingDifference
from wizardarena.testing import fixture_log

TRUTH = {"a": 1100.0, "b": 1060.0, "c": 1000.0, "d": 940.0}


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return wa.simulate_battles(TRUTH, 3000, tie_rate=0.2, prompts=120, prompt_effect=0.5, rng=3)


@pytest.fixture(scope="module")
def boot(log: pd.DataFrame) -> wa.Leaderboard:
    return wa.rank(log, unit="prompt", rounds=400, rng=0)


@pytest.fixture(scope="module")
def sand(log: pd.DataFrame) -> wa.Leaderboard:
    return wa.rank(log, unit="prompt", ci="sandwich")


def _loop_prob(ra: list[float], rb: list[float], t: float = 0.0) -> tuple[float, int]:
    """Reference: a plain loop over replicates (NaN does not count; ±inf is an extreme)."""
    above = ties = n = 0
    for x, y in zip(ra, rb):
        if np.isnan(x) or np.isnan(y) or (np.isinf(x) and np.isinf(y) and x == y):
            continue
        n += 1
        d = x - y
        above += d > t
        ties += d == t
    return (above + 0.5 * ties) / n, n


def test_paired_probability_equals_a_loop_over_replicates(boot: wa.Leaderboard) -> None:
    assert boot.replicates is not None
    for a, b in [("a", "b"), ("b", "a"), ("c", "d"), ("b", "c")]:
        c = boot.compare(a, b)
        ref, n = _loop_prob(list(boot.replicates[a]), list(boot.replicates[b]))
        assert c.prob == pytest.approx(ref, abs=1e-12) and c.n_replicates == n == 400
        assert boot.prob_better(a, b) == c.prob
        assert c.prob_above(-15.0) == pytest.approx(
            _loop_prob(list(boot.replicates[a]), list(boot.replicates[b]), -15.0)[0])
        d = (boot.replicates[a] - boot.replicates[b]).to_numpy()
        assert c.lower == pytest.approx(np.quantile(d, 0.025), abs=1e-9)
        assert c.upper == pytest.approx(np.quantile(d, 0.975), abs=1e-9)
        t = boot.table["rating"]
        assert c.difference == pytest.approx(t[a] - t[b])
        assert c.se == pytest.approx(np.std(d, ddof=1))
    # swapping the models mirrors everything
    ab, ba = boot.compare("a", "b"), boot.compare("b", "a")
    assert ab.prob + ba.prob == pytest.approx(1.0)
    assert ab.lower == pytest.approx(-ba.upper) and ab.difference == pytest.approx(-ba.difference)


def test_pairing_matters(boot: wa.Leaderboard) -> None:
    """Paired replicates: the spread of the difference is not the unpaired one."""
    assert boot.replicates is not None and boot.covariance is not None
    r = boot.replicates
    paired = (r["a"] - r["b"]).std()
    unpaired = np.sqrt(r["a"].var() + r["b"].var())
    assert boot.compare("a", "b").se == pytest.approx(paired)
    assert abs(paired - unpaired) > 0.05 * unpaired  # the covariance term is not negligible


def test_sandwich_uses_the_covariance_of_the_difference(sand: wa.Leaderboard) -> None:
    assert sand.covariance is not None
    cov = sand.covariance
    c = sand.compare("b", "c", level=0.9)
    se = np.sqrt(cov.at["b", "b"] + cov.at["c", "c"] - 2 * cov.at["b", "c"])
    assert c.se == pytest.approx(se) and c.method == "sandwich" and c.level == 0.9
    assert c.prob == pytest.approx(norm.cdf(c.difference / se))
    assert c.lower == pytest.approx(c.difference - norm.ppf(0.95) * se)
    assert c.prob_above(10.0) == pytest.approx(norm.cdf((c.difference - 10) / se))
    assert c.bound(0.95) == pytest.approx(c.difference - norm.ppf(0.95) * se)
    assert c.bound(0.95, "upper") == pytest.approx(c.difference + norm.ppf(0.95) * se)


def test_bootstrap_and_sandwich_agree(boot: wa.Leaderboard, sand: wa.Leaderboard) -> None:
    for a, b in [("a", "b"), ("b", "c"), ("c", "d")]:
        x, y = boot.compare(a, b), sand.compare(a, b)
        assert x.difference == pytest.approx(y.difference)
        assert x.se == pytest.approx(y.se, rel=0.25)
        assert abs(x.prob - y.prob) < 0.05


def test_infinite_and_missing_replicates_are_counted_honestly(boot: wa.Leaderboard) -> None:
    reps = pd.DataFrame({
        "a": [1010.0, np.inf, 990.0, np.nan, 1000.0, np.inf, -np.inf],
        "b": [1000.0, 1000.0, 1000.0, 1000.0, np.nan, np.inf, 1000.0],
        "c": [1000.0] * 7, "d": [1000.0] * 7,
    })
    board = dataclasses.replace(boot, replicates=reps)
    c = board.compare("a", "b")
    # counted: 10, +inf, -10, -inf (NaN rows and +inf − +inf do not count)
    assert c.n_replicates == 4
    assert c.prob == pytest.approx(0.5)
    assert c.prob_above(-20.0) == pytest.approx(0.75)
    assert c.prob_above(-np.inf) == pytest.approx(1.0 - 0.5 / 4)  # −inf equals the threshold
    reps2 = reps.assign(a=[np.inf] * 7, b=[1000.0] * 7)
    sure = dataclasses.replace(boot, replicates=reps2).compare("a", "b")
    assert sure.prob == 1.0 and sure.lower == np.inf and sure.upper == np.inf


def test_pair_battles_count_the_log(log: pd.DataFrame, boot: wa.Leaderboard) -> None:
    assert boot.pair_battles is not None
    for (x, y), n in log.groupby(["model_a", "model_b"]).size().items():
        back = int(((log["model_a"] == y) & (log["model_b"] == x)).sum())
        assert boot.pair_battles.at[x, y] == n + back
    assert (np.diag(boot.pair_battles) == 0).all()
    assert boot.pair_battles.to_numpy().sum() == 2 * len(log)
    assert boot.compare("a", "b").n_battles == boot.pair_battles.at["a", "b"]
    elo = wa.rank(log, method="elo", rounds=20, rng=0)
    assert elo.pair_battles is not None and elo.pair_battles.equals(boot.pair_battles)


def test_unidentified_models() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wa.RidgeWarning)
        und = fixture_log("undefeated").rank(rounds=200, rng=0)
        dis = fixture_log("disconnected").rank(rounds=200, rng=0)
        und_s = fixture_log("undefeated").rank(ci="sandwich")
    champ = und.compare("champ", "p")  # +inf in every replicate: the extreme it is
    assert champ.prob == 1.0 and champ.lower == np.inf and "undefeated" in champ.note
    island = dis.compare("a", "island-1")  # no battle links them: undetermined
    assert np.isnan(island.prob) and not island.determined and "disconnected" in island.note
    assert np.isnan(island.prob_above(0.0)) and np.isnan(island.bound(0.95))
    assert np.isnan(und_s.compare("champ", "p").prob)  # a ridge-held sandwich means nothing
    assert dis.compare("a", "b").determined


def test_compare_refuses_bad_requests(boot: wa.Leaderboard, log: pd.DataFrame) -> None:
    with pytest.raises(wa.ValidationError, match=r"'bb' is not on the leaderboard.*'b'"):
        boot.compare("a", "bb")
    with pytest.raises(wa.ValidationError, match="two different models"):
        boot.compare("a", "a")
    with pytest.raises(wa.ValidationError, match="level"):
        boot.compare("a", "b", level=95)
    with pytest.raises(wa.ValidationError, match="side"):
        boot.compare("a", "b").bound(0.95, "left")
    with pytest.raises(wa.ValidationError, match="ci='none'"):
        wa.rank(log, ci="none").compare("a", "b")


def test_result_is_a_small_frozen_dataclass(boot: wa.Leaderboard) -> None:
    c = boot.compare("a", "b")
    assert isinstance(c, RatingDifference)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.prob = 0.5  # type: ignore[misc]
    assert "draws" not in repr(c) and "prob=" in repr(c)
