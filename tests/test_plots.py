"""Plots: they draw what they say (on the Agg backend), and fail clearly without matplotlib."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import wizardarena as wa
from wizardarena.agreement import agreement
from wizardarena.exceptions import MissingExtraError

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402

from wizardarena.plots import (  # noqa: E402
    figure_png_base64,
    plot_agreement,
    plot_leaderboard,
    plot_pair_verdicts,
    plot_win_matrix,
)

TRUE = {"alpha": 1150.0, "beta": 1100.0, "gamma": 1000.0, "delta": 950.0, "eps": 900.0}


@pytest.fixture(scope="module")
def board() -> wa.Leaderboard:
    b = wa.rank(wa.simulate_battles(TRUE, 3000, rng=5), rounds=100, rng=6)
    assert isinstance(b, wa.Leaderboard)
    return b


def _ax() -> object:
    return Figure().subplots()


def test_plot_leaderboard(board: wa.Leaderboard) -> None:
    ax = plot_leaderboard(board.table, ax=_ax())
    labels = [t.get_text() for t in ax.get_yticklabels()]
    at_y = dict(zip(ax.get_yticks(), labels))
    assert at_y[max(at_y)].endswith("alpha")  # best model at the top (highest y)
    assert len(labels) == 5
    assert "bootstrap" in board.plot(ax=_ax()).get_title()
    top = plot_leaderboard(board.table, ax=_ax(), top=2)
    assert len(top.get_yticklabels()) == 2
    with pytest.raises(wa.ValidationError, match="top"):
        plot_leaderboard(board.table, ax=_ax(), top=0)


def test_plot_leaderboard_without_ranks_and_with_unbounded_intervals() -> None:
    df = wa.simulate_battles(TRUE, 400, rng=1)
    extra = wa.simulate_battles({"alpha": 1150.0, "loser": 600.0}, 8, rng=2)
    import pandas as pd

    extra = extra.assign(winner=["model_a" if a == "alpha" else "model_b"
                                 for a in extra["model_a"]])
    with pytest.warns(wa.RidgeWarning):
        board = wa.rank(pd.concat([df, extra], ignore_index=True), rounds=50, rng=0)
    ax = board.plot(ax=_ax())
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert any(lab.startswith("–. loser") for lab in labels)
    none = wa.rank(df, ci="none")
    ax = none.plot(ax=_ax())
    assert all(t.get_text().startswith("–.") for t in ax.get_yticklabels())


def test_leaderboard_methods_use_plots(board: wa.Leaderboard) -> None:
    ax = board.plot(ax=_ax())
    assert ax.get_xlabel() == "rating"
    ax = board.plot_win_matrix(ax=_ax())
    img = ax.get_images()[0].get_array()
    assert img.shape == (5, 5)
    assert np.allclose(np.diag(img), 0.5)
    assert len(ax.texts) == 25  # annotated when small


def test_plot_agreement_and_pairs(board: wa.Leaderboard) -> None:
    ref = wa.rank(wa.simulate_battles(TRUE, 3000, rng=8), rounds=100, rng=9)
    assert isinstance(ref, wa.Leaderboard)
    rep = agreement(board, ref)
    ax = rep.plot(ax=_ax())
    assert "Spearman" in ax.get_title() and "Kendall" in ax.get_title()
    assert len(ax.texts) == 5  # one label per model
    ax = rep.plot_pairs(ax=_ax())
    grid = ax.get_images()[0].get_array()
    assert grid.shape == (5, 5)
    assert "agreement with CI" in ax.get_title()
    fig = Figure()
    plot_agreement(rep.models, rep.pairs, rep.summary, ax=fig.subplots())
    png = figure_png_base64(fig)
    assert len(png) > 1000


def test_pyplot_figure_when_no_ax(board: wa.Leaderboard) -> None:
    import matplotlib.pyplot as plt

    ax = plot_win_matrix(board.win_matrix())
    try:
        assert ax.figure is not None
        assert matplotlib.get_backend().lower() == "agg"
    finally:
        plt.close(ax.figure)
    rep = agreement(board, board)
    ax = plot_pair_verdicts(rep.models, rep.pairs, rep.summary)
    plt.close(ax.figure)


def test_missing_matplotlib(board: wa.Leaderboard, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtraError, match=r"wizardarena\[plot\]"):
        board.plot()
    # the HTML report still works, without figures
    html = agreement(board, board).to_html()
    assert "need matplotlib" in html and "<img" not in html
