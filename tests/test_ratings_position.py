"""The first-slot (position) effect: one feature of the one engine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

import wizardarena as wa
from wizardarena.ratings.position import position_stats

TRUTH = {f"m{k}": 1000.0 + 30.0 * k for k in range(8)}


def _centred(board: wa.Leaderboard) -> tuple[np.ndarray, np.ndarray]:
    t = np.array([TRUTH[m] for m in board.table.index])
    return board.table["rating"].to_numpy(), t - t.mean() + 1000.0


def _swap(df: pd.DataFrame, rows: np.ndarray) -> pd.DataFrame:
    """The same battles with model_a / model_b (and the verdict) swapped on ``rows``."""
    out = df.copy()
    out.loc[rows, ["model_a", "model_b"]] = out.loc[rows, ["model_b", "model_a"]].to_numpy()
    flip = {"model_a": "model_b", "model_b": "model_a", "tie": "tie",
            "tie (bothbad)": "tie (bothbad)"}
    out.loc[rows, "winner"] = out.loc[rows, "winner"].map(flip)
    return out


@pytest.mark.parametrize("ci", ["bootstrap", "sandwich"])
def test_balanced_single_order_log_recovers_the_bias_and_the_ratings(ci: str) -> None:
    log = wa.simulate_battles(TRUTH, 20_000, tie_rate=0.2, first_slot=100.0, prompts=400,
                              rng=1)
    board = wa.rank(log, position=True, ci=ci, rounds=200, rng=0)
    pos = board.position
    assert pos is not None and board.position_bias is not None
    assert pos["lower"] < 100.0 < pos["upper"] and pos["upper"] - pos["lower"] < 20.0
    assert board.info.method == "bradley-terry+position"
    assert board.info.features == ("position",)
    rating, truth = _centred(board)
    assert np.max(np.abs(rating - truth)) < 10.0
    assert board.position_bias.first_slot_win_rate > 0.6
    assert board.position_bias.effect == pytest.approx(pos["effect"])
    assert "fitted first-slot effect: +" in board.to_markdown()


def test_on_a_log_balanced_by_design_the_ratings_barely_move() -> None:
    log = wa.simulate_battles(TRUTH, 6000, tie_rate=0.2, rng=2)
    log["question_id"] = [f"q{k}" for k in range(len(log))]  # one (prompt, pair) per battle
    both = pd.concat([log, _swap(log, np.arange(len(log)))], ignore_index=True)
    plain = wa.rank(both, ci="none")
    pos = wa.rank(both, position=True, ci="sandwich")
    diff = pos.ratings - plain.ratings[pos.ratings.index]
    assert diff.abs().max() < 0.5
    assert pos.position is not None
    assert pos.position["lower"] < 0.0 < pos.position["upper"]
    assert pos.position_bias is not None
    assert pos.position_bias.position_consistency == 1.0  # swapped copies agree exactly
    assert pos.position_bias.n_both_orders > 0


def test_alphabetical_order_with_a_biased_judge_is_corrected() -> None:
    # every pair shown in name order to a judge with a 100-Elo first-slot bias
    log = wa.simulate_battles(TRUTH, 20_000, rng=3)
    a = np.minimum(log["model_a"], log["model_b"])
    b = np.maximum(log["model_a"], log["model_b"])
    ra = np.array([TRUTH[x] for x in a])
    rb = np.array([TRUTH[x] for x in b])
    wins = np.random.default_rng(4).random(len(a)) < expit((ra - rb + 100.0) * np.log(10) / 400)
    biased = log.assign(model_a=a, model_b=b, winner=np.where(wins, "model_a", "model_b"))
    plain = wa.rank(biased, ci="none")
    fixed = wa.rank(biased, position=True, ci="sandwich")
    assert fixed.position is not None
    assert fixed.position["lower"] < 100.0 < fixed.position["upper"]
    r_plain, truth = _centred(plain)
    r_fixed, truth_f = _centred(fixed)
    assert np.max(np.abs(r_plain - truth)) > 60.0
    assert np.max(np.abs(r_fixed - truth_f)) < 15.0


def test_the_same_model_always_first_is_not_identified() -> None:
    truth = {"base": 1000.0, **{f"m{k}": 1000.0 + 30.0 * k for k in range(1, 6)}}
    weights = np.zeros((6, 6))
    weights[0, 1:] = 1.0
    log = wa.simulate_battles(truth, 3000, pair_weights=weights, first_slot=100.0, rng=2)
    log = _swap(log, np.flatnonzero(log["model_b"] == "base"))  # base always shown first
    with pytest.warns(wa.DataWarning, match="first-slot effect is not identified"):
        board = wa.rank(log, position=True, rounds=50, rng=0)
    assert board.position is not None and board.position.isna().all()
    assert board.position_bias is not None and board.position_bias.identified is False
    assert "not identified" in board.to_markdown()
    assert "Elo [" not in board.position_bias.to_markdown()
    assert board.info.features == () and board.info.method == "bradley-terry"


def test_position_with_style_features_and_prompt_bootstrap() -> None:
    log = wa.simulate_style_battles(
        {f"s{k}": {"skill": 1000.0 + 40 * k, "verbosity": 0.5 - 0.2 * k} for k in range(5)},
        4000, style_bias={"tokens": 1.0}, prompts=200, rng=5)
    board = wa.rank(log, style=["tokens"], position=True, unit="prompt", rounds=60, rng=0)
    assert board.style is not None and list(board.style.index) == ["tokens"]
    assert board.position is not None and np.isfinite(board.position["effect"])
    assert board.info.method == "bradley-terry+style+position"


def test_position_stats_counts_agreement_over_both_orders() -> None:
    df = pd.DataFrame({
        "model_a": ["x", "y", "x", "y", "x", "y"],
        "model_b": ["y", "x", "y", "x", "z", "z"],
        "winner": ["model_a", "model_b", "model_a", "model_a", "tie", "model_a"],
        "question_id": ["q1", "q1", "q2", "q2", "q3", "q3"],
    })
    stats = position_stats(wa.read_battles(df))
    # q1: x first wins, then y first loses -> x both times (consistent); q2: x, then y: not
    assert stats.n_both_orders == 2 and stats.position_consistency == 0.5
    assert stats.n_decisive == 5 and stats.first_slot_win_rate == pytest.approx(4 / 5)


def test_position_needs_bradley_terry() -> None:
    log = wa.simulate_battles(TRUTH, 500, rng=0)
    with pytest.raises(wa.ValidationError, match="position=True"):
        wa.rank(log, method="elo", position=True)
