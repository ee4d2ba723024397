"""The :class:`Leaderboard` result object: table, intervals, ranks, win matrix, exports."""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtr, ndtri

from wizardarena._markdown import markdown_table
from wizardarena.exceptions import ValidationError
from wizardarena.ratings.position import PositionBias
from wizardarena.ratings.result import (
    TABLE_COLUMNS,
    FitInfo,
    RatingResult,
    percentile_bounds,
    ranks_from_intervals,
)

__all__ = [
    "TABLE_COLUMNS",
    "FitInfo",
    "Leaderboard",
    "RatingDifference",
    "check_level",
    "ranks_from_intervals",
]

#: reasons of :attr:`FitInfo.ridge_models` under which the bootstrap replicates of a model
#: are not extremes (±∞) but ridge-held numbers: a difference with such a model is unknown
_UNDETERMINED = ("disconnected", "not strongly connected")


@dataclass(frozen=True, eq=False)
class RatingDifference:
    """``rating(a) − rating(b)`` with its uncertainty; what :meth:`Leaderboard.compare` returns.

    Attributes
    ----------
    a, b : str
        The two models.
    rating_a, rating_b : float
        Their ratings on the board (Elo points).
    difference : float
        ``rating_a − rating_b``.
    lower, upper : float
        Two-sided interval of the difference at ``level``: bootstrap percentiles of the
        paired replicate differences, or ``difference ± z · se`` from the sandwich. ±inf when
        a model is winless or undefeated in too many replicates; NaN when the battles do not
        determine the difference (see ``note``).
    level : float
        Level of ``lower, upper``.
    prob : float
        Probability that ``a`` is rated above ``b``: the share of paired replicates with a
        positive difference (ties count half), or ``Φ(difference / se)``. NaN when undetermined.
    se : float
        Standard error of the difference: the standard deviation of the finite replicate
        differences, or ``sqrt(var_a + var_b − 2 cov_ab)`` from the sandwich.
    n_battles : int
        Battles between ``a`` and ``b`` in the log (direct games only; the difference also
        rests on the games both played against others).
    method : str
        ``"bootstrap"`` or ``"sandwich"`` (``info.ci`` of the board).
    n_replicates : int or None
        Bootstrap replicates in which both models are present (the others do not count).
    note : str
        Empty, or why a rating is not identified (``info.ridge_models``).
    draws : ndarray or None
        Bootstrap boards: the paired replicate differences that count (NaN ones dropped,
        ±inf kept), shape (n_replicates,).
    """

    a: str
    b: str
    rating_a: float
    rating_b: float
    difference: float
    lower: float
    upper: float
    level: float
    prob: float
    se: float
    n_battles: int
    method: str
    n_replicates: int | None = None
    note: str = ""
    draws: np.ndarray | None = field(default=None, repr=False)

    @property
    def determined(self) -> bool:
        """False when the battles do not determine the difference (``prob`` is NaN)."""
        return not np.isnan(self.prob)

    def prob_above(self, threshold: float) -> float:
        """``P(rating_a − rating_b > threshold)`` (Elo points); ``prob == prob_above(0)``.

        Bootstrap: the share of paired replicate differences above ``threshold`` (equal ones
        count half; ±inf counts as the extreme it is). Sandwich: ``Φ((difference −
        threshold) / se)``.
        """
        if not self.determined:
            return float("nan")
        return _exceed(self.draws, self.difference, self.se, float(threshold))

    def bound(self, level: float, side: str = "lower") -> float:
        """One-sided bound of the difference at ``level``: the ``1 − level`` (``side="lower"``)
        or ``level`` (``"upper"``) quantile of the replicate differences, or
        ``difference ∓ z_level · se``."""
        if side not in ("lower", "upper"):
            raise ValidationError(f"side must be 'lower' or 'upper'; got {side!r}")
        check_level(level)
        if not self.determined:
            return float("nan")
        q = 1.0 - float(level) if side == "lower" else float(level)
        if self.draws is not None:
            lo, _ = percentile_bounds(self.draws[:, None], 2.0 * q)
            return float(lo[0])
        return float(self.difference + ndtri(q) * self.se)


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
    pair_battles : DataFrame or None
        Battles between each two models, shape (M, M), symmetric.
    """

    table: pd.DataFrame
    info: FitInfo
    replicates: pd.DataFrame | None = field(default=None, repr=False)
    covariance: pd.DataFrame | None = field(default=None, repr=False)
    style: pd.DataFrame | None = field(default=None, repr=False)
    style_replicates: pd.DataFrame | None = field(default=None, repr=False)
    position: pd.Series | None = field(default=None, repr=False)
    position_bias: PositionBias | None = field(default=None, repr=False)
    pair_battles: pd.DataFrame | None = field(default=None, repr=False)

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
                   position=position, position_bias=pb, pair_battles=result.pair_battles)

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

    # ------------------------------------------------------------------ comparisons
    def compare(self, a: str, b: str, *, level: float | None = None) -> RatingDifference:
        """How much better ``a`` is rated than ``b``, and how sure the board is of it.

        Bootstrap boards compare the two models *paired*, replicate by replicate (the same
        resample for both, so their shared battles and opponents cancel): the difference is
        ``rep_a − rep_b`` in every replicate where both are present (a replicate without one
        of them does not count); a model that scored (conceded) nothing in a replicate has
        the rating −∞ (+∞) there, which counts as the extreme it is. Sandwich boards use the
        normal approximation with variance ``var_a + var_b − 2 cov_ab``.

        Parameters
        ----------
        a, b : str
            Two different models of the board.
        level : float, optional
            Level of the two-sided interval; default ``info.level``.

        Returns
        -------
        RatingDifference

        Raises
        ------
        ValidationError
            Unknown model names, ``a == b``, or a board without intervals (``ci="none"``).
        """
        lvl = self.info.level if level is None else check_level(level)
        a, b = self._model(a), self._model(b)
        if a == b:
            raise ValidationError(f"compare needs two different models; got {a!r} twice")
        if self.replicates is None and self.covariance is None:
            raise ValidationError(
                "this leaderboard has no intervals (ci='none'); rank with ci='bootstrap' or "
                "ci='sandwich' to compare models"
            )
        ridge = self.info.ridge_models
        note = "; ".join(f"{m}: {ridge[m]} (no finite maximum-likelihood rating)"
                         for m in (a, b) if m in ridge)
        known = not any(ridge.get(m) in _UNDETERMINED for m in (a, b))
        r_a, r_b = self.table.loc[[a, b], "rating"].to_numpy(dtype=float).tolist()
        diff = r_a - r_b
        pairs = self.pair_battles
        n_ab = int(pairs.loc[[a], [b]].to_numpy()[0, 0]) if pairs is not None else 0
        nan = float("nan")

        def result(lower: float = nan, upper: float = nan, prob: float = nan, se: float = nan,
                   n_replicates: int | None = None,
                   draws: np.ndarray | None = None) -> RatingDifference:
            return RatingDifference(
                a=a, b=b, rating_a=r_a, rating_b=r_b, difference=diff, lower=lower,
                upper=upper, level=lvl, prob=prob, se=se, n_battles=n_ab,
                method="bootstrap" if self.replicates is not None else "sandwich",
                n_replicates=n_replicates, note=note, draws=draws)

        if self.replicates is not None:
            ra = self.replicates[a].to_numpy(dtype=float)
            rb = self.replicates[b].to_numpy(dtype=float)
            with np.errstate(invalid="ignore"):
                d = ra - rb  # +inf − +inf (both unbeaten in a replicate) is NaN: no count
            d = d[~np.isnan(d)]
            if not known or d.size == 0:
                return result(n_replicates=int(d.size))
            lo, hi = percentile_bounds(d[:, None], 1.0 - lvl)
            fin = d[np.isfinite(d)]
            se = float(fin.std(ddof=1)) if fin.size > 1 else nan
            return result(float(lo[0]), float(hi[0]), _exceed(d, diff, se, 0.0), se,
                          int(d.size), d)
        assert self.covariance is not None
        cov = self.covariance
        if note:  # the sandwich of a ridge-held rating is not meaningful
            return result()
        v = cov.loc[[a, b], [a, b]].to_numpy(dtype=float)
        se = float(np.sqrt(max(v[0, 0] + v[1, 1] - 2.0 * v[0, 1], 0.0)))
        z = float(ndtri(0.5 + lvl / 2.0))
        return result(diff - z * se, diff + z * se, _exceed(None, diff, se, 0.0), se)

    def prob_better(self, a: str, b: str) -> float:
        """Probability that ``a`` is rated above ``b`` (paired bootstrap replicates or the
        sandwich); see :meth:`compare`. NaN when the battles do not determine it."""
        return self.compare(a, b).prob

    def _model(self, name: str) -> str:
        if name in self.table.index:
            return str(name)
        raise unknown_model(name, [str(m) for m in self.table.index], "on the leaderboard")

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
        note = f"\n\n{self.info.interval_label}; {self.info.n_battles} battles."
        if self.info.ridge_models:
            note += (f" {', '.join(self.info.ridge_models)}: no finite maximum-likelihood "
                     "rating (held finite only by the ridge), so the rating is not meaningful "
                     "and there is no rank.")
        if "note" in t.columns and (t["note"].str.contains("replicates")).any():
            note += (" 'winless (undefeated) in k of n replicates': the model scored (conceded)"
                     " nothing in k bootstrap replicates, where its rating is −∞ (+∞); an "
                     "interval bound of -inf (inf) says that this happened too often to ignore.")
        text = markdown_table(t) + note
        if self.position_bias is not None:
            text += "\n\nPosition bias:\n\n" + self.position_bias.to_markdown()
        if self.style is not None:
            text += "\n\nStyle coefficients (log-odds per standardised unit):\n\n"
            text += markdown_table(self.style.reset_index().round(4))
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


def unknown_model(name: str, models: list[str], where: str) -> ValidationError:
    """The error for a model name that is not ``where``, with the closest names."""
    from wizardarena.battles.checks import closest_names

    close = closest_names(str(name), models)
    hint = f"; the closest names are {close}" if close else f"; the models are {models[:20]}"
    return ValidationError(f"model {name!r} is not {where}{hint}")


def check_level(level: float) -> float:
    """``level`` as a float, or a ValidationError unless it is strictly between 0 and 1."""
    if not isinstance(level, (int, float, np.floating)) or not 0.0 < float(level) < 1.0:
        raise ValidationError(f"level must be strictly between 0 and 1; got {level!r}")
    return float(level)


def _exceed(draws: np.ndarray | None, diff: float, se: float, t: float) -> float:
    """``P(difference > t)``: the share of replicate differences above ``t`` (equal ones count
    half), or the normal ``Φ((diff − t) / se)``."""
    if draws is not None:
        return float(((draws > t).sum() + 0.5 * (draws == t).sum()) / draws.size)
    if se > 0:
        return float(ndtr((diff - t) / se))
    return float(0.5 + 0.5 * np.sign(diff - t))


def _py(v: Any) -> Any:
    if v is pd.NA:
        return None
    if isinstance(v, np.generic):
        return v.item()
    return v
