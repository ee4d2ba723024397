"""The :class:`Leaderboard` result object: table, intervals, ranks, win matrix, exports."""

from __future__ import annotations

import html
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.exceptions import ValidationError

__all__ = ["FitInfo", "Leaderboard", "ranks_from_intervals"]

TABLE_COLUMNS: tuple[str, ...] = (
    "rating",
    "lower",
    "upper",
    "rank",
    "n_battles",
    "wins",
    "ties",
    "losses",
    "win_rate",
)


def ranks_from_intervals(lower: np.ndarray, upper: np.ndarray) -> np.ndarray:
    """LMSYS rank: ``1 + #{j : lower_j > upper_i}``.

    A model's rank counts only the models that are confidently better; models whose
    intervals overlap share a rank. NaN bounds never count as "confidently better".

    Parameters
    ----------
    lower, upper : ndarray, shape (M,)

    Returns
    -------
    ndarray of int, shape (M,)
    """
    lo = np.asarray(lower, dtype=float)
    up = np.asarray(upper, dtype=float)
    if lo.shape != up.shape or lo.ndim != 1:
        raise ValidationError(
            f"lower and upper must be 1-d arrays of one shape; got {lo.shape} and {up.shape}"
        )
    better = lo[None, :] > up[:, None]  # better[i, j]: j is confidently above i
    return 1 + better.sum(axis=1)


@dataclass(frozen=True)
class FitInfo:
    """How a leaderboard was made.

    Attributes
    ----------
    method : str
        ``"bradley-terry"`` or ``"elo"``.
    ties : str
        ``"half"``, ``"drop"`` or ``"davidson"`` (Bradley-Terry), ``"half"`` for Elo.
    ci : str
        ``"bootstrap"``, ``"sandwich"`` or ``"none"``.
    unit : str
        Resampling unit, ``"battle"`` or ``"prompt"``.
    rounds : int
        Bootstrap rounds (0 without bootstrap).
    level : float
        Coverage level of the intervals (e.g. 0.95).
    seed : int or None
        The integer seed the bootstrap used (drawn from the OS and recorded when ``rng``
        was None; None when a Generator was passed).
    anchor : dict or None
        ``{model: rating}`` pinned in the point fit and in every replicate.
    point : str
        ``"mle"`` (full-data fit), ``"median"`` (bootstrap median) or ``"order"`` (Elo in
        the log's order).
    n_iter : int
        Newton iterations of the full-data fit.
    converged : bool
        Whether the full-data fit met its tolerance.
    bootstrap_max_iter : int
        Largest iteration count over bootstrap replicates (0 without bootstrap).
    bootstrap_converged : float
        Share of bootstrap replicates that converged (1.0 without bootstrap).
    ridge : float
        Ridge coefficient (natural log-strength units).
    ridge_models : dict
        Models whose rating is finite only thanks to the ridge, with the reason:
        ``"undefeated"``, ``"winless"``, ``"disconnected"`` (outside the largest connected
        component) or ``"not strongly connected"``.
    scale, base, init : float
        The Elo scale: ``rating = init + scale · log_base(strength)``.
    n_battles, n_models : int
    tie_param : float or None
        Davidson's ν.
    k : float or None
        Elo K-factor.
    """

    method: str
    ties: str
    ci: str
    unit: str
    rounds: int
    level: float
    seed: int | None
    anchor: dict[str, float] | None
    point: str
    n_iter: int
    converged: bool
    bootstrap_max_iter: int
    bootstrap_converged: float
    ridge: float
    ridge_models: dict[str, str]
    scale: float
    base: float
    init: float
    n_battles: int
    n_models: int
    tie_param: float | None = None
    k: float | None = None

    @property
    def interval_label(self) -> str:
        """e.g. ``"95% bootstrap CI (battle, 1000 rounds)"``."""
        pct = f"{100 * self.level:g}%"
        if self.ci == "bootstrap":
            return f"{pct} bootstrap CI ({self.unit}, {self.rounds} rounds)"
        if self.ci == "sandwich":
            return f"{pct} sandwich CI ({self.unit})"
        return "no interval"

    def as_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True, eq=False)
