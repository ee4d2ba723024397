"""``agreement(board, reference)``: every metric at once, with bootstrap CIs, as a report."""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wizardarena._io import atomic_write_text
from wizardarena._markdown import markdown_table
from wizardarena.agreement.aliases import load_aliases
from wizardarena.agreement.matching import ModelMatch, match_models
from wizardarena.agreement.metrics import (
    brier,
    consistency,
    covariance_matrix,
    diff_sd,
    forecast,
    kendall,
    kendall_rows,
    pair_verdicts,
    pearson,
    pearson_rows,
    separability,
    spearman,
    spearman_rows,
    top_k_overlap,
    top_k_rows,
)
from wizardarena.agreement.readers import load_reference
from wizardarena.agreement.reference import Reference
from wizardarena.exceptions import Param, ReferenceMatchError, ValidationError
from wizardarena.leaderboard import Leaderboard

__all__ = ["METRICS", "AgreementReport", "agreement"]

#: the style sheet of the HTML report
CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}"
    "table.wa-table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.9em}"
    ".wa-table th,.wa-table td{padding:3px 9px;border-bottom:1px solid #ddd;text-align:right}"
    ".wa-table th{background:#f3f3f3}"
    ".wa-figs{display:flex;flex-wrap:wrap;gap:1em}"
    "figure{margin:0}figure img{max-width:540px;border:1px solid #eee}"
)

#: rows of :attr:`AgreementReport.summary`, in order
METRICS: tuple[str, ...] = (
    "spearman",
    "kendall",
    "pearson",
    "separability",
    "reference_separability",
    "agreement_ci",
    "brier",
    "top_k_overlap",
    "consistency",
)

_DESCRIPTIONS: dict[str, str] = {
    "spearman": "Spearman rank correlation of the ratings",
    "kendall": "Kendall tau-b rank correlation",
    "pearson": "Pearson correlation of the ratings",
    "separability": "share of our model pairs with non-overlapping intervals",
    "reference_separability": "share of reference pairs with non-overlapping intervals",
    "agreement_ci": "mean verdict (+1/-1/0) over pairs the reference separates",
    "brier": "pair-rank Brier score of P(a above b) vs the reference order (lower is better)",
    "top_k_overlap": "share of the reference top-k in our top-k",
    "consistency": "WizardArena average of spearman, agreement_ci, separability",
}

ReferenceLike = Reference | Leaderboard | pd.DataFrame


