"""The assertion helpers and their check_* twins: decisions, one-sidedness, messages."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

import wizardarena as wa
from wizardarena.testing import (
    assert_better,
    assert_not_worse,
    assert_order,
    assert_rank_at_most,
    check_better,
    check_not_worse,
    check_order,
    check_rank_at_most,
    fixture_log,
)

TRUTH = {"top": 1150.0, "new": 1035.0, "old": 1030.0, "low": 900.0}


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    return wa.simulate_battles(TRUTH, 2400, tie_rate=0.2, prompts=100, prompt_effect=0.3, rng=11)


@pytest.fixture(scope="module")
def board(log: pd.DataFrame) -> wa.Leaderboard:
    return wa.rank(log, ci="sandwich")


@pytest.fixture(scope="module")
def boot(log: pd.DataFrame) -> wa.Leaderboard:
    return wa.rank(log, unit="prompt", rounds=500, rng=0)


def test_better_passes_and_fails_on_the_probability(board: wa.Leaderboard) -> None:
    assert_better(board, "top", "low")
    r = check_better(board, "top", "low")
    assert r.passed and r.decided and r.probability > 0.999
    c = board.compare("new", "old")
    assert 0.05 < c.prob < 0.95  # new vs old is not settled by 2,400 battles
    with pytest.raises(AssertionError) as err:
        assert_better(board, "new", "old")
    msg = str(err.value)
    t = board.table
    assert f"new {t.at['new', 'rating']:.1f}, old {t.at['old', 'rating']:.1f}" in msg
    assert f"[{c.lower:+.1f}, {c.upper:+.1f}]" in msg and "95% interval" in msg
    assert f"P(new − old > 0) = {c.prob:.3f}, needs ≥ 0.95" in msg
    assert f"{c.n_battles:,} between new and old" in msg
    assert "more battles in the same design" in msg and "1/√battles" in msg
    # the other direction: the estimate is on the wrong side, more battles would not help
    with pytest.raises(AssertionError, match="more likely confirm this than reverse it"):
        assert_better(board, "low", "top")


def test_better_by_and_level(board: wa.Leaderboard) -> None:
    c = board.compare("top", "new")
    by = c.difference - norm.ppf(0.9) * c.se  # P(d > by) = 0.9 exactly under the sandwich
    assert check_better(board, "top", "new", level=0.89, by=by - 0.1).passed
    assert not check_better(board, "top", "new", level=0.89, by=by + 5).passed
    assert not check_better(board, "top", "new", level=0.91, by=by - 0.1).passed
    msg = check_better(board, "top", "new", level=0.91, by=by).message
    assert f"by more than {by:+.1f}" in msg


def test_more_battles_estimate_settles_it_when_the_log_grows(log: pd.DataFrame) -> None:
    """The estimate assumes se ∝ 1/√battles; repeating the log k times does exactly that to
    the battle-level sandwich, so the quoted number of battles is exactly what settles it."""
    board = wa.rank(log, ci="sandwich")
    r = check_better(board, "new", "old")
    c = r.comparisons[0]
    assert not r.passed and c.difference > 0 and r.more_battles is not None
    z = norm.ppf(0.95)
    factor = (z * c.se / c.difference) ** 2
    assert r.more_battles == math.ceil(len(log) * (factor - 1))
    big = pd.concat([log] * math.ceil(factor), ignore_index=True)
    assert check_better(wa.rank(big, ci="sandwich"), "new", "old").passed
    if math.floor(factor) >= 1:
        small = pd.concat([log] * math.floor(factor), ignore_index=True)
        assert not check_better(wa.rank(small, ci="sandwich"), "new", "old").passed


def test_not_worse_is_one_sided_with_a_margin(board: wa.Leaderboard) -> None:
    c = board.compare("old", "top")  # old is about 110 points below top
    upper = c.difference + norm.ppf(0.95) * c.se  # one-sided, not the two-sided 1.96
    fails = check_not_worse(board, "old", "top", margin=-upper - 0.5)
    passes = check_not_worse(board, "old", "top", margin=-upper + 0.5)
    assert not fails.passed and fails.decided and passes.passed
    # P(d < −margin) under the normal approximation of the sandwich
    assert fails.probability == pytest.approx(norm.cdf((upper + 0.5 - c.difference) / c.se))
    assert passes.probability < 0.95 <= fails.probability
    with pytest.raises(AssertionError) as err:
        assert_not_worse(board, "old", "top", margin=10, level=0.95)
    msg = str(err.value)
    assert "worse than 'top' by more than 10 Elo points, with 95% confidence" in msg
    assert f"old {board.table.at['old', 'rating']:.1f}, top" in msg
    assert "P(old worse than top by more than 10) = 1.000" in msg
    assert "settled by the data" in msg
    # no evidence of a regression: passes, and says what it could have detected
    assert_not_worse(board, "new", "old", margin=10)
    ok = check_not_worse(board, "new", "old", margin=10)
    cc = ok.comparisons[0]
    assert ok.detectable == pytest.approx(10 + (norm.ppf(0.95) + norm.ppf(0.8)) * cc.se)
    assert "detects a regression of" in ok.message


def test_not_worse_with_bootstrap(boot: wa.Leaderboard) -> None:
    assert check_not_worse(boot, "new", "old", margin=10).passed
    r = check_not_worse(boot, "low", "new", margin=10)
    assert not r.passed and r.probability == pytest.approx(
        1 - boot.compare("low", "new").prob_above(-10.0))


def test_rank_at_most(board: wa.Leaderboard) -> None:
    assert_rank_at_most(board, "top", 1)
    assert_rank_at_most(board, "new", 2)
    with pytest.raises(AssertionError) as err:
        assert_rank_at_most(board, "low", 3)
    msg = str(err.value)
    assert "'low' has rank 4 > 3" in msg and "3 model(s) lie entirely above it" in msg
    assert "top: rating" in msg and "P = 1.000" in msg
    r = check_rank_at_most(board, "low", 3)
    assert {c.a for c in r.comparisons} == {"top", "new", "old"}


def test_order(board: wa.Leaderboard) -> None:
    assert_order(board, ["top", "old", "low"])
    assert check_order(board, ["top", "new", "low"]).passed
    with pytest.raises(AssertionError) as err:
        assert_order(board, ["top", "new", "old", "low"])
    msg = str(err.value)
    assert "not confirmed at 95% (2 of 3 consecutive pairs)" in msg
    assert "FAIL new > old" in msg and "ok   top > new" in msg
    assert "'new' is not rated above 'old'" in msg
    r = check_order(board, ["low", "top"])
    assert not r.passed and r.more_battles is None  # the wrong way round: battles won't help


def test_undetermined_comparisons_fail_with_the_reason() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", wa.RidgeWarning)
        dis = fixture_log("disconnected").rank(rounds=200, rng=0)
        und = fixture_log("undefeated").rank(ci="sandwich")
    r = check_better(dis, "a", "island-1")
    assert not r.passed and not r.decided
    with pytest.raises(AssertionError, match=r"cannot be decided.*island-1: disconnected"):
        assert_not_worse(dis, "a", "island-1", margin=10)
    with pytest.raises(AssertionError, match="try ci='bootstrap'"):
        assert_better(und, "champ", "p")
    with pytest.raises(AssertionError, match="'champ' has no rank \\(undefeated\\)"):
        assert_rank_at_most(und, "champ", 1)


def test_bad_arguments_raise_validation_errors(board: wa.Leaderboard) -> None:
    with pytest.raises(wa.ValidationError, match="positive integer rank"):
        assert_rank_at_most(board, "top", 0)
    with pytest.raises(wa.ValidationError, match="margin must be ≥ 0"):
        assert_not_worse(board, "new", "old", margin=-1)
    with pytest.raises(wa.ValidationError, match="at least two"):
        assert_order(board, ["top"])
    with pytest.raises(wa.ValidationError, match="repeat"):
        assert_order(board, ["top", "new", "top"])
    with pytest.raises(wa.ValidationError, match="level"):
        assert_better(board, "top", "new", level=1.0)
    with pytest.raises(wa.ValidationError, match="not on the leaderboard"):
        assert_better(board, "top", "nwe")
    with pytest.raises(wa.ValidationError, match="by must be finite"):
        assert_better(board, "top", "new", by=np.inf)
