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
    "plot_agreement",
    "plot_leaderboard",
    "plot_pair_verdicts",
    "plot_win_matrix",
]


def _matplotlib() -> Any:
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
    _matplotlib()
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
    if annotate if annotate is not None else len(m) <= 40:
        for name, xi, yi in zip(m.index, x, y):
            ax.annotate(str(name), (xi, yi), xytext=(3, 3), textcoords="offset points",
                        fontsize=6.5, color="0.25")
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
    return ax


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
    mpl = _matplotlib()
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

