"""Plots of leaderboards and agreement reports (optional ``plot`` extra: matplotlib).

A leaf module: every function draws from DataFrames (a leaderboard's ``table``, a win matrix,
an agreement report's ``models`` / ``pairs`` / ``summary``), so it imports nothing of the
package but the exceptions; :meth:`Leaderboard.plot` and :meth:`AgreementReport.plot` pass
their frames in. matplotlib is imported inside the functions, so ``import wizardarena`` never
needs it; a missing matplotlib raises :class:`~wizardarena.exceptions.MissingExtraError`.
Without a display (and without ``MPLBACKEND``) the non-interactive Agg backend is selected.
Every function draws on ``ax`` when given, otherwise on a new pyplot figure, and returns the
Axes.
"""

from __future__ import annotations

import base64
import io
import os
import sys
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.exceptions import ValidationError, missing_extra

__all__ = [
    "figure_png_base64",
    "label_points",
    "plot_agreement",
    "plot_leaderboard",
    "plot_pair_verdicts",
    "plot_win_matrix",
]


def load_matplotlib() -> Any:
    """matplotlib (with the Agg backend where there is no display), or MissingExtraError."""
    try:
        import matplotlib
    except ImportError:
        raise missing_extra("matplotlib", "plot", "plotting") from None
    if (
        "matplotlib.pyplot" not in sys.modules
        and not os.environ.get("MPLBACKEND")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
        and sys.platform.startswith("linux")
    ):
        matplotlib.use("Agg")
    return matplotlib


def _axes(ax: Any, figsize: tuple[float, float]) -> Any:
    load_matplotlib()
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, new = plt.subplots(figsize=figsize, layout="constrained")
    return new


