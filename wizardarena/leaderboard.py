"""The :class:`Leaderboard` result object: table, intervals, ranks, win matrix, exports."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.exceptions import ValidationError
from wizardarena.ratings.position import PositionBias
from wizardarena.ratings.result import TABLE_COLUMNS, FitInfo, RatingResult, ranks_from_intervals

__all__ = ["TABLE_COLUMNS", "FitInfo", "Leaderboard", "ranks_from_intervals"]



@dataclass(frozen=True, eq=False)
class Leaderboard:
    """Ratings with confidence intervals, indexed by model.

    Built from a :class:`~wizardarena.ratings.result.RatingResult` by :meth:`from_result`
    (what :func:`wizardarena.rank` does).

    Attributes
    ----------
    table : DataFrame
        Indexed by ``model``, sorted by rating (best first), with columns ``rating``,
        ``lower``, ``upper`` (the interval at ``info.level``), ``rank`` (1 + number of models
        whose lower bound exceeds this model's upper bound; ``<NA>`` without intervals and
        for models without a finite maximum-likelihood rating), ``n_battles``, ``wins``,
        ``ties``, ``losses``, ``win_rate`` (``(wins + ties / 2) / n_battles``),
        ``n_replicates`` (bootstrap replicates the interval rests on; ``<NA>`` without
        bootstrap) and ``note`` (empty, or why the model's rating is not identified:
        ``undefeated``, ``winless``, ``disconnected``, ``not strongly connected``).
    info : FitInfo
        How the board was made.
    replicates : DataFrame or None
        Bootstrap ratings, shape (rounds, M), columns = models (NaN where a replicate lacks
        a model).
    covariance : DataFrame or None
        Covariance of the ratings (Elo units squared), from the sandwich or the bootstrap.
    style : DataFrame or None
        With style control (``wa.rank(..., style=True)``): the style coefficients indexed by
        feature: ``coef`` (log-odds per standardised unit), ``lower``, ``upper`` (at
        ``info.level``), ``se``, ``elo`` (``coef`` in Elo points), ``center`` and ``spread``
        (a raw value ``v`` enters as ``(v − center) / spread``). The ratings are then the
        style-controlled ones.
    style_replicates : DataFrame or None
        Bootstrap style coefficients, shape (rounds, F).
    position : Series or None
        With ``position=True``: the fitted first-slot advantage in Elo points, ``effect``,
        ``lower``, ``upper`` (at ``info.level``), and ``coef`` / ``se`` in log-odds; all NaN
        when the effect is not identified (see ``position_bias.note``). The ratings are then
        corrected for it.
    position_bias : PositionBias or None
        With ``position=True``: first-slot win rate, position consistency and the fitted
        effect (:class:`~wizardarena.ratings.position.PositionBias`).
    """

    table: pd.DataFrame
    info: FitInfo
    replicates: pd.DataFrame | None = field(default=None, repr=False)
    covariance: pd.DataFrame | None = field(default=None, repr=False)
    style: pd.DataFrame | None = field(default=None, repr=False)
    style_replicates: pd.DataFrame | None = field(default=None, repr=False)
    position: pd.Series | None = field(default=None, repr=False)
    position_bias: PositionBias | None = field(default=None, repr=False)

    @classmethod
    def from_result(cls, result: RatingResult) -> Leaderboard:
        """The leaderboard of a fit."""
        coefs = result.coefficients
        style = style_reps = None
        if coefs is not None:
            is_style = (coefs["kind"] == "style").to_numpy()
            if is_style.any():
                style = coefs.loc[is_style].drop(columns="kind")
                if result.coefficient_replicates is not None:
                    style_reps = result.coefficient_replicates.loc[:, list(style.index)]
        position = None
        pb = result.position_bias
        if pb is not None:
            row = (coefs.loc["position"] if coefs is not None and "position" in coefs.index
                   else None)
            position = pd.Series({
                "effect": pb.effect, "lower": pb.lower, "upper": pb.upper,
                "coef": np.nan if row is None else float(row["coef"]),
                "se": np.nan if row is None else float(row["se"]),
            }, name="position")
        return cls(table=result.table, info=result.info, replicates=result.replicates,
                   covariance=result.covariance, style=style, style_replicates=style_reps,
                   position=position, position_bias=pb)

    # ------------------------------------------------------------------ views
    @property
    def models(self) -> list[str]:
        """Models, best first."""
        return list(self.table.index)

    @property
    def ratings(self) -> pd.Series:
        return self.table["rating"]

    def __len__(self) -> int:
        return len(self.table)

    def __repr__(self) -> str:
        return (
            f"Leaderboard({self.info.n_models} models, {self.info.n_battles} battles, "
            f"{self.info.method}, {self.info.interval_label})\n" + self._text_table()
        )

    def win_matrix(self) -> pd.DataFrame:
        """Predicted expected score of the row model against the column model.

        For the half-tie Bradley-Terry model and Elo this is ``P(row beats column)``; for the
        Davidson model it is ``P(win) + P(tie) / 2``. The diagonal is 0.5.

        Returns
        -------
        DataFrame, shape (M, M), indexed and labelled by model (best first).
        """
        r = self.table["rating"].to_numpy(dtype=float)
        diff = (r[:, None] - r[None, :]) / self.info.scale * np.log(self.info.base)
        nu = self.info.tie_param
        if nu is None:
            prob = 1.0 / (1.0 + np.exp(-diff))
        else:
            u, v = np.exp(diff / 2), np.exp(-diff / 2)
            prob = (u + nu / 2) / (u + v + nu)
        return pd.DataFrame(prob, index=self.table.index.copy(), columns=list(self.table.index))

    def standard_errors(self) -> pd.Series:
        """Standard error of each rating (from the covariance), in Elo points."""
        if self.covariance is None:
            raise ValidationError("this leaderboard has no covariance (ci='none')")
        cov = self.covariance.loc[self.table.index, self.table.index].to_numpy()
        return pd.Series(np.sqrt(np.clip(np.diag(cov), 0, None)), index=self.table.index)

    # ------------------------------------------------------------------ exports
    def _display_frame(self) -> pd.DataFrame:
        """The table as shown: rounded; ``n_replicates`` only when some interval rests on
        fewer than all replicates, ``note`` only when some model has one."""
        t = self.table.copy()
        for c in ("rating", "lower", "upper"):
            t[c] = t[c].round(1)
        t["win_rate"] = t["win_rate"].round(3)
        reps = t["n_replicates"]
        if reps.isna().all() or bool((reps.fillna(self.info.rounds) == self.info.rounds).all()):
            t = t.drop(columns="n_replicates")
        if not (t["note"] != "").any():
            t = t.drop(columns="note")
        return t

    def _text_table(self) -> str:
        return self._display_frame().to_string()

    def to_markdown(self) -> str:
        """A GitHub-flavoured markdown table (no optional dependency needed)."""
        t = self._display_frame().reset_index()
        head = "| " + " | ".join(str(c) for c in t.columns) + " |"
        sep = "|" + "|".join("---:" if i else ":---" for i in range(t.shape[1])) + "|"
        rows = ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in t.itertuples(False)]
        note = f"\n\n{self.info.interval_label}; {self.info.n_battles} battles."
        if self.info.ridge_models:
            note += (f" {', '.join(self.info.ridge_models)}: no finite maximum-likelihood "
                     "rating (held finite only by the ridge), so the rating is not meaningful "
                     "and there is no rank.")
        if "note" in t.columns and (t["note"].str.contains("replicates")).any():
            note += (" 'winless (undefeated) in k of n replicates': the model scored (conceded)"
                     " nothing in k bootstrap replicates, where its rating is −∞ (+∞); an "
                     "interval bound of -inf (inf) says that this happened too often to ignore.")
        text = "\n".join([head, sep, *rows]) + note
        if self.position_bias is not None:
            text += "\n\nPosition bias:\n\n" + self.position_bias.to_markdown()
        if self.style is not None:
            c = self.style.reset_index()
            chead = "| " + " | ".join(str(x) for x in c.columns) + " |"
            csep = "|" + "|".join("---:" if i else ":---" for i in range(c.shape[1])) + "|"
            crows = ["| " + " | ".join(_fmt(round(v, 4) if isinstance(v, float) else v)
                                       for v in row) + " |" for row in c.itertuples(False)]
            text += "\n\nStyle coefficients (log-odds per standardised unit):\n\n"
            text += "\n".join([chead, csep, *crows])
        return text

    def to_html(self) -> str:
        """An HTML table with a caption saying how the intervals were made."""
        caption = html.escape(
            f"{self.info.method}, {self.info.interval_label}, {self.info.n_battles} battles"
        )
        body = self._display_frame().to_html(classes="wizardarena-leaderboard", border=0)
        return f"<div><p><b>Leaderboard</b> — {caption}</p>{body}</div>"

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_csv(self, path: str | os.PathLike[str]) -> None:
        """Write the table to CSV, atomically."""
        from wizardarena._io import atomic_write

        atomic_write(path, lambda tmp: self.table.to_csv(tmp))

    def to_parquet(self, path: str | os.PathLike[str]) -> None:
        """Write the table to Parquet, atomically."""
        from wizardarena._io import atomic_write

        atomic_write(path, lambda tmp: self.table.to_parquet(tmp))

    def to_dict(self) -> dict[str, Any]:
        """The table as records plus ``info``, for JSON."""
        return {
            "info": self.info.as_dict(),
            "models": [
                {"model": str(m), **{k: _py(v) for k, v in row.items()}}
                for m, row in self.table.iterrows()
            ],
        }

    # ------------------------------------------------------------------ plots
    def plot(self, **kwargs: Any) -> Any:
        """Ratings with interval bars, sorted (needs the ``plot`` extra). Returns the Axes."""
        from wizardarena.plots import plot_leaderboard

        kwargs.setdefault("title", f"{self.info.method}, {self.info.interval_label}")
        return plot_leaderboard(self.table, **kwargs)

    def plot_win_matrix(self, **kwargs: Any) -> Any:
        """Heatmap of :meth:`win_matrix` (needs the ``plot`` extra). Returns the Axes."""
        from wizardarena.plots import plot_win_matrix

        return plot_win_matrix(self.win_matrix(), **kwargs)


def _fmt(v: Any) -> str:
    if v is pd.NA or v is None:
        return ""
    if isinstance(v, float):
        return "" if np.isnan(v) else f"{v:g}"
    return str(v)


def _py(v: Any) -> Any:
    if v is pd.NA:
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v
