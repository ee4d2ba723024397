"""Style control: features, the contextual Bradley-Terry fit, its batched bootstrap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize
from scipy.stats import spearmanr

from wizardarena.api import rank
from wizardarena.battles import read_battles
from wizardarena.exceptions import DataWarning, RidgeWarning, ValidationError
from wizardarena.leaderboard import Leaderboard
from wizardarena.ratings.design import Ties, build_design
from wizardarena.ratings.features import _feature_matrix
from wizardarena.ratings.solver import solve
from wizardarena.ratings.style_features import (
    STYLE_FEATURES,
    answer_style,
    normalized_difference,
    style_features,
)
from wizardarena.sim import simulate_style_battles

# skill rises with the index while verbosity and markdown fall: a length-loving judge
# then ranks the models almost backwards
BIASED_MODELS = {
    f"m{i}": {"skill": 1000.0 + 25.0 * i, "verbosity": 1.2 - 0.25 * i, "markdown": (7 - i) / 7}
    for i in range(8)
}
TRUTH = pd.Series({k: v["skill"] for k, v in BIASED_MODELS.items()})


def _spearman(board_table: pd.DataFrame) -> float:
    return float(spearmanr(TRUTH[board_table.index], board_table["rating"]).statistic)


def fit_style(battles: object, *, features: object = True, **options: object) -> Leaderboard:
    """A style-controlled board (``wa.rank(..., style=...)``) that has coefficients."""
    board = rank(battles, style=features, **options)  # type: ignore[arg-type]
    assert isinstance(board, Leaderboard) and board.style is not None
    return board


def _design(a: np.ndarray, b: np.ndarray, score: np.ndarray, x: np.ndarray, m: int):  # type: ignore[no-untyped-def]
    """Design and categories of raw battles with a score of model_a (1, 0 or 0.5)."""
    outcome = np.where(score == 1.0, 0, np.where(score == 0.0, 1, 2)).astype(np.int8)
    return build_design(m, a, b, outcome, ties=Ties.HALF, x=x,
                        feature_names=tuple(f"f{k}" for k in range(x.shape[1])))


# --------------------------------------------------------------------------- features


def test_answer_style_counts_markdown_outside_code() -> None:
    text = (
        "# Title\n## Sub\nplain #not a header\n- a\n* b\n+ c\n1. d\n2) e\n"
        "**bold** and __also__ but **not\nbold**\n```\n# code header\n- code item\n**x**\n```"
    )
    got = answer_style([text]).iloc[0]
    assert got["headers"] == 2
    assert got["lists"] == 5
    assert got["bold"] == 2
    assert got["tokens"] > 20


def test_answer_style_turns_are_summed_and_tokenizer_is_used() -> None:
    one = answer_style(["- a **b**", "## h"])
    both = answer_style([["- a **b**", "## h"]])
    assert both.iloc[0].tolist() == (one.iloc[0] + one.iloc[1]).tolist()
    by_chars = answer_style(["abc de"], tokenizer=len)
    assert by_chars.loc[0, "tokens"] == 6
    with pytest.raises(ValidationError, match="tokenizer must return"):
        answer_style(["x"], tokenizer=lambda t: -1)
    with pytest.raises(ValidationError, match="answer 1"):
        answer_style(["ok", 3])  # type: ignore[list-item]


def test_normalized_difference_is_antisymmetric_and_bounded() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 1000, 50), rng.integers(0, 1000, 50)
    d = normalized_difference(a, b)
    np.testing.assert_allclose(d, -normalized_difference(b, a))
    assert np.all(np.abs(d) < 1)
    np.testing.assert_allclose(normalized_difference([3], [1]), np.array([2 / 5]))
    with pytest.raises(ValidationError, match="non-negative"):
        normalized_difference([-1], [2])
    ca = pd.DataFrame({"tokens": [3, 0]})
    cb = pd.DataFrame({"tokens": [1, 0]})
    assert style_features(ca, cb)["tokens"].tolist() == [0.4, 0.0]


def test_simulated_texts_reproduce_the_count_columns() -> None:
    log = simulate_style_battles(BIASED_MODELS, 60, texts=True, rng=3)
    for side in ("a", "b"):
        counts = answer_style(log[f"answer_{side}"])
        for feat in STYLE_FEATURES:
            assert counts[feat].tolist() == log[f"{feat}_{side}"].tolist()


# --------------------------------------------------------------------------- the solver


def _reference_fit(a: np.ndarray, b: np.ndarray, score: np.ndarray, x: np.ndarray, m: int,
                   ridge: float, l2: float) -> np.ndarray:
    """Row-level penalised MLE by BFGS: an independent implementation of the model."""

    def nll(theta: np.ndarray) -> tuple[float, np.ndarray]:
        r, beta = theta[:m], theta[m:]
        z = r[a] - r[b] + x @ beta
        p = 1 / (1 + np.exp(-z))
        val = np.sum(np.logaddexp(0, z) - score * z) + ridge / 2 * r @ r + l2 / 2 * beta @ beta
        g_z = p - score
        grad = np.concatenate([
            np.bincount(a, g_z, m) - np.bincount(b, g_z, m) + ridge * r,
            x.T @ g_z + l2 * beta,
        ])
        return val, grad

    res = minimize(nll, np.zeros(m + x.shape[1]), jac=True, method="BFGS",
                   options={"gtol": 1e-10, "maxiter": 10_000})
    return res.x


def test_point_fit_matches_row_level_reference() -> None:
    rng = np.random.default_rng(1)
    n, m = 600, 5
    a = rng.integers(0, m, n)
    b = (a + rng.integers(1, m, n)) % m
    x = rng.standard_normal((n, 2))
    true = np.r_[rng.standard_normal(m), 0.8, -0.4]
    z = true[a] - true[b] + x @ true[m:]
    u = rng.random(n)
    score = np.where(u < 0.1, 0.5, (u < 1 / (1 + np.exp(-z))).astype(float))
    design, cats = _design(a, b, score, x, m)
    sol = solve(design, cats.full_stats(), ridge=1e-3, l2=0.5, tol=1e-12)
    ref = _reference_fit(a, b, score, x, m, 1e-3, 0.5)
    assert sol.converged[0]
    np.testing.assert_allclose(sol.theta[0], ref, atol=1e-5)


def test_batched_solver_matches_a_loop_over_replicates() -> None:
    # the tolerance asked here (1e-12) is below what round-off allows on some CPUs: the
    # round-off stall test must end every replicate as converged, on AMD and Intel alike
    log = simulate_style_battles(BIASED_MODELS, 3000, style_bias={"tokens": 1.0}, rng=2)
    fit = fit_style(log, ci="none")
    assert fit.info.converged
    x = normalized_difference(
        log[[f"{f}_a" for f in STYLE_FEATURES]].to_numpy(),
        log[[f"{f}_b" for f in STYLE_FEATURES]].to_numpy(),
    )
    codes = {k: i for i, k in enumerate(sorted(BIASED_MODELS))}
    a = log["model_a"].map(codes).to_numpy()
    b = log["model_b"].map(codes).to_numpy()
    score = (log["winner"] == "model_a").to_numpy(dtype=float)
    design, cats = _design(a, b, score, x, len(codes))
    rng = np.random.default_rng(5)
    counts = rng.multinomial(len(log), cats.count / cats.count.sum(), size=4).astype(float)
    for tol in (1e-12, 0.0):
        batch = solve(design, cats.stats(counts), tol=tol, max_iter=60)
        assert batch.converged.all()
        assert batch.n_iter.max() < 20
        for k in range(counts.shape[0]):
            single = solve(design, cats.stats(counts[k:k + 1]), tol=tol, max_iter=60)
            np.testing.assert_allclose(batch.theta[k], single.theta[0], atol=1e-9)


def test_design_merges_identical_and_mirrored_battles() -> None:
    a = np.array([0, 1, 0, 2])
    b = np.array([1, 0, 1, 1])
    score = np.array([1.0, 0.0, 1.0, 0.5])
    x = np.array([[0.5], [-0.5], [0.5], [0.1]])
    design, cats = _design(a, b, score, x, 3)
    # battles 0, 1 (mirror image) and 2 are one category: lo=0 beats hi=1 with x=0.5
    assert design.n_rows == 2 and len(cats) == 2
    assert cats.count.tolist() == [3, 1]
    assert design.x[:, 0].tolist() == [0.5, -0.1]
    assert cats.win.tolist() == [1.0, 0.5] and cats.loss.tolist() == [0.0, 0.5]


# --------------------------------------------------------------------------- the bars


def test_style_control_recovers_skills_under_a_length_loving_judge() -> None:
    log = simulate_style_battles(
        BIASED_MODELS, 30_000, style_bias={"tokens": 2.0, "bold": 0.5}, rng=11
    )
    fit = fit_style(log, rounds=100, rng=0)
    plain = rank(log, rounds=20, rng=0)
    assert isinstance(plain, Leaderboard)
    rho_style, rho_plain = _spearman(fit.table), _spearman(plain.table)
    assert rho_style >= 0.95
    assert rho_plain <= 0.5
    tok = fit.style.loc["tokens"]
    assert tok["lower"] > 0
    # truth on the standardised scale: bias per unit of raw difference times its spread
    true_tok = 2.0 * tok["spread"]
    # one log, one interval: check the estimate within 4 bootstrap standard errors of the
    # truth (coverage itself is measured over many logs in the calibration tests)
    assert abs(tok["coef"] - true_tok) <= 4 * tok["se"]
    assert (fit.style.loc[["bold"], "lower"] > 0).all()


def test_without_style_effect_coefficient_intervals_contain_zero() -> None:
    # 95% intervals: over 10 independent logs × 4 features about 38 of 40 contain 0
    hits = []
    for seed in range(10):
        log = simulate_style_battles(BIASED_MODELS, 3000, rng=100 + seed)
        c = fit_style(log, rounds=100, rng=seed).style
        hits.extend(((c["lower"] < 0) & (c["upper"] > 0)).tolist())
    assert sum(hits) >= 35, sum(hits)
    # and the style-controlled board agrees with the plain one
    log = simulate_style_battles(BIASED_MODELS, 20_000, rng=21)
    fit = fit_style(log, ci="none")
    plain = rank(log, ci="none")
    assert isinstance(plain, Leaderboard)
    diff = fit.ratings - plain.ratings[fit.ratings.index]
    assert diff.abs().max() < 10.0


# --------------------------------------------------------------------------- behaviour


def test_result_shape_and_interval_order() -> None:
    log = simulate_style_battles(BIASED_MODELS, 4000, style_bias={"tokens": 1.0}, prompts=300,
                                 rng=4)
    for unit in ("battle", "prompt"):
        fit = fit_style(log, rounds=60, unit=unit, rng=0)
        t = fit.table
        assert list(t.index) == fit.models
        assert (t["lower"] <= t["upper"]).all()
        assert fit.info.method == "bradley-terry+style"
        assert fit.info.unit == unit and fit.info.rounds == 60
        assert fit.info.bootstrap_converged == 1.0
        assert fit.style_replicates is not None
        assert fit.style_replicates.shape == (60, 4)
        assert fit.replicates is not None
        assert np.isclose(t["rating"].mean(), 1000.0)
        assert "Style coefficients" in fit.to_markdown()


def test_seeded() -> None:
    log = simulate_style_battles(BIASED_MODELS, 2000, style_bias={"lists": 1.0}, rng=6)
    one = fit_style(log, rounds=30, rng=7)
    other = fit_style(log, rounds=30, rng=7)
    pd.testing.assert_frame_equal(one.table, other.table)
    pd.testing.assert_frame_equal(one.style, other.style)
    assert one.info.seed == 7
    again = fit_style(log, rounds=30, rng=8)
    assert not np.allclose(again.style["lower"], one.style["lower"])


def test_swapping_sides_with_the_winner_changes_nothing() -> None:
    log = simulate_style_battles(BIASED_MODELS, 3000, style_bias={"tokens": 1.0}, rng=9)
    swapped = log.copy()
    swapped["model_a"], swapped["model_b"] = log["model_b"], log["model_a"]
    swapped["winner"] = log["winner"].map({"model_a": "model_b", "model_b": "model_a"})
    for f in STYLE_FEATURES:
        swapped[f"{f}_a"], swapped[f"{f}_b"] = log[f"{f}_b"], log[f"{f}_a"]
    one = fit_style(log, ci="none")
    two = fit_style(swapped, ci="none")
    pd.testing.assert_series_equal(one.ratings.sort_index(), two.ratings.sort_index(),
                                   atol=1e-6)
    np.testing.assert_allclose(one.style["coef"], two.style["coef"], atol=1e-8)


@settings(max_examples=15, deadline=None)
@given(shift=st.floats(-300, 300), seed=st.integers(0, 10_000))
def test_anchor_pins_a_model_and_shifts_the_rest(shift: float, seed: int) -> None:
    log = simulate_style_battles(BIASED_MODELS, 800, style_bias={"tokens": 1.0}, rng=seed)
    free = fit_style(log, ci="none")
    pinned = fit_style(log, ci="none", anchor={"m3": 1000.0 + shift})
    assert pinned.ratings["m3"] == pytest.approx(1000.0 + shift)
    gap = (pinned.ratings - free.ratings[pinned.ratings.index])
    np.testing.assert_allclose(gap, gap.iloc[0], atol=1e-6)


def test_text_answers_and_count_columns_give_the_same_fit() -> None:
    log = simulate_style_battles(BIASED_MODELS, 400, style_bias={"tokens": 1.0}, texts=True,
                                 rng=12)
    by_counts = fit_style(log.drop(columns=["answer_a", "answer_b"]), ci="none")
    by_text = fit_style(log.drop(columns=[f"{f}_{s}" for f in STYLE_FEATURES
                                          for s in "ab"]), ci="none")
    pd.testing.assert_frame_equal(by_counts.style, by_text.style)
    # the same answers through answers= (one question per battle)
    bare = log[["model_a", "model_b", "winner"]].copy()
    bare["question_id"] = [f"q{i}" for i in range(len(log))]
    answers = pd.concat([
        pd.DataFrame({"question_id": bare["question_id"], "model": log["model_a"],
                      "answer": log["answer_a"]}),
        pd.DataFrame({"question_id": bare["question_id"], "model": log["model_b"],
                      "answer": log["answer_b"]}),
    ])
    by_answers = fit_style(bare, answers=answers, ci="none")
    pd.testing.assert_frame_equal(by_counts.style, by_answers.style)
    mapping = {(q, m): t for q, m, t in answers.itertuples(index=False)}
    by_map = fit_style(bare, answers=mapping, ci="none")
    pd.testing.assert_frame_equal(by_counts.style, by_map.style)


def test_user_feature_columns() -> None:
    rng = np.random.default_rng(13)
    n = 8000
    a = rng.integers(0, 4, n)
    b = (a + rng.integers(1, 4, n)) % 4
    flag = rng.choice([-1.0, 0.0, 1.0], n)  # e.g. which answer cites sources
    skill = np.array([0.0, 0.3, 0.6, 0.9])
    win = rng.random(n) < 1 / (1 + np.exp(-(skill[a] - skill[b] + 0.7 * flag)))
    names = np.array(["w", "x", "y", "z"], dtype=object)
    log = pd.DataFrame({"model_a": names[a], "model_b": names[b],
                        "winner": np.where(win, "model_a", "model_b"), "cites": flag})
    fit = fit_style(log, features=["cites"], standardize="none", rounds=100, rng=0)
    c = fit.style.loc["cites"]
    assert c["lower"] <= 0.7 <= c["upper"]
    codes = {k: i for i, k in enumerate(names)}
    design, cats = build_design(4, a, b, np.where(win, 0, 1).astype(np.int8), ties=Ties.HALF,
                                x=flag[:, None], feature_names=("cites",))
    assert design.n_rows <= 6 * 3 and len(cats) <= 6 * 3 * 2  # discrete features collapse
    del codes
    z = fit_style(log, features=["cites"], standardize="zscore", ci="none")
    assert z.style.loc["cites", "spread"] == pytest.approx(flag.std())


def test_ties_half_and_drop() -> None:
    log = simulate_style_battles(BIASED_MODELS, 2000, rng=14)
    log.loc[::5, "winner"] = "tie"
    half = fit_style(log, ci="none")
    drop = fit_style(log, ci="none", ties="drop")
    assert half.info.ties == "half" and drop.info.ties == "drop"
    assert not np.allclose(half.ratings.sort_index(), drop.ratings.sort_index())


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"features": ["nope"]}, "neither columns"),
        ({"features": ["winner_len"]}, "neither columns"),
        ({"features": "length"}, "features must be"),
        ({"features": []}, "at least one"),
        ({"features": ["tokens", "tokens"]}, "more than once"),
        ({"features": ["label"]}, "must be numeric"),
        ({"ties": "third"}, "ties must be"),
        ({"ci": "jackknife"}, "ci must be"),
        ({"standardize": "minmax"}, "standardize must be"),
        ({"l2": -1.0}, "l2 must be"),
        ({"ridge": 0.0}, "ridge must be"),
        ({"rounds": 1}, "rounds must be"),
        ({"level": 1.0}, "level must be"),
        ({"anchor": {"zz": 1.0}}, "names a model that is not in the battle log"),
    ],
)
def test_validation(kwargs: dict[str, object], match: str) -> None:
    log = simulate_style_battles(BIASED_MODELS, 200, rng=0)
    log["label"] = "x"
    log["const"] = 0.0
    with pytest.raises(ValidationError, match=match):
        fit_style(log, **kwargs)  # type: ignore[arg-type]


def test_missing_sources_and_answers_are_reported() -> None:
    log = simulate_style_battles(BIASED_MODELS, 50, rng=0)[["model_a", "model_b", "winner"]]
    with pytest.raises(ValidationError, match="style features need the answers"):
        fit_style(log, ci="none")
    log["question_id"] = "q1"
    answers = pd.DataFrame({"question_id": ["q1"], "model": ["m0"], "answer": ["hi"]})
    with pytest.raises(ValidationError, match="no answer for the model_"):
        fit_style(log, answers=answers, ci="none")
    dup = pd.concat([answers, answers])
    with pytest.raises(ValidationError, match="more than one answer"):
        fit_style(log, answers=dup, ci="none")
    with pytest.raises(ValidationError, match="missing column"):
        fit_style(log, answers=answers.drop(columns="answer"), ci="none")
    nan_log = simulate_style_battles(BIASED_MODELS, 50, rng=0)
    nan_log["cites"] = np.nan
    with pytest.raises(ValidationError, match="must be finite"):
        fit_style(nan_log, features=["cites"], ci="none")


# --------------------------------------------------------------------------- sandwich


def test_style_sandwich_matches_an_explicit_per_battle_loop() -> None:
    log = simulate_style_battles(BIASED_MODELS, 1500, style_bias={"tokens": 1.0}, prompts=80,
                                 rng=8)
    for unit in ("battle", "prompt"):
        fit = fit_style(log, ci="sandwich", unit=unit, l2=0.0)
        assert fit.style is not None
        battles = read_battles(log)
        models = list(battles.models)
        m = len(models)
        names = list(fit.style.index)
        theta = np.r_[((fit.table["rating"] - 1000) * np.log(10) / 400).reindex(models),
                      fit.style.loc[names, "coef"]]
        spread = fit.style.loc[names, "spread"].to_numpy()
        center = fit.style.loc[names, "center"].to_numpy()
        raw, _ = _feature_matrix(battles, True, None, None)
        x = (raw - center) / spread
        score = np.where(battles.outcome == 0, 1.0, np.where(battles.outcome == 1, 0.0, 0.5))
        k = m + len(names)
        hess = np.zeros((k, k))
        sums: dict[object, np.ndarray] = {}
        qids = battles.column("question_id").to_numpy()
        for r in range(battles.n_battles):
            xt = np.zeros(k)
            xt[battles.a[r]], xt[battles.b[r]] = 1.0, -1.0
            xt[m:] = x[r]
            p = 1 / (1 + np.exp(-(xt @ theta)))
            hess += p * (1 - p) * np.outer(xt, xt)
            key = qids[r] if unit == "prompt" else r
            sums[key] = sums.get(key, np.zeros(k)) + (score[r] - p) * xt
        meat = sum(np.outer(s, s) for s in sums.values())
        hinv = np.linalg.pinv(hess, rcond=1e-10)
        cov = hinv @ meat @ hinv
        se_coef = np.sqrt(np.diag(cov)[m:])
        ours = (fit.style["upper"] - fit.style["coef"]) / 1.959963984540054
        np.testing.assert_allclose(ours.to_numpy(), se_coef, rtol=1e-5)
        se_r = 400 / np.log(10) * np.sqrt(np.diag(cov)[:m])
        ours_r = (fit.table["upper"] - fit.table["rating"]).reindex(models) / 1.959963984540054
        np.testing.assert_allclose(ours_r.to_numpy(), se_r, rtol=1e-5)


def test_style_sandwich_bars_and_agreement_with_bootstrap() -> None:
    hits = []
    for seed in range(10):
        log = simulate_style_battles(BIASED_MODELS, 3000, rng=100 + seed)
        c = fit_style(log, ci="sandwich").style
        hits.extend(((c["lower"] < 0) & (c["upper"] > 0)).tolist())
    assert sum(hits) >= 35, sum(hits)
    log = simulate_style_battles(BIASED_MODELS, 20_000, style_bias={"tokens": 2.0}, rng=11)
    sw = fit_style(log, ci="sandwich")
    bs = fit_style(log, rounds=200, rng=0)
    assert sw.style.loc["tokens", "lower"] > 0
    width_sw = sw.style["upper"] - sw.style["lower"]
    width_bs = bs.style["upper"] - bs.style["lower"]
    assert ((width_sw / width_bs).between(0.8, 1.25)).all()
    rw = (sw.table["upper"] - sw.table["lower"]) / (bs.table["upper"] - bs.table["lower"])
    assert rw.between(0.8, 1.25).all()


def test_rank_with_style_returns_a_board_with_coefficients() -> None:
    log = simulate_style_battles(BIASED_MODELS, 5000, style_bias={"tokens": 2.0}, rng=3)
    board = rank(log, style=True, ci="sandwich")
    assert isinstance(board, Leaderboard) and board.style is not None
    assert board.info.method == "bradley-terry+style"
    assert list(board.style.index) == list(STYLE_FEATURES)
    assert board.style.loc["tokens", "lower"] > 0
    assert "Style coefficients" in board.to_markdown()
    with pytest.raises(ValidationError, match="method='bt'"):
        rank(log, style=True, method="elo")


# --------------------------------------------------------------------------- honest results


def test_constant_feature_is_dropped_with_a_warning_naming_it() -> None:
    # plain-text answers: no headers, lists or bold anywhere
    log = simulate_style_battles({k: {**v, "markdown": 0.0} for k, v in BIASED_MODELS.items()},
                                 3000, style_bias={"tokens": 1.0}, rng=5)
    with pytest.warns(DataWarning, match=r"\['headers', 'lists', 'bold'\].*left out"):
        board = fit_style(log, ci="none")
    assert list(board.style.index) == ["tokens"]
    assert board.info.features == ("tokens",)
    # a user column that is constant (all zero): left out too, and the fit is then plain
    log["const"] = 0.0
    with pytest.warns(DataWarning, match="const"):
        plain = rank(log, style=["const"], standardize="none", ci="none")
    assert plain.style is None and plain.info.method == "bradley-terry"


def test_feature_collinear_with_model_identity_warns() -> None:
    log = simulate_style_battles(BIASED_MODELS, 2000, rng=6)
    size = {m: float(i) for i, m in enumerate(sorted(BIASED_MODELS))}  # a per-model constant
    log["size_diff"] = log["model_a"].map(size) - log["model_b"].map(size)
    with pytest.warns(DataWarning, match=r"\['size_diff'\].*determined by which models play"):
        rank(log, style=["size_diff", "tokens"], ci="none")


def test_style_runs_the_ridge_diagnosis() -> None:
    log = simulate_style_battles(BIASED_MODELS, 3000, style_bias={"tokens": 1.0}, rng=7)
    champ = log.iloc[:40].copy()
    champ["model_a"] = "champ"
    champ["model_b"] = [f"m{i % 8}" for i in range(40)]
    champ["winner"] = "model_a"
    full = pd.concat([log, champ], ignore_index=True)
    with pytest.warns(RidgeWarning, match=r"champ \(undefeated\)"):
        board = fit_style(full, ci="none")
    assert board.info.ridge_models == {"champ": "undefeated"}
    assert board.table.loc["champ", "note"] == "undefeated"
    assert pd.isna(board.table.loc["champ", "rank"])
    # the others are centred without the ridge-held model: close to the fit without it
    alone = fit_style(log, ci="none")
    diff = board.ratings.drop("champ") - alone.ratings[board.ratings.drop("champ").index]
    assert diff.abs().max() < 5.0


def test_style_with_davidson_ties() -> None:
    log = simulate_style_battles(BIASED_MODELS, 4000, style_bias={"tokens": 1.5}, rng=8)
    log.loc[::4, "winner"] = "tie"
    board = fit_style(log, ties="davidson", ci="sandwich")
    assert board.info.ties == "davidson" and board.info.tie_param is not None
    assert board.style.loc["tokens", "lower"] > 0
