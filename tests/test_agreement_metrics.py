"""Golden tests for the agreement metrics (hand-worked cases), symmetry, validation, and the
vectorised kernels against scipy / plain loops."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from wizardarena.agreement import (
    agreement_with_ci,
    brier,
    consistency,
    kendall,
    pair_verdicts,
    pearson,
    separability,
    spearman,
    top_k_overlap,
)
from wizardarena.agreement.metrics import (
    kendall_rows,
    pearson_rows,
    spearman_rows,
    top_k_rows,
)
from wizardarena.exceptions import ValidationError


def iv(**models: tuple[float, float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"lower": [v[0] for v in models.values()], "upper": [v[1] for v in models.values()]},
        index=pd.Index(list(models), name="model"),
    )


# ----------------------------------------------------------------------------- correlations
def test_spearman_kendall_hand_worked() -> None:
    x = pd.Series([1.0, 2.0, 3.0, 4.0], index=list("abcd"))
    y = pd.Series([1.0, 3.0, 2.0, 4.0], index=list("abcd"))
    # sum d^2 = 2  ->  rho = 1 - 6 * 2 / (4 * 15) = 0.8
    assert spearman(x, y) == pytest.approx(0.8)
    # 6 pairs, one discordant (b, c) -> tau = (5 - 1) / 6
    assert kendall(x, y) == pytest.approx(4 / 6)


def test_pearson_hand_worked() -> None:
    # dx = (-1, 0, 1), dy = (-4/3, -1/3, 5/3): r = 3 / sqrt(2 * 42 / 9)
    assert pearson([1.0, 2.0, 3.0], [1.0, 2.0, 4.0]) == pytest.approx(3 / math.sqrt(84 / 9))


def test_perfect_and_reversed() -> None:
    x = np.array([5.0, 3.0, 1.0, 0.0])
    assert spearman(x, 10 * x + 7) == pytest.approx(1.0)
    assert kendall(x, -x) == pytest.approx(-1.0)
    assert pearson(x, -2 * x) == pytest.approx(-1.0)


def test_pandas_order_does_not_matter() -> None:
    x = pd.Series([1.0, 2.0, 3.0, 4.0], index=list("abcd"))
    y = pd.Series([4.0, 2.0, 3.0, 1.0], index=list("dcba"))  # same as a..d = 1, 3, 2, 4
    assert spearman(x, y) == pytest.approx(0.8)
    table = pd.DataFrame({"rating": y})
    assert kendall(x, table) == pytest.approx(4 / 6)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 6), min_size=3, max_size=12).flatmap(
        lambda a: st.tuples(st.just(a), st.lists(st.integers(0, 6), min_size=len(a),
                                                 max_size=len(a)))
    )
)
def test_correlations_match_scipy_and_are_symmetric(pair: tuple[list[int], list[int]]) -> None:
    a = np.array(pair[0], dtype=float)
    b = np.array(pair[1], dtype=float)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        with pytest.raises(ValidationError, match="same rating"):
            spearman(a, b)
        return
    assert spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
    assert kendall(a, b) == pytest.approx(stats.kendalltau(a, b).statistic, abs=1e-12)
    assert pearson(a, b) == pytest.approx(stats.pearsonr(a, b).statistic, abs=1e-12)
    assert spearman(a, b) == pytest.approx(spearman(b, a))
    assert kendall(a, b) == pytest.approx(kendall(b, a))
    # invariant to a shift and a positive scale of either side
    assert spearman(3 * a + 100, b) == pytest.approx(spearman(a, b))
    assert kendall(a, 0.5 * b - 7) == pytest.approx(kendall(a, b))


def test_row_kernels_match_a_loop() -> None:
    gen = np.random.default_rng(7)
    y = gen.normal(size=9).round(1)
    x = gen.normal(size=(40, 9)).round(1)  # rounding makes ties
    rho = spearman_rows(x, y)
    tau = kendall_rows(x, y)
    r = pearson_rows(x, y)
    names = np.array(list("abcdefghi"), dtype=object)
    top = top_k_rows(x, y, 3, names)
    for b in range(x.shape[0]):
        assert rho[b] == pytest.approx(stats.spearmanr(x[b], y).statistic, abs=1e-12)
        assert tau[b] == pytest.approx(stats.kendalltau(x[b], y).statistic, abs=1e-12)
        assert r[b] == pytest.approx(stats.pearsonr(x[b], y).statistic, abs=1e-12)
        ours = set(sorted(range(9), key=lambda q, row=x[b]: (-row[q], names[q]))[:3])
        ref = set(sorted(range(9), key=lambda q: (-y[q], names[q]))[:3])
        assert top[b] == pytest.approx(len(ours & ref) / 3)


# ----------------------------------------------------------------------------- separability
def test_separability_touching_intervals_overlap() -> None:
    t = iv(a=(10, 20), b=(20, 30), c=(31, 40))
    # a|b touch at 20 -> not separated; a|c and b|c separated -> 2 of 3 pairs
    assert separability(t) == pytest.approx(2 / 3)


def test_separability_extremes_and_order() -> None:
    assert separability(iv(a=(0, 10), b=(5, 15), c=(9, 11))) == 0.0
    assert separability(np.array([[0, 1], [2, 3], [4, 5]], dtype=float)) == 1.0
    t = iv(a=(10, 20), b=(20, 30), c=(31, 40), d=(0, 35))
    assert separability(t.iloc[::-1]) == separability(t)


# ----------------------------------------------------------------------------- agreement
def _agreement_case() -> tuple[pd.DataFrame, pd.DataFrame]:
    # reference: a > b > {d, c} with c/d overlapping
    theirs = iv(a=(90, 100), b=(70, 80), c=(50, 60), d=(55, 65))
    # ours: b confidently above a (-1), a and d overlap (0), the rest agree (+1)
    ours = iv(a=(50, 60), b=(70, 80), c=(0, 10), d=(55, 65))
    return ours, theirs


def test_agreement_plus_minus_zero() -> None:
    ours, theirs = _agreement_case()
    # counted pairs: ab -1, ac +1, ad 0, bc +1, bd +1 (cd not separated by the reference)
    assert agreement_with_ci(ours, theirs) == pytest.approx(2 / 5)
    assert agreement_with_ci(ours, theirs, scale="proportion") == pytest.approx(0.7)


def test_pair_verdicts_table() -> None:
    ours, theirs = _agreement_case()
    pv = pair_verdicts(ours, theirs).set_index(["model_a", "model_b"])
    assert len(pv) == 6
    assert pv.loc[("a", "b"), "verdict"] == -1
    assert pv.loc[("a", "d"), "verdict"] == 0
    assert pv.loc[("b", "c"), "verdict"] == 1
    assert pd.isna(pv.loc[("d", "c"), "verdict"])  # the reference orders d above c
    assert pv.loc[("d", "c"), "ours"] == 1 and pv.loc[("d", "c"), "theirs"] == 0


def test_agreement_invariant_to_model_order_and_touching_reference() -> None:
    ours, theirs = _agreement_case()
    assert agreement_with_ci(ours.iloc[::-1], theirs.sample(frac=1, random_state=3)) == (
        pytest.approx(2 / 5)
    )
    # touching reference intervals do not separate the pair: nothing to count
    assert math.isnan(agreement_with_ci(iv(a=(0, 1), b=(5, 6)), iv(a=(0, 1), b=(1, 2))))


def test_agreement_all_agree_all_contradict() -> None:
    ref = iv(a=(8, 9), b=(4, 5), c=(0, 1))
    assert agreement_with_ci(ref, ref) == 1.0
    flipped = iv(a=(0, 1), b=(4, 5), c=(8, 9))
    assert agreement_with_ci(flipped, ref) == -1.0
    assert agreement_with_ci(flipped, ref, scale="proportion") == 0.0


# ----------------------------------------------------------------------------- brier
def test_brier_certain_forecasts() -> None:
    zero = np.zeros((3, 3))
    # ours orders a > b > c with certainty; reference a > c > b: one wrong pair of three
    assert brier([3.0, 2.0, 1.0], [3.0, 1.0, 2.0], covariance=zero) == pytest.approx(1 / 3)
    assert brier([3.0, 2.0, 1.0], [9.0, 5.0, 1.0], covariance=zero) == 0.0
    assert brier([3.0, 2.0, 1.0], [1.0, 2.0, 3.0], covariance=zero) == 1.0
    # equal ratings with no uncertainty forecast 0.5
    assert brier([1.0, 1.0], [2.0, 1.0], covariance=np.zeros((2, 2))) == pytest.approx(0.25)


def test_brier_gaussian_and_orientation() -> None:
    cov = np.diag([0.5, 0.5])  # sd of the difference = 1
    p = stats.norm.cdf(1.0)
    assert brier([1.0, 0.0], [5.0, 1.0], covariance=cov) == pytest.approx((1 - p) ** 2)
    # the same pair written the other way round scores the same
    assert brier([0.0, 1.0], [1.0, 5.0], covariance=cov) == pytest.approx((1 - p) ** 2)
    # reference ties are left out
    assert math.isnan(brier([1.0, 0.0], [2.0, 2.0], covariance=cov))


def test_brier_covariance_by_name() -> None:
    ours = pd.Series([1.0, 0.0], index=["x", "y"])
    theirs = pd.Series([5.0, 1.0], index=["y", "x"])  # reference: y above x
    cov = pd.DataFrame(np.diag([0.5, 0.5]), index=["y", "x"], columns=["y", "x"])
    p = stats.norm.cdf(1.0)  # ours: P(x above y)
    assert brier(ours, theirs, covariance=cov) == pytest.approx(p**2)


# ----------------------------------------------------------------------------- top-k, consistency
def test_top_k_overlap() -> None:
    ours = pd.Series([5.0, 4.0, 3.0, 2.0, 1.0], index=list("abcde"))
    theirs = pd.Series([5.0, 3.0, 4.0, 1.0, 2.0], index=list("abcde"))
    assert top_k_overlap(ours, theirs, k=2) == 0.5  # {a, b} vs {a, c}
    assert top_k_overlap(ours, theirs, k=3) == 1.0
    assert top_k_overlap(theirs, ours, k=2) == 0.5
    with pytest.raises(ValidationError, match="k must be"):
        top_k_overlap(ours, theirs, k=6)


def test_consistency_reproduces_wizardarena() -> None:
    assert consistency(0.9923, 0.9911, 0.9802) == pytest.approx(0.98787, abs=1e-5)
    assert math.isnan(consistency(0.9, float("nan"), 0.8))


# ----------------------------------------------------------------------------- validation
def test_mismatched_models_rejected() -> None:
    x = pd.Series([1.0, 2.0, 3.0], index=["a", "b", "c"])
    y = pd.Series([1.0, 2.0, 3.0], index=["a", "b", "z"])
    with pytest.raises(ValidationError, match=r"only in ours: \['c'\].*only in theirs: \['z'\]"):
        spearman(x, y)
    with pytest.raises(ValidationError, match="same models"):
        agreement_with_ci(iv(a=(0, 1), b=(2, 3)), iv(a=(0, 1), c=(2, 3)))


def test_bad_inputs_rejected() -> None:
    with pytest.raises(ValidationError, match="same length"):
        kendall([1.0, 2.0, 3.0], [1.0, 2.0])
    with pytest.raises(ValidationError, match="finite"):
        pearson([1.0, np.nan, 3.0], [1.0, 2.0, 3.0])
    with pytest.raises(ValidationError, match="both be indexed"):
        spearman(pd.Series([1.0, 2.0], index=["a", "b"]), [1.0, 2.0])
    with pytest.raises(ValidationError, match="at least 2"):
        spearman([1.0], [2.0])
    with pytest.raises(ValidationError, match="lower must be <= upper"):
        separability(iv(a=(2, 1), b=(3, 4)))
    with pytest.raises(ValidationError, match="'lower' and 'upper'"):
        separability(pd.DataFrame({"rating": [1.0, 2.0]}))
    with pytest.raises(ValidationError, match="duplicated"):
        spearman(pd.Series([1.0, 2.0], index=["a", "a"]), pd.Series([1.0, 2.0], index=["a", "b"]))
    with pytest.raises(ValidationError, match="covariance must have shape"):
        brier([1.0, 2.0], [2.0, 1.0], covariance=np.zeros((3, 3)))
    with pytest.raises(ValidationError, match="scale must be one of"):
        agreement_with_ci(iv(a=(0, 1), b=(2, 3)), iv(a=(0, 1), b=(2, 3)), scale="percent")


# ----------------------------------------------------------------------------- purity
def test_metric_and_matching_modules_are_pure() -> None:
    import ast
    import importlib
    from pathlib import Path

    # `wizardarena.agreement` the attribute is the function wa.agreement; the package is in
    # sys.modules
    pkg = importlib.import_module("wizardarena.agreement")

    forbidden = {"httpx", "socket", "urllib", "requests", "asyncio", "sqlite3", "http",
                 "tenacity", "subprocess", "tempfile", "io", "gzip", "pathlib", "os"}
    root = Path(pkg.__file__).parent
    for name in ("metrics.py", "matching.py"):
        tree = ast.parse((root / name).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            mods: list[str] = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            for mod in mods:
                assert mod.split(".")[0] not in forbidden, f"{name} imports {mod}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "open", f"{name} opens a file"
