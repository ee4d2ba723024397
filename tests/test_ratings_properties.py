"""Properties of the fitted boards (hypothesis) and the diagnostics around them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import wizardarena as wa

LABELS = ["model_a", "model_b", "tie", "tie (bothbad)"]
SWAP = {"model_a": "model_b", "model_b": "model_a", "tie": "tie", "tie (bothbad)": "tie (bothbad)"}


@st.composite
def battle_logs(draw: st.DrawFn) -> pd.DataFrame:
    m = draw(st.integers(3, 6))
    names = [f"m{k}" for k in range(m)]
    n = draw(st.integers(m * 6, 120))
    rows = []
    for _ in range(n):
        a, b = draw(st.lists(st.sampled_from(names), min_size=2, max_size=2, unique=True))
        rows.append((a, b, draw(st.sampled_from(LABELS))))
    # every model beats and loses to its ring neighbours: a strongly connected log
    for k in range(m):
        rows.append((names[k], names[(k + 1) % m], "model_a"))
        rows.append((names[k], names[(k + 1) % m], "model_b"))
    return pd.DataFrame(rows, columns=["model_a", "model_b", "winner"])


SETTINGS = settings(max_examples=25, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(battle_logs(), st.sampled_from(["bootstrap", "sandwich"]))
def test_swapping_sides_with_the_winner_changes_nothing(df: pd.DataFrame, ci: str) -> None:
    swapped = pd.DataFrame({"model_a": df["model_b"], "model_b": df["model_a"],
                            "winner": df["winner"].map(SWAP)})
    one = wa.rank(df, ci=ci, rounds=50, rng=7)
    two = wa.rank(swapped, ci=ci, rounds=50, rng=7)
    cols = ["rating", "lower", "upper", "rank"]
    pd.testing.assert_frame_equal(one.table[cols].sort_index(), two.table[cols].sort_index(),
                                  atol=1e-6)


@SETTINGS
@given(battle_logs(), st.sampled_from(["battle", "prompt"]), st.sampled_from(["half", "davidson"]))
def test_percentile_interval_guarantees(df: pd.DataFrame, unit: str, ties: str) -> None:
    # a percentile bootstrap guarantees lower <= upper, both within the replicates' range,
    # and (only) the bootstrap median between them; the full-data MLE may fall outside
    df = df.assign(question_id=[f"q{k % 9}" for k in range(len(df))])
    board = wa.rank(df, rounds=60, unit=unit, ties=ties, rng=1, point="median")
    t = board.table
    reps = board.replicates
    assert reps is not None
    assert (t["lower"] <= t["rating"]).all() and (t["rating"] <= t["upper"]).all()
    assert (reps.min().reindex(t.index) <= t["lower"]).all()
    assert (t["upper"] <= reps.max().reindex(t.index)).all()


@SETTINGS
@given(battle_logs(), st.integers(0, 2**32 - 1))
def test_same_seed_is_bit_identical(df: pd.DataFrame, seed: int) -> None:
    one = wa.rank(df, rounds=40, rng=seed)
    two = wa.rank(df, rounds=40, rng=seed)
    pd.testing.assert_frame_equal(one.table, two.table, check_exact=True)
    assert one.replicates is not None and two.replicates is not None
    assert np.array_equal(one.replicates.to_numpy(), two.replicates.to_numpy(), equal_nan=True)


@SETTINGS
@given(battle_logs())
def test_a_model_that_wins_everything_ranks_first(df: pd.DataFrame) -> None:
    champ = pd.DataFrame({"model_a": ["champ"] * 6, "model_b": sorted(set(df["model_a"]))[:3] * 2,
                          "winner": ["model_a"] * 6})
    full = pd.concat([df, champ], ignore_index=True)
    with pytest.warns(wa.RidgeWarning, match="champ \\(undefeated\\)"):
        board = wa.rank(full, rounds=30, rng=0)
    assert board.table.index[0] == "champ"
    # its rating is not identified: marked, and no finite rank
    assert board.table.loc["champ", "note"] == "undefeated"
    assert pd.isna(board.table.loc["champ", "rank"])
    assert board.table["rank"].drop("champ").notna().all()
    assert board.info.ridge_models == {"champ": "undefeated"}


def test_seed_is_recorded_when_not_given() -> None:
    df = wa.simulate_battles({"a": 1000, "b": 1050, "c": 950}, 300, rng=0)
    board = wa.rank(df, rounds=20)
    assert isinstance(board.info.seed, int)
    again = wa.rank(df, rounds=20, rng=board.info.seed)
    pd.testing.assert_frame_equal(board.table, again.table)


def test_ridge_flags_winless_and_disconnected() -> None:
    df = wa.simulate_battles({"a": 1000, "b": 1050, "c": 950}, 300, rng=0)
    extra = pd.DataFrame({"model_a": ["x", "y", "x", "loser", "loser"],
                          "model_b": ["y", "x", "y", "a", "b"],
                          "winner": ["model_a", "model_a", "tie", "model_b", "model_b"]})
    with pytest.warns(wa.RidgeWarning) as rec:
        board = wa.rank(pd.concat([df, extra]), ci="none")
    assert board.info.ridge_models == {"loser": "winless", "x": "disconnected",
                                       "y": "disconnected"}
    assert "held finite only by the ridge" in str(rec[0].message)
    assert np.isfinite(board.table["rating"]).all()


def test_anchor_is_applied_in_every_replicate() -> None:
    df = wa.simulate_battles({"a": 1000, "b": 1050, "c": 950, "d": 1100}, 2000, rng=0)
    board = wa.rank(df, rounds=100, anchor={"c": 1114}, rng=0)
    assert board.table.loc["c", "rating"] == 1114
    assert board.replicates is not None
    assert (board.replicates["c"] == 1114).all()
    free = wa.rank(df, rounds=100, rng=0)
    shift = board.table["rating"] - free.table["rating"]
    assert np.ptp(shift.to_numpy()) < 1e-9
    for bad in ({"zz": 1}, {"c": "high"}, {"c": 1, "d": 2}):
        with pytest.raises(wa.ValidationError, match="anchor"):
            wa.rank(df, anchor=bad, ci="none")  # type: ignore[arg-type]


def test_sandwich_anchored_interval_of_anchor_is_degenerate() -> None:
    df = wa.simulate_battles({"a": 1000, "b": 1050, "c": 950}, 2000, rng=0)
    board = wa.rank(df, ci="sandwich", anchor={"a": 1000})
    row = board.table.loc["a"]
    assert row["lower"] == pytest.approx(1000) and row["upper"] == pytest.approx(1000)


def test_sandwich_matches_explicit_per_battle_loop() -> None:
    df = wa.simulate_battles({"a": 1000, "b": 1080, "c": 950, "d": 1010}, 800, tie_rate=0.3,
                             prompts=30, rng=2)
    for unit in ("battle", "prompt"):
        board = wa.rank(df, ci="sandwich", unit=unit)
        models = sorted(board.models)
        pos = {m: k for k, m in enumerate(models)}
        theta = ((board.table["rating"] - 1000) * np.log(10) / 400).reindex(models).to_numpy()
        m = len(models)
        hess = np.zeros((m, m))
        scores: dict[object, np.ndarray] = {}
        for k, row in enumerate(df.itertuples()):
            i, j = pos[row.model_a], pos[row.model_b]
            y = {"model_a": 1.0, "model_b": 0.0}.get(row.winner, 0.5)
            p = 1 / (1 + np.exp(-(theta[i] - theta[j])))
            e = np.zeros(m)
            e[i], e[j] = 1, -1
            hess += p * (1 - p) * np.outer(e, e)
            key = row.question_id if unit == "prompt" else k
            scores[key] = scores.get(key, np.zeros(m)) + (y - p) * e
        meat = sum(np.outer(s, s) for s in scores.values())
        hinv = np.linalg.pinv(hess, rcond=1e-10)
        cov = hinv @ meat @ hinv * (400 / np.log(10)) ** 2
        se = np.sqrt(np.diag(cov))
        ours = (board.table["upper"] - board.table["rating"]).reindex(models) / 1.959963984540054
        np.testing.assert_allclose(ours.to_numpy(), se, rtol=1e-6)


def test_bootstrap_median_point() -> None:
    df = wa.simulate_battles({"a": 1000, "b": 1050, "c": 950}, 500, rng=0)
    board = wa.rank(df, rounds=200, point="median", rng=0)
    assert board.replicates is not None
    med = board.replicates.median()
    np.testing.assert_allclose(board.table["rating"], med.reindex(board.table.index))
    with pytest.raises(wa.ValidationError, match="point='median' needs"):
        wa.rank(df, ci="none", point="median")


def test_option_errors_name_the_option() -> None:
    df = wa.simulate_battles({"a": 1000, "b": 1050}, 100, rng=0)
    for kwargs, word in [({"ci": "jackknife"}, "ci must be"), ({"unit": "judge"}, "unit must"),
                         ({"level": 1.5}, "level"), ({"rounds": 1}, "rounds"),
                         ({"ties": "third"}, "ties must"), ({"method": "glicko"}, "method"),
                         ({"ridge": 0}, "ridge"), ({"rng": "seed"}, "rng")]:
        with pytest.raises(wa.ValidationError, match=word):
            wa.rank(df, **kwargs)  # type: ignore[arg-type]


def test_online_elo_vectorised_equals_loop() -> None:
    from wizardarena.ratings.elo import online_elo, online_elo_replicates

    df = wa.simulate_battles({"a": 1000, "b": 1080, "c": 950}, 300, tie_rate=0.2, rng=3)
    log = wa.read_battles(df)
    score = np.select([log.outcome == 0, log.outcome == 1], [1.0, 0.0], 0.5)
    reps = online_elo_replicates(log.a, log.b, score, 3, 7, np.random.default_rng(5), chunk=3,
                                 block=128)
    children = np.random.default_rng(5).spawn(3)
    for start, g in zip(range(0, 7, 3), children):
        size = min(3, 7 - start)
        idx = np.concatenate([g.integers(0, 300, size=(size, min(128, 300 - t0)))
                              for t0 in range(0, 300, 128)], axis=1)
        for r in range(size):
            ref = online_elo(log.a[idx[r]], log.b[idx[r]], score[idx[r]], 3)
            np.testing.assert_allclose(reps[start + r], ref, atol=1e-9)


def test_elo_method_board() -> None:
    df = wa.simulate_battles({"a": 1000, "b": 1200, "c": 800}, 3000, rng=3)
    board = wa.rank(df, method="elo", rounds=20, rng=0)
    assert board.info.method == "elo" and board.info.k == 4.0
    assert list(board.table.index) == ["b", "a", "c"]
    assert (board.table["lower"] <= board.table["upper"]).all()


def test_by_category_gives_one_board_per_value() -> None:
    df = wa.simulate_battles({"a": 1000, "b": 1100, "c": 900}, 900, rng=0)
    df["category"] = np.where(np.arange(900) % 3 == 0, "coding", "writing")
    boards = wa.rank(df, by="category", rounds=30, rng=0)
    assert isinstance(boards, dict) and list(boards) == ["coding", "writing"]
    assert boards["coding"].info.n_battles == 300


def test_replicates_lacking_a_model_give_nan_not_a_fake_rating() -> None:
    df = wa.simulate_battles({"a": 1000, "b": 1050, "c": 950}, 600, prompts=60, rng=0)
    rare = pd.DataFrame({"model_a": ["rare", "a", "rare"], "model_b": ["a", "rare", "b"],
                         "winner": ["model_a", "model_a", "tie"],
                         "question_id": ["q0000", "q0000", "q0000"]})
    with pytest.warns(wa.DataWarning, match=r"rare \(\d+ of 300\)"):
        board = wa.rank(pd.concat([df, rare], ignore_index=True), unit="prompt", rounds=300,
                        rng=1)
    assert board.replicates is not None
    missing = board.replicates["rare"].isna()
    assert 0.2 < missing.mean() < 0.5  # prompt q0000 is left out of ~1/e of the replicates
    assert board.replicates.drop(columns="rare").notna().all().all()
    row = board.table.loc["rare"]
    assert np.isfinite(row["lower"]) and np.isfinite(row["upper"])
    # the interval says how many replicates it rests on
    assert row["n_replicates"] == int((~missing).sum())
    assert (board.table["n_replicates"].drop("rare") == 300).all()
    assert "n_replicates" in board.to_markdown()