class Leaderboard:
    """Ratings with confidence intervals, indexed by model.

    Attributes
    ----------
    table : DataFrame
        Indexed by ``model``, sorted by rating (best first), with columns ``rating``,
        ``lower``, ``upper`` (the interval at ``info.level``), ``rank`` (1 + number of models
        whose lower bound exceeds this model's upper bound), ``n_battles``, ``wins``,
        ``ties``, ``losses`` and ``win_rate`` (``(wins + ties / 2) / n_battles``).
    info : FitInfo
        How the board was made.
    replicates : DataFrame or None
        Bootstrap ratings, shape (rounds, M), columns = models (NaN where a replicate lacks
        a model).
    covariance : DataFrame or None
        Covariance of the ratings (Elo units squared), from the sandwich or the bootstrap.
    style : DataFrame or None
        With style control (``wa.rank(..., style=True)``): the style coefficients indexed by
        feature (``coef``, ``lower``, ``upper``, ``se``, ``elo``, ``center``, ``spread``; see
        :class:`wizardarena.ratings.style.StyleFit`). The ratings are then the
        style-controlled ones.
    """

    table: pd.DataFrame
    info: FitInfo
    replicates: pd.DataFrame | None = field(default=None, repr=False)
    covariance: pd.DataFrame | None = field(default=None, repr=False)
    style: pd.DataFrame | None = field(default=None, repr=False)

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
        t = self.table.copy()
        for c in ("rating", "lower", "upper"):
            t[c] = t[c].round(1)
        t["win_rate"] = t["win_rate"].round(3)
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
        text = "\n".join([head, sep, *rows]) + note
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

        return plot_leaderboard(self, **kwargs)

    def plot_win_matrix(self, **kwargs: Any) -> Any:
        """Heatmap of :meth:`win_matrix` (needs the ``plot`` extra). Returns the Axes."""
        from wizardarena.plots import plot_win_matrix

        return plot_win_matrix(self, **kwargs)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "" if np.isnan(v) else f"{v:g}"
    return str(v)


def _py(v: Any) -> Any:
    if isinstance(v, np.generic):
        return v.item()
    return v


def build_table(
    models: tuple[str, ...] | list[str],
    rating: np.ndarray,
    lower: np.ndarray,
    upper: np.ndarray,
    record: pd.DataFrame,
) -> pd.DataFrame:
    """Assemble and sort the leaderboard table (internal)."""
    idx = pd.Index(list(models), name="model")
    t = pd.DataFrame({"rating": rating, "lower": lower, "upper": upper}, index=idx)
    t["rank"] = ranks_from_intervals(t["lower"].to_numpy(), t["upper"].to_numpy())
    rec = record.reindex(idx)
    for c in ("n_battles", "wins", "ties", "losses"):
        t[c] = rec[c].to_numpy(dtype=np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        t["win_rate"] = (t["wins"] + 0.5 * t["ties"]) / t["n_battles"]
    t = t.sort_values(["rating", "rank"], ascending=[False, True], kind="mergesort")
    return t[list(TABLE_COLUMNS)]


def as_anchor(
    anchor: Mapping[str, float] | None, models: tuple[str, ...]
) -> dict[str, float] | None:
    """Validate an anchor mapping (internal)."""
    if anchor is None:
        return None
    if not isinstance(anchor, Mapping) or len(anchor) != 1:
        raise ValidationError(
            f"anchor must be a mapping with exactly one {{model: rating}}; got {anchor!r}"
        )
    (name, value), = anchor.items()
    if name not in models:
        close = [m for m in models if str(name).lower() in m.lower()][:5]
        hint = f"; similar names: {close}" if close else ""
        raise ValidationError(f"anchor model {name!r} is not in the battle log{hint}")
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValidationError(f"anchor rating must be a number; got {value!r}") from None
    if not np.isfinite(value):
        raise ValidationError(f"anchor rating must be finite; got {value!r}")
    return {str(name): value}