@dataclass(frozen=True, eq=False)
class AgreementReport:
    """How well our leaderboard agrees with a reference leaderboard.

    Attributes
    ----------
    summary : DataFrame
        Indexed by ``metric`` (see :data:`METRICS`), columns ``value``, ``lower``, ``upper``
        (bootstrap percentile interval over our replicates at ``level``, NaN where not
        meaningful), ``n`` (models or pairs the metric is computed on) and ``note``.
    pairs : DataFrame
        One row per pair of matched models: ``model_a`` above ``model_b`` in the reference,
        ``ours`` and ``theirs`` (+1 / -1 / 0 interval separation), ``verdict`` (+1 agree,
        -1 contradict, 0 we cannot separate; <NA> when the reference does not separate the
        pair), ``diff_ours``/``diff_theirs`` (rating differences a - b) and ``p_ours`` (our
        forecast P(a above b)).
    models : DataFrame
        Indexed by our model name: ``reference`` (key), ``how`` (matching rule),
        ``rating``/``lower``/``upper`` (ours), ``ref_rating``/``ref_lower``/``ref_upper``,
        ``rank``/``ref_rank`` (1 = best, among matched models only).
    matches : DataFrame
        Our model -> reference key and rule (see :class:`~wizardarena.agreement.ModelMatch`).
    unmatched : DataFrame
        ``model``, ``side``, ``reason`` for every name left out, on either side.
    reference : Reference
    level : float
        Level of the metric intervals.
    n_replicates : int
        Replicates used for the metric intervals (0: none).
    notes : tuple of str
    title : str
    ours_label, reference_label : str
        Names of the two leaderboards in plots and tables.
    """

    summary: pd.DataFrame
    pairs: pd.DataFrame
    models: pd.DataFrame
    matches: pd.DataFrame
    unmatched: pd.DataFrame
    reference: Reference
    level: float
    n_replicates: int
    notes: tuple[str, ...] = field(default=())
    title: str = "Agreement with the reference leaderboard"
    ours_label: str = "ours"
    reference_label: str = "reference"

    def value(self, metric: str) -> float:
        """The value of one metric, e.g. ``report.value("spearman")``."""
        if metric not in self.summary.index:
            raise ValidationError(
                f"metric must be one of {list(self.summary.index)}; got {metric!r}"
            )
        return float(self.summary["value"].to_dict()[metric])

    def __repr__(self) -> str:
        v = {str(k): float(x) for k, x in self.summary["value"].to_dict().items()}
        vals = ", ".join(
            f"{m}={v[m]:.3f}"
            for m in ("spearman", "kendall", "agreement_ci", "separability", "brier")
            if np.isfinite(v[m])
        )
        return f"AgreementReport({len(self.models)} models; {vals})"

    # ------------------------------------------------------------------ plots
    def plot(self, **kwargs: Any) -> Any:
        """Scatter of our ratings vs the reference's, with intervals and the rank
        correlations (needs the ``plot`` extra). Returns the Axes."""
        from wizardarena.plots import plot_agreement

        return plot_agreement(self.models, self.pairs, self.summary, level=self.level,
                              ours_label=self.ours_label, reference_label=self.reference_label,
                              **kwargs)

    def plot_pairs(self, **kwargs: Any) -> Any:
        """Heatmap of the per-pair verdicts (needs the ``plot`` extra). Returns the Axes."""
        from wizardarena.plots import plot_pair_verdicts

        return plot_pair_verdicts(self.models, self.pairs, self.summary, **kwargs)

    # ------------------------------------------------------------------ exports
    def _summary_display(self) -> pd.DataFrame:
        s = self.summary.copy()
        for c in ("value", "lower", "upper"):
            s[c] = s[c].round(4)
        return s

    def _models_display(self) -> pd.DataFrame:
        m = self.models.copy()
        for c in ("rating", "lower", "upper", "ref_rating", "ref_lower", "ref_upper"):
            m[c] = m[c].round(1)
        return m

    def _header_lines(self) -> list[str]:
        n_ours = int((self.unmatched["side"] == "ours").sum())
        n_ref = int((self.unmatched["side"] == "reference").sum())
        how = self.matches["how"].value_counts()
        how_s = ", ".join(f"{k}: {v}" for k, v in how.items())
        lines = [
            f"Reference: {self.reference.describe()}",
            f"Matched models: {len(self.models)} ({how_s}); ours unmatched: {n_ours}; "
            f"reference models not in ours: {n_ref}.",
            f"Metric intervals: {100 * self.level:g}% percentile over {self.n_replicates} "
            "replicates of our ratings" if self.n_replicates else "Metric intervals: none "
            "(our leaderboard has no replicates or covariance)",
        ]
        lines += list(self.reference.notes) + list(self.notes)
        return lines

    def to_markdown(self) -> str:
        """The report as GitHub-flavoured markdown (no optional dependency needed)."""
        out = [f"## {self.title}", ""]
        out += [f"- {line}" for line in self._header_lines()]
        out += ["", "### Metrics", "", markdown_table(self._summary_display().reset_index(),
                                                  align=None), ""]
        out += ["### Models", "", markdown_table(self._models_display().reset_index(),
                                                 align=None), ""]
        contra = self.pairs[self.pairs["verdict"] == -1]
        if len(contra):
            out += [
                f"### Pairs we order against the reference ({len(contra)})",
                "",
                markdown_table(contra[["model_a", "model_b", "diff_ours", "diff_theirs"]].round(1),
                               align=None),
                "",
            ]
        out += ["### Unmatched", ""]
        for side in ("ours", "reference"):
            names = self.unmatched.loc[self.unmatched["side"] == side]
            if len(names):
                listed = ", ".join(
                    _unmatched_item(row) if side == "ours" else str(row["model"])
                    for _, row in names.iterrows()
                )
                out.append(f"- {side} ({len(names)}): {listed}")
            else:
                out.append(f"- {side}: none")
        return "\n".join(out) + "\n"

    def to_html(self, *, figures: bool = True) -> str:
        """A self-contained HTML page: metrics, models, pairs, unmatched names and, when
        matplotlib is installed and ``figures`` is true, the plots embedded as base64 PNG."""
        esc = html.escape
        parts = [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            f"<title>{esc(self.title)}</title>",
            f"<style>{CSS}</style></head><body>",
            f"<h1>{esc(self.title)}</h1>",
            "<ul>" + "".join(f"<li>{esc(x)}</li>" for x in self._header_lines()) + "</ul>",
            "<h2>Metrics</h2>",
            self._summary_display().reset_index().to_html(
                classes="wa-table", border=0, na_rep="", index=False
            ),
        ]
        if figures:
            imgs = _figures_base64(self)
            if imgs:
                parts.append('<h2>Figures</h2><div class="wa-figs">')
                parts += [
                    f'<figure><img alt="{esc(alt)}" src="data:image/png;base64,{b64}">'
                    f"<figcaption>{esc(alt)}</figcaption></figure>"
                    for alt, b64 in imgs
                ]
                parts.append("</div>")
            else:
                parts.append("<p><i>Figures need matplotlib (pip install "
                             "'wizardarena[plot]').</i></p>")
        parts += [
            "<h2>Models</h2>",
            self._models_display().reset_index().to_html(
                classes="wa-table", border=0, na_rep="", index=False
            ),
        ]
        contra = self.pairs[self.pairs["verdict"] == -1]
        if len(contra):
            parts += [
                f"<h2>Pairs we order against the reference ({len(contra)})</h2>",
                contra[["model_a", "model_b", "diff_ours", "diff_theirs"]]
                .round(1)
                .to_html(classes="wa-table", border=0, index=False),
            ]
        parts.append("<h2>Unmatched names</h2>")
        shown = self.unmatched.copy()
        if "candidates" in shown.columns:
            shown["candidates"] = [", ".join(map(str, c or ())) for c in shown["candidates"]]
        parts.append(shown.to_html(classes="wa-table", border=0, index=False))
        parts.append("</body></html>")
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return self.to_html(figures=False)

    def to_file(self, path: str | os.PathLike[str], *, format: str | None = None) -> None:
        """Write the report (``html`` or ``md``, from the suffix by default), atomically."""
        target = Path(path)
        fmt = format or ("md" if target.suffix.lower() in (".md", ".markdown") else "html")
        if fmt not in ("html", "md"):
            raise ValidationError(f"format must be 'html' or 'md'; got {format!r}")
        text = self.to_html() if fmt == "html" else self.to_markdown()
        atomic_write_text(target, text)