def figure_png_base64(fig: Any, *, dpi: int = 100) -> str:
    """Render a matplotlib Figure to PNG and return it base64-encoded (for HTML reports)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plot_leaderboard(
    table: pd.DataFrame,
    *,
    ax: Any = None,
    top: int | None = None,
    color: str = "C0",
    title: str | None = None,
) -> Any:
    """Ratings with their interval bars, best model at the top.

    Parameters
    ----------
    table : DataFrame
        A leaderboard table (``board.table``): indexed by model, best first, with ``rating``,
        ``lower``, ``upper`` and ``rank`` (``<NA>`` for models without a rank).
    ax : matplotlib Axes, optional
    top : int, optional
        Show only the best ``top`` models.
    color : str, default "C0"
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    t = table
    if top is not None:
        if not isinstance(top, int) or top < 1:
            raise ValidationError(f"top must be a positive integer; got {top!r}")
        t = t.iloc[:top]
    n = len(t)
    ax = _axes(ax, (7.0, max(2.5, 0.28 * n + 1.2)))
    y = np.arange(n)[::-1]
    r = t["rating"].to_numpy(dtype=float)
    lo = t["lower"].to_numpy(dtype=float)
    up = t["upper"].to_numpy(dtype=float)
    has_ci = np.isfinite(lo) & np.isfinite(up)
    err = np.vstack([np.where(has_ci, r - lo, 0.0), np.where(has_ci, up - r, 0.0)])
    ax.errorbar(r, y, xerr=err, fmt="o", color=color, ecolor=color, elinewidth=1.5, capsize=3,
                markersize=4)
    # an unbounded side (a bound of ±inf) is drawn as an arrow to the edge of the plot
    for yi, ri, lo_i, up_i in zip(y, r, lo, up):
        for bound, sign in ((lo_i, -1), (up_i, 1)):
            if np.isinf(bound):
                ax.annotate("", xy=(1.0 if sign > 0 else 0.0, yi), xytext=(ri, yi),
                            xycoords=("axes fraction", "data"),
                            arrowprops={"arrowstyle": "->", "color": color, "lw": 1.2})
    ranks = t["rank"] if "rank" in t.columns else pd.Series(pd.NA, index=t.index)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{'–' if pd.isna(k) else int(k)}. {m}"
                        for k, m in zip(ranks, t.index)], fontsize=8)
    ax.set_xlabel("rating")
    ax.grid(axis="x", alpha=0.3)
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_win_matrix(
    matrix: pd.DataFrame,
    *,
    ax: Any = None,
    top: int | None = None,
    annotate: bool | None = None,
    cmap: str = "RdBu",
    title: str | None = None,
) -> Any:
    """Heatmap of the predicted win probability of the row model against the column model.

    Parameters
    ----------
    matrix : DataFrame
        ``P(row beats column)``, models best first (``board.win_matrix()``).
    ax : matplotlib Axes, optional
    top : int, optional
        Only the best ``top`` models.
    annotate : bool, optional
        Write the probabilities in the cells; default when there are at most 15 models.
    cmap : str, default "RdBu"
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    w = matrix
    if top is not None:
        if not isinstance(top, int) or top < 1:
            raise ValidationError(f"top must be a positive integer; got {top!r}")
        w = w.iloc[:top, :top]
    n = len(w)
    side = max(3.5, 0.4 * n + 2.0)
    ax = _axes(ax, (side + 1.0, side))
    im = ax.imshow(w.to_numpy(), cmap=cmap, vmin=0.0, vmax=1.0)
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xticklabels([str(m) for m in w.columns], rotation=90, fontsize=7)
    ax.set_yticklabels([str(m) for m in w.index], fontsize=7)
    if annotate if annotate is not None else n <= 15:
        vals = w.to_numpy()
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{vals[i, j]:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if abs(vals[i, j] - 0.5) > 0.3 else "black")
    ax.figure.colorbar(im, ax=ax, label="P(row beats column)", shrink=0.8)
    ax.set_title(title or "predicted win probability", fontsize=10)
    return ax


def plot_agreement(
    models: pd.DataFrame,
    pairs: pd.DataFrame,
    summary: pd.DataFrame,
    *,
    level: float = 0.95,
    ours_label: str = "ours",
    reference_label: str = "reference",
    ax: Any = None,
    annotate: bool | None = None,
    title: str | None = None,
) -> Any:
    """Our ratings against the reference's, with both intervals and the rank correlations.

    Points are coloured by how their pairs fare: a model in a pair we order against the
    reference is drawn in red.

    Parameters
    ----------
    models, pairs, summary : DataFrame
        The frames of an :class:`~wizardarena.agreement.AgreementReport` (``report.models``:
        ``rating, lower, upper, ref_rating, ref_lower, ref_upper`` per model; ``report.pairs``:
        ``model_a, model_b, verdict``; ``report.summary``: ``value, lower, upper`` per metric).
    level : float
        Level of the metric intervals in the title.
    ours_label, reference_label : str
        Axis labels.
    ax : matplotlib Axes, optional
    annotate : bool, optional
        Label the points with our model names; default when there are at most 40 models.
        Labels never overlap one another, a point or the legend: each takes a free spot next
        to its point (or farther out, with a thin leader line); models whose label fits
        nowhere are named in a note under the plot (:func:`label_points`). Models in a pair
        ordered against the reference are labelled first, then by our rating.
    title : str, optional
        Default: Spearman and Kendall with their intervals.

    Returns
    -------
    matplotlib Axes
    """
    m = models
    ax = _axes(ax, (6.4, 5.6))
    x = m["ref_rating"].to_numpy(dtype=float)
    y = m["rating"].to_numpy(dtype=float)

    def err(v: np.ndarray, lo: np.ndarray, up: np.ndarray) -> np.ndarray | None:
        if not (np.isfinite(lo).all() and np.isfinite(up).all()):
            return None
        return np.vstack([v - lo, up - v])

    xerr = err(x, m["ref_lower"].to_numpy(dtype=float), m["ref_upper"].to_numpy(dtype=float))
    yerr = err(y, m["lower"].to_numpy(dtype=float), m["upper"].to_numpy(dtype=float))
    bad_pairs = pairs[pairs["verdict"] == -1]
    bad = set(bad_pairs["model_a"]) | set(bad_pairs["model_b"])
    colors = np.array(["C3" if name in bad else "C0" for name in m.index])
    ax.errorbar(x, y, xerr=xerr, yerr=yerr, fmt="none", ecolor="0.6", elinewidth=1, capsize=2,
                zorder=1)
    ax.scatter(x, y, c=colors, s=22, zorder=2)
    ax.margins(x=0.1, y=0.06)
    ax.set_xlabel(f"{reference_label} rating")
    ax.set_ylabel(f"{ours_label} rating")
    if bad:
        from matplotlib.lines import Line2D

        ax.legend(
            handles=[
                Line2D([], [], marker="o", ls="", color="C0", label="consistent"),
                Line2D([], [], marker="o", ls="", color="C3",
                       label="in a pair ordered against the reference"),
            ],
            loc="upper left", fontsize=7, frameon=False,
        )
    ax.grid(alpha=0.3)
    s = {str(k): {c: float(x) for c, x in row.items()}
         for k, row in summary[["value", "lower", "upper"]].iterrows()}
    pct = f"{100 * level:g}%"

    def fmt(metric: str, sym: str) -> str:
        v, lo, hi = s[metric]["value"], s[metric]["lower"], s[metric]["upper"]
        ci = f" [{lo:.2f}, {hi:.2f}]" if np.isfinite(lo) else ""
        return f"{sym} = {v:.3f}{ci}"

    head = f"{fmt('spearman', 'Spearman ρ')}, {fmt('kendall', 'Kendall τ')}"
    if np.isfinite(s["spearman"]["lower"]):
        head += f" ({pct})"
    ax.set_title(title or head, fontsize=9)
    if annotate if annotate is not None else len(m) <= 40:
        consistent = np.array([name not in bad for name in m.index], dtype=bool)
        label_points(ax, [str(name) for name in m.index], x, y,
                     order=np.lexsort((-y, consistent)))  # red points first, then by rating
    return ax


#: label offsets tried around a point, in units of the gap (right, left, above, below,
#: the four corners), first at the point and then farther out with a leader line
_SPOTS = [(1, 1), (1, -1), (-1, 1), (-1, -1), (1.5, 0), (-1.5, 0), (0, 1.5), (0, -1.5)]
_RINGS = (1.0, 3.5, 6.0)


def label_points(ax: Any, names: list[str], x: np.ndarray, y: np.ndarray, *,
                 order: Any = None, fontsize: float = 6.5, gap: float = 3.0) -> list[str]:
    """Label scatter points so that no two labels overlap; list the ones that do not fit.

    Each label takes the first free spot of eight around its point (the corners, right,
    left, above, below), next to it and then farther out with a thin leader line: a spot
    where the label overlaps no placed label, leader line, other point or legend, its leader
    line crosses no label or point, and it stays inside the axes. Points in ``order`` are
    served first. Labels that fit nowhere are left off the plot and named in a note under
    the x-axis label. The layout is settled before measuring (and again after the note is
    added), so the result holds in the saved figure at any dpi. Labels have
    ``gid="point-label"``, the note ``gid="unlabelled-points"``.

    Parameters
    ----------
    ax : matplotlib Axes
        The scatter's axes.
    names : list of str
        One label per point.
    x, y : ndarray
        Data coordinates of the points.
    order : sequence of int, optional
        Positions of the points in the order they are served (default: as given).
    fontsize : float, default 6.5
    gap : float, default 3.0
        Points between a point and its label (the leader-line rings are 3.5 and 6 gaps).

    Returns
    -------
    list of str
        The names left unlabelled (listed in the note).
    """
    fig = ax.figure
    idx = list(range(len(names))) if order is None else [int(i) for i in order]
    unlabelled: list[str] = []
    for _ in range(3):  # the note can move the axes; place again until the layout holds
        for art in [t for t in ax.texts if t.get_gid() in ("point-label", "unlabelled-points")]:
            art.remove()
        fig.draw_without_rendering()
        renderer = fig._get_renderer()
        before = ax.get_window_extent(renderer).bounds
        unlabelled = _place(ax, renderer, names, x, y, idx, fontsize, gap)
        if unlabelled:
            text = "not labelled (no room): " + ", ".join(unlabelled)
            import textwrap

            # wrapped to the axes' width, so the note never widens the layout
            span = ax.get_window_extent(renderer).width / renderer.points_to_pixels(1.0)
            width = max(30, int(span / (0.62 * fontsize)))
            note = ax.annotate("\n".join(textwrap.wrap(text, width)), xy=(0.0, 0.0),
                               xycoords=("axes fraction", ax.xaxis.label), xytext=(0, -3),
                               textcoords="offset points", ha="left", va="top",
                               fontsize=fontsize, color="0.3")
            note.set_gid("unlabelled-points")
        fig.draw_without_rendering()
        if np.allclose(ax.get_window_extent(fig._get_renderer()).bounds, before, atol=0.5):
            break
    return unlabelled


def _place(ax: Any, renderer: Any, names: list[str], x: np.ndarray, y: np.ndarray,
           idx: list[int], fontsize: float, gap: float) -> list[str]:
    from matplotlib.text import Text

    px = renderer.points_to_pixels(1.0)
    frame = ax.get_window_extent(renderer)
    pts = ax.transData.transform(np.column_stack([x, y]))
    r = 3.0 * px  # a marker of s=22 points² has a radius of about 2.4 points
    taken: list[tuple[float, float, float, float]] = []
    legend = ax.get_legend()
    if legend is not None:
        b = legend.get_window_extent(renderer)
        taken.append((b.x0, b.y0, b.x1, b.y1))
    dots = [(px_ - r, py_ - r, px_ + r, py_ + r) for px_, py_ in pts]

    pad = px  # a point of air around every label, so labels never touch at any dpi

    lines: list[np.ndarray] = []  # the leader lines placed so far, as points every pixel

    def inside(p: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        return ((p[:, 0] > box[0]) & (p[:, 0] < box[2]) & (p[:, 1] > box[1])
                & (p[:, 1] < box[3]))

    def leader(own: int, box: tuple[float, float, float, float]) -> np.ndarray:
        """The leader line from the point to the label's centre, outside the label."""
        a = pts[own]
        b = np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])
        k = max(2, int(np.hypot(*(b - a)) / px))
        seg = a + np.linspace(0.0, 1.0, k)[:, None] * (b - a)
        return seg[~inside(seg, (box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad))
                   & (np.hypot(*(seg - a).T) > r)]

    def free(box: tuple[float, float, float, float], own: int, line: np.ndarray | None
             ) -> bool:
        big = (box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad)
        x0, y0, x1, y1 = big
        if x0 < frame.x0 or y0 < frame.y0 or x1 > frame.x1 or y1 > frame.y1:
            return False
        for k, (a0, b0, a1, b1) in enumerate(dots):
            if k != own and x0 < a1 and a0 < x1 and y0 < b1 and b0 < y1:
                return False
        if any(x0 < a1 and a0 < x1 and y0 < b1 and b0 < y1 for a0, b0, a1, b1 in taken):
            return False
        if any(inside(seg, big).any() for seg in lines):  # over an earlier leader line
            return False
        if line is not None:  # this leader line through a label or another point
            for a0, b0, a1, b1 in taken:
                if inside(line, (a0 - pad, b0 - pad, a1 + pad, b1 + pad)).any():
                    return False
            for k, dot in enumerate(dots):
                if k != own and inside(line, dot).any():
                    return False
        return True

    left: list[str] = []
    for i in idx:
        if not (np.isfinite(pts[i]).all()):
            left.append(names[i])
            continue
        ext = Text(0, 0, names[i], fontsize=fontsize, figure=ax.figure).get_window_extent(
            renderer)
        w, h = ext.width + 2 * px, ext.height + px
        spot = None
        for ring in _RINGS:
            for sx, sy in _SPOTS:
                dx, dy = sx * gap * ring * px, sy * gap * ring * px
                cx, cy = pts[i][0] + dx, pts[i][1] + dy
                x0 = cx if sx > 0 else cx - w if sx < 0 else cx - w / 2
                y0 = cy if sy > 0 else cy - h if sy < 0 else cy - h / 2
                box = (x0, y0, x0 + w, y0 + h)
                line = leader(i, box) if ring > 1 else None
                if free(box, i, line):
                    spot = (sx, sy, ring, box)
                    if line is not None:
                        lines.append(line)
                    break
            if spot is not None:
                break
        if spot is None:
            left.append(names[i])
            continue
        sx, sy, ring, box = spot
        taken.append(box)
        ha = "left" if sx > 0 else "right" if sx < 0 else "center"
        va = "bottom" if sy > 0 else "top" if sy < 0 else "center"
        arrow = {"arrowstyle": "-", "color": "0.6", "lw": 0.5, "shrinkA": 0,
                 "shrinkB": 2} if ring > 1 else None
        label = ax.annotate(names[i], (x[i], y[i]), xytext=(sx * gap * ring, sy * gap * ring),
                            textcoords="offset points", ha=ha, va=va, fontsize=fontsize,
                            color="0.25", arrowprops=arrow)
        label.set_gid("point-label")
        label.set_in_layout(False)
    return left


