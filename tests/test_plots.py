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


# ----------------------------------------------------------------------------- labels
def _label_boxes(ax: object) -> tuple[list[str], list[object], str]:
    fig = ax.figure  # type: ignore[attr-defined]
    fig.draw_without_rendering()
    renderer = fig._get_renderer()
    labels = [t for t in ax.texts if t.get_gid() == "point-label"]  # type: ignore[attr-defined]
    notes = [t.get_text() for t in ax.texts  # type: ignore[attr-defined]
             if t.get_gid() == "unlabelled-points"]
    from matplotlib.text import Text

    # the text's own box (an Annotation's extent also covers its leader line)
    return ([t.get_text() for t in labels], [Text.get_window_extent(t, renderer) for t in labels],
            " ".join(notes))


def _assert_labels_read(ax: object, models: list[str], dpi: int = 80) -> list[str]:
    """No two labels overlap (in the saved figure), every label is inside the axes, and
    every model is labelled or named in the note. Returns the unlabelled models."""
    import io

    fig = ax.figure  # type: ignore[attr-defined]
    fig.savefig(io.BytesIO(), format="png", dpi=dpi)  # the layout as saved
    names, boxes, note = _label_boxes(ax)
    frame = ax.get_window_extent()  # type: ignore[attr-defined]
    for i, a in enumerate(boxes):
        assert frame.x0 - 1 <= a.x0 and a.x1 <= frame.x1 + 1, names[i]
        assert frame.y0 - 1 <= a.y0 and a.y1 <= frame.y1 + 1, names[i]
        for j in range(i):
            assert not a.overlaps(boxes[j]), (names[i], names[j])
    unlabelled = [m for m in models if m not in names]
    for m in unlabelled:
        assert m in note.replace("\n", " "), m
    assert len(set(names)) == len(names)
    return unlabelled


def _crowded_report(n: int) -> object:
    import pandas as pd

    gen = np.random.default_rng(3)
    truth = {f"model-{k:02d}-chat": float(r) for k, r in enumerate(gen.normal(1000, 60, n))}
    b = wa.rank(wa.simulate_battles(truth, 150 * n, rng=1), rounds=100, rng=2, progress=False)
    ref = wa.load_reference(pd.DataFrame({"model": list(truth), "rating": list(truth.values())}))
    return agreement(b, ref)


def test_agreement_labels_never_collide_and_the_rest_are_listed() -> None:
    rep = _crowded_report(45)
    fig = Figure(figsize=(6.4, 5.2), layout="constrained")
    ax = rep.plot(ax=fig.subplots(), annotate=True)  # type: ignore[attr-defined]
    left = _assert_labels_read(ax, list(rep.models.index))  # type: ignore[attr-defined]
    assert 0 < len(left) < 25  # most fit; the crowded middle is listed under the plot
    # a roomy plot of few models labels every one of them, next to its point
    small = _crowded_report(6)
    fig = Figure(figsize=(6.4, 5.2), layout="constrained")
    ax = small.plot(ax=fig.subplots())  # type: ignore[attr-defined]
    assert _assert_labels_read(ax, list(small.models.index), dpi=150) == []  # type: ignore[attr-defined]


def test_label_points_serves_the_given_order_first() -> None:
    from wizardarena.plots import label_points

    fig = Figure(figsize=(2.0, 2.0), layout="constrained")
    ax = fig.subplots()
    n = 40
    x = np.zeros(n)
    y = np.zeros(n)  # forty points on one spot: only some labels fit around it
    ax.scatter(x, y)
    everyone = [f"n{k}" for k in range(n)]
    left = label_points(ax, everyone, x, y, order=list(range(n))[::-1])
    names, _, note = _label_boxes(ax)
    assert names[0] == f"n{n - 1}" and left and set(left) | set(names) == set(everyone)
    assert set(left).isdisjoint(names) and "not labelled" in note


def test_the_docs_figure_gpt4_vs_lmsys_reads(shared_data: object) -> None:
    """The figure of docs/agreement.md (regenerated by benchmarks/bench_agreement.py)."""
    from pathlib import Path

    data = Path(str(shared_data))
    ref = wa.load_reference(data / "lmsys" / "leaderboard_table_20231002.csv")
    board = wa.rank(data / "llmfao" / "gpt4-comparisons.csv", outcomes="left-right",
                    rounds=200, rng=0, progress=False)
    rep = agreement(board, ref, labels=("GPT-4 judge", "LMSYS 2023-10-02"))
    fig = Figure(figsize=(6.4, 5.2), layout="constrained")
    ax = rep.plot(ax=fig.subplots())
    assert _assert_labels_read(ax, list(rep.models.index)) == []  # all 21 fit


# ----------------------------------------------------------------------------- PNG renders
def _png_is_a_picture(png: bytes, *, min_ink: float = 0.005) -> None:
    """A real PNG with something drawn on it: not one flat colour, and some ink."""
    import io

    from matplotlib.image import imread

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    img = imread(io.BytesIO(png), format="png")[..., :3]
    assert img.shape[0] > 100 and img.shape[1] > 100
    ink = float((img.mean(axis=2) < 0.9).mean())  # share of non-white pixels
    assert ink > min_ink, ink
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 8  # more than a few flat colours


def _render(draw: object) -> bytes:
    import io

    fig = Figure(figsize=(6.0, 5.0), layout="constrained")
    draw(ax=fig.subplots())  # type: ignore[operator]
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return buf.getvalue()


def test_every_plot_renders_to_a_png_that_is_not_empty(board: wa.Leaderboard) -> None:
    ref = wa.rank(wa.simulate_battles(TRUE, 3000, rng=8), rounds=100, rng=9)
    assert isinstance(ref, wa.Leaderboard)
    rep = agreement(board, ref)
    plots = {
        "plot_leaderboard": lambda ax: plot_leaderboard(board.table, ax=ax),
        "plot_win_matrix": lambda ax: plot_win_matrix(board.win_matrix(), ax=ax),
        "plot_agreement": lambda ax: plot_agreement(rep.models, rep.pairs, rep.summary, ax=ax),
        "plot_pair_verdicts": lambda ax: plot_pair_verdicts(rep.models, rep.pairs, rep.summary,
                                                            ax=ax),
        "Leaderboard.plot": board.plot,
        "Leaderboard.plot_win_matrix": board.plot_win_matrix,
        "AgreementReport.plot": rep.plot,
        "AgreementReport.plot_pairs": rep.plot_pairs,
    }
    for name, draw in plots.items():
        try:
            _png_is_a_picture(_render(draw))
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None
    # the figures embedded in the HTML report are PNGs with content too
    import base64
    import re

    imgs = re.findall(r'src="data:image/png;base64,([^"]+)"', rep.to_html())
    assert len(imgs) >= 2
    for data in imgs:
        _png_is_a_picture(base64.b64decode(data))
    # and a blank figure fails the check (the check can fail)
    with pytest.raises(AssertionError):
        _png_is_a_picture(_render(lambda ax: ax.set_axis_off()))