def _unmatched_item(row: pd.Series) -> str:
    """``name (reason)``, with the candidates of an ambiguous / taken / plausible name."""
    cand = tuple(row.get("candidates", ()) or ())
    how = str(row.get("how", ""))
    if cand:
        return f"{row['model']} ({how}: {', '.join(map(str, cand))}; {row['reason']})"
    return f"{row['model']} ({row['reason']})"


# ----------------------------------------------------------------------------- compute
def _as_reference(reference: ReferenceLike) -> Reference:
    if isinstance(reference, Reference):
        return reference
    if isinstance(reference, (Leaderboard, pd.DataFrame)):
        return load_reference(reference)
    raise ValidationError(
        "reference must be a Reference (see load_reference), a Leaderboard or a DataFrame; "
        f"got {type(reference).__name__}"
    )


def _replicates(
    board: Leaderboard, models: list[str], rounds: int, rng: int | np.random.Generator | None
) -> tuple[np.ndarray | None, str | None]:
    if board.replicates is not None:
        rep = board.replicates.reindex(columns=models).to_numpy(dtype=float)
        ok = np.isfinite(rep).all(axis=1)
        note = None
        if not ok.all():
            note = f"{int((~ok).sum())} replicates lacking a matched model were left out"
        return rep[ok], note
    if board.covariance is not None:
        cov = board.covariance.loc[models, models].to_numpy(dtype=float)
        mean = board.table.loc[models, "rating"].to_numpy(dtype=float)
        gen = np.random.default_rng(rng)
        draws = gen.multivariate_normal(mean, cov, size=rounds, method="eigh")
        return draws, (
            f"metric intervals from {rounds} Gaussian draws of our covariance "
            f"({board.info.interval_label})"
        )
    return None, None