def plot_pair_verdicts(models: pd.DataFrame, pairs: pd.DataFrame, summary: pd.DataFrame, *,
                       ax: Any = None, title: str | None = None) -> Any:
    """Matrix of per-pair verdicts, models in reference order: green +1 (we agree),
    red -1 (we contradict), yellow 0 (we cannot separate), grey (reference does not
    separate the pair, or has no intervals).

    Parameters
    ----------
    models, pairs, summary : DataFrame
        The frames of an :class:`~wizardarena.agreement.AgreementReport`.

    Returns
    -------
    matplotlib Axes
    """
    mpl = load_matplotlib()
    frame = models
    models_ = list(frame.index)
    n = len(models_)
    pos = {name: i for i, name in enumerate(models_)}
    grid = np.full((n, n), np.nan)
    for a, b, v in zip(pairs["model_a"], pairs["model_b"], pairs["verdict"]):
        val = 2.0 if pd.isna(v) else float(v)
        grid[pos[a], pos[b]] = grid[pos[b], pos[a]] = val
    side = max(3.5, 0.3 * n + 2.0)
    ax = _axes(ax, (side + 1.0, side))
    cmap = mpl.colors.ListedColormap(["#d62728", "#f2d64b", "#2ca02c", "#d9d9d9"])
    norm = mpl.colors.BoundaryNorm([-1.5, -0.5, 0.5, 1.5, 2.5], cmap.N)
    ax.imshow(np.ma.masked_invalid(grid), cmap=cmap, norm=norm)
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    fs = 7 if n <= 30 else 5
    ax.set_xticklabels(models_, rotation=90, fontsize=fs)
    ax.set_yticklabels(models_, fontsize=fs)
    handles = [
        mpl.patches.Patch(color=c, label=lab)
        for c, lab in zip(
            ["#2ca02c", "#f2d64b", "#d62728", "#d9d9d9"],
            ["+1 agree", "0 we cannot separate", "-1 contradict", "reference not separated"],
        )
    ]
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), fontsize=7,
              frameon=False, ncol=4, handlelength=1.0, columnspacing=1.0)
    v = float(summary["value"].to_dict()["agreement_ci"])
    ax.set_title(title or (f"agreement with CI = {v:.3f}" if np.isfinite(v) else
                           "pair verdicts (reference has no intervals)"), fontsize=9, pad=20)
    return ax