def _interval(values: np.ndarray, level: float) -> tuple[float, float]:
    v = values[np.isfinite(values)]
    if v.size == 0:
        return float("nan"), float("nan")
    a = (1 - level) / 2
    lo, hi = np.quantile(v, [a, 1 - a])
    return float(lo), float(hi)


def agreement(
    board: Leaderboard,
    reference: ReferenceLike,
    *,
    aliases: Mapping[str, str | None] | str | os.PathLike[str] | None = None,
    ambiguous: str = "raise",
    level: float | None = None,
    top_k: int | None = None,
    reference_order_only: bool = False,
    rounds: int = 1000,
    title: str | None = None,
    labels: tuple[str, str] = ("ours", "reference"),
    rng: int | np.random.Generator | None = None,
) -> AgreementReport:
    """Compare our leaderboard with a reference leaderboard (e.g. LMSYS Chatbot Arena).

    Model names are matched with :func:`~wizardarena.agreement.match_models`; every metric of
    :mod:`wizardarena.agreement.metrics` is computed on the matched models, and the
    correlations and top-k overlap get a percentile interval over our bootstrap replicates
    (``board.replicates``; for a sandwich board, Gaussian draws from ``board.covariance``).

    Parameters
    ----------
    board : Leaderboard
        Ours.
    reference : Reference, Leaderboard or DataFrame
        The reference (see :func:`~wizardarena.agreement.load_reference`).
    aliases : mapping or path, optional
        ``{our name: reference name or None}`` for names the rules cannot match, or a CSV /
        JSON file of them (see :func:`~wizardarena.agreement.load_aliases`).
    ambiguous : {"raise", "report"}, default "raise"
        Names that match several reference models (or share one) raise, all listed at
        once; ``"report"`` leaves them out and lists them in ``unmatched`` (see
        :func:`~wizardarena.agreement.match_models`).
    level : float, optional
        Level of the metric intervals; default ``board.info.level``.
    top_k : int, optional
        k of :func:`top_k_overlap`; default ``min(5, n)``.
    reference_order_only : bool, default False
        A reference without intervals leaves ``agreement_ci`` (and ``consistency``) NaN.
        With True its order is taken as certain (every pair with different ratings counts
        as separated) and the summary says so.
    rounds : int, default 1000
        Gaussian draws when the board has a covariance but no replicates.
    title : str, optional
        Title of the report.
    labels : (str, str), default ("ours", "reference")
        Names of the two leaderboards in plots (e.g. ``("GPT-4 judge", "LMSYS")``).
    rng : int, numpy Generator or None
        Only used for those Gaussian draws.

    Returns
    -------
    AgreementReport

    Raises
    ------
    ReferenceMatchError
        Ambiguous names, or fewer than 2 matched models.
    """
    if not isinstance(board, Leaderboard):
        raise ValidationError(f"board must be a Leaderboard; got {type(board).__name__}")
    ref = _as_reference(reference)
    lvl = board.info.level if level is None else float(level)
    if not 0 < lvl < 1:
        raise ValidationError(f"level must be in (0, 1); got {level!r}")
    alias_map = None if aliases is None else load_aliases(aliases)
    match: ModelMatch = match_models(board.models, ref.names(), aliases=alias_map,
                                     ambiguous=ambiguous)
    models = [str(m) for m in match.matches.index]
    n = len(models)
    if n < 2:
        raise ReferenceMatchError(
            f"only {n} of our {len(board)} models matched the reference ({ref.describe()}); "
            "need at least 2. Unmatched: "
            f"{match.unmatched.loc[match.unmatched['side'] == 'ours', 'model'].tolist()[:10]}; "
            "map names with ", Param("aliases", "{...}", cli="'OURS=REFERENCE'"),
        )
    keys = match.matches["reference"].tolist()
    ours = board.table.loc[models, ["rating", "lower", "upper"]].astype(float)
    theirs = ref.table.loc[keys, ["rating", "lower", "upper"]].astype(float)
    theirs.index = pd.Index(models, name="model")
    k = min(5, n) if top_k is None else int(top_k)
    notes: list[str] = []
    if match.unused_aliases:
        notes.append(f"aliases for models not on our board: {list(match.unused_aliases)}")

    reps, rep_note = _replicates(board, models, rounds, rng)
    if rep_note:
        notes.append(rep_note)
    n_rep = 0 if reps is None else int(reps.shape[0])

    rows: dict[str, tuple[float, float, float, int, str]] = {}
    y = theirs["rating"].to_numpy()
    names_arr = np.array(models, dtype=object)

    def with_ci(name: str, value: float, kernel: Callable[[np.ndarray], np.ndarray], cnt: int,
                note: str = "") -> None:
        lo, hi = _interval(kernel(reps), lvl) if reps is not None and len(reps) else (np.nan,) * 2
        rows[name] = (value, lo, hi, cnt, note)

    with_ci("spearman", spearman(ours, theirs), lambda r: spearman_rows(r, y), n)
    with_ci("kendall", kendall(ours, theirs), lambda r: kendall_rows(r, y), n)
    with_ci("pearson", pearson(ours, theirs), lambda r: pearson_rows(r, y), n)
    n_pairs = n * (n - 1) // 2
    finite_ours = bool(np.isfinite(ours[["lower", "upper"]].to_numpy()).all())
    sep = separability(ours) if finite_ours else float("nan")
    rows["separability"] = (sep, np.nan, np.nan, n_pairs,
                            "" if finite_ours else "our leaderboard has no intervals")
    if ref.has_intervals:
        rows["reference_separability"] = (separability(theirs), np.nan, np.nan, n_pairs, "")
        theirs_iv = theirs
    else:
        rows["reference_separability"] = (np.nan, np.nan, np.nan, n_pairs,
                                          "reference has no intervals")
        theirs_iv = theirs.assign(lower=theirs["rating"], upper=theirs["rating"])

    ours_iv = ours if finite_ours else ours.assign(lower=ours["rating"], upper=ours["rating"])
    pv = pair_verdicts(ours_iv, theirs_iv)
    use_ref = ref.has_intervals or reference_order_only
    if not use_ref:
        pv["theirs"] = pd.array([pd.NA] * len(pv), dtype="Int8")
        pv["verdict"] = pd.array([pd.NA] * len(pv), dtype="Int8")
    if not finite_ours:
        pv["ours"] = pd.array([pd.NA] * len(pv), dtype="Int8")
        pv["verdict"] = pd.array([pd.NA] * len(pv), dtype="Int8")
    counted = pv["verdict"].dropna().to_numpy(dtype=float)
    if not finite_ours:
        rows["agreement_ci"] = (np.nan, np.nan, np.nan, 0, "our leaderboard has no intervals")
    elif not use_ref:
        rows["agreement_ci"] = (np.nan, np.nan, np.nan, 0,
                                "reference has no intervals (see reference_order_only)")
    else:
        note = "" if ref.has_intervals else "reference order taken as certain (no intervals)"
        val = float(counted.mean()) if counted.size else float("nan")
        rows["agreement_ci"] = (val, np.nan, np.nan, int(counted.size), note)

    pos = {m: q for q, m in enumerate(models)}
    ia = np.array([pos[m] for m in pv["model_a"]], dtype=int)
    ib = np.array([pos[m] for m in pv["model_b"]], dtype=int)
    r_o = ours["rating"].to_numpy()
    pv["diff_ours"] = r_o[ia] - r_o[ib]
    pv["diff_theirs"] = y[ia] - y[ib]
    cov_df = board.covariance
    if cov_df is None and reps is not None and len(reps) > 1:
        cov_df = pd.DataFrame(np.cov(reps, rowvar=False), index=models, columns=models)
    if cov_df is not None:
        cov = covariance_matrix(cov_df, models, n)
        pv["p_ours"] = forecast(pv["diff_ours"].to_numpy(), diff_sd(cov, ia, ib))
        n_brier = int((pv["diff_theirs"] != 0).sum())
        rows["brier"] = (brier(ours, theirs, covariance=cov), np.nan, np.nan, n_brier, "")
    else:
        pv["p_ours"] = np.nan
        rows["brier"] = (np.nan, np.nan, np.nan, 0, "our leaderboard has no covariance")
    with_ci("top_k_overlap", top_k_overlap(ours, theirs, k=k),
            lambda r: top_k_rows(r, y, k, names_arr), n, f"k={k}")
    cons = consistency(rows["spearman"][0], rows["agreement_ci"][0], rows["separability"][0])
    rows["consistency"] = (cons, np.nan, np.nan, n,
                           "" if np.isfinite(cons) else "needs agreement_ci and separability")

    summary = pd.DataFrame(
        [rows[m] for m in METRICS],
        index=pd.Index(list(METRICS), name="metric"),
        columns=["value", "lower", "upper", "n", "note"],
    )
    summary["n"] = summary["n"].astype(np.int64)

    table = pd.DataFrame(
        {
            "reference": keys,
            "how": match.matches["how"].tolist(),
            "rating": ours["rating"].to_numpy(),
            "lower": ours["lower"].to_numpy(),
            "upper": ours["upper"].to_numpy(),
            "ref_rating": y,
            "ref_lower": theirs["lower"].to_numpy(),
            "ref_upper": theirs["upper"].to_numpy(),
        },
        index=pd.Index(models, name="model"),
    )
    table["rank"] = table["rating"].rank(ascending=False, method="min").astype(np.int64)
    table["ref_rank"] = table["ref_rating"].rank(ascending=False, method="min").astype(np.int64)
    table = table.sort_values("ref_rating", ascending=False, kind="mergesort")
    pv = pv[["model_a", "model_b", "ours", "theirs", "verdict", "diff_ours", "diff_theirs",
             "p_ours"]]
    return AgreementReport(
        summary=summary,
        pairs=pv,
        models=table,
        matches=match.matches,
        unmatched=match.unmatched,
        reference=ref,
        level=lvl,
        n_replicates=n_rep,
        notes=tuple(notes),
        title=title or "Agreement with the reference leaderboard",
        ours_label=str(labels[0]),
        reference_label=str(labels[1]),
    )


def _figures_base64(report: AgreementReport) -> list[tuple[str, str]]:
    from wizardarena.plots import figure_png_base64, load_matplotlib

    try:
        load_matplotlib()  # MissingExtraError (an ImportError) when matplotlib is absent
        from matplotlib.figure import Figure
    except ImportError:
        return []
    out = []
    fig = Figure(figsize=(6.4, 5.6), layout="constrained")
    report.plot(ax=fig.subplots())
    out.append((f"{report.ours_label} vs {report.reference_label} ratings",
                figure_png_base64(fig)))
    if report.pairs["verdict"].isna().all():
        return out  # no verdicts to show (the reference has no intervals)
    n = len(report.models)
    side = min(9.0, 3.0 + 0.18 * n)
    fig = Figure(figsize=(side + 1.0, side), layout="constrained")
    report.plot_pairs(ax=fig.subplots())
    out.append(("per-pair verdicts", figure_png_base64(fig)))
    return out
