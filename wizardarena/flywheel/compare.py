"""Rating change between two leaderboards (the flywheel's progress report)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wizardarena._markdown import markdown_table
from wizardarena.exceptions import DataWarning, ValidationError
from wizardarena.leaderboard import Leaderboard

__all__ = ["Comparison", "compare"]


@dataclass(frozen=True)
class Comparison:
    """Rating changes between two leaderboards.

    Attributes
    ----------
    table : DataFrame, indexed by model (the ``before`` name)
        ``rating_before``, ``lower_before``, ``upper_before``, ``rating_after``,
        ``lower_after``, ``upper_after``, ``change``, ``change_lower``, ``change_upper``
        (interval of the change at ``level``), ``significant`` (the change interval
        excludes 0), ``rank_before``, ``rank_after``.
    level : float
    method : str
        ``"bootstrap"`` (differences of independent replicates of the two boards) or
        ``"normal"`` (standard errors read off the intervals, independent boards).
    """

    table: pd.DataFrame
    level: float
    method: str

    def to_markdown(self) -> str:
        return markdown_table(self.table.round(1).reset_index(), float_format=".3g")


def compare(
    before: Leaderboard,
    after: Leaderboard,
    *,
    models: Sequence[str] | None = None,
    rename: Mapping[str, str] | None = None,
    level: float | None = None,
) -> Comparison:
    """How each model's rating moved from one leaderboard to the next, with intervals.

    The flywheel's progress report (Arena Learning's 871 → 1214 → 1246 → 1274). The two
    boards are independent fits, so the change's interval comes from the difference of
    their bootstrap replicates (both boards bootstrapped) or, failing that, from normal
    standard errors ``(upper − lower) / (2 z)``. Ratings are only comparable when both
    boards share a scale: pin an anchor model in both, or keep the same model set.

    Parameters
    ----------
    before, after : Leaderboard
    models : list of str, optional
        Models to report (``before`` names); default all models on both boards.
    rename : mapping, optional
        ``{after_name: before_name}``, e.g. ``{"my-model-v2": "my-model-v1"}``.
    level : float, optional
        Interval level; default ``after.info.level``.

    Returns
    -------
    Comparison
    """
    from scipy.stats import norm

    if not isinstance(before, Leaderboard) or not isinstance(after, Leaderboard):
        raise ValidationError(
            "compare needs two Leaderboard objects; got "
            f"{type(before).__name__} and {type(after).__name__}")
    lvl = float(after.info.level if level is None else level)
    if not 0.0 < lvl < 1.0:
        raise ValidationError(f"level must be strictly between 0 and 1; got {level!r}")
    ren = dict(rename or {})
    a_tab = after.table.rename(index=ren)
    common = [m for m in before.table.index if m in a_tab.index]
    if models is None:
        wanted = common
    else:
        wanted = list(models)
        absent = [m for m in wanted if m not in common]
        if absent:
            raise ValidationError(
                f"models {absent} are not on both leaderboards (after renaming {ren}); "
                f"shared models: {common[:20]}")
    if not wanted:
        raise ValidationError("the two leaderboards share no model (use rename=)")
    if before.info.anchor is None and after.info.anchor is None and (
            set(before.table.index) != set(a_tab.index)):
        warnings.warn(
            "the two leaderboards are mean-centred over different model sets, so their "
            "ratings are on different scales; pin the same anchor model in both",
            DataWarning, stacklevel=2)
    b_t, a_t = before.table.loc[wanted], a_tab.loc[wanted]
    change = a_t["rating"] - b_t["rating"]
    alpha = 1.0 - lvl
    b_rep, a_rep = before.replicates, after.replicates
    if b_rep is not None and a_rep is not None:
        inv = {v: k for k, v in ren.items()}
        after_names = [inv.get(m, m) for m in wanted]
        n = min(len(b_rep), len(a_rep))
        diff = a_rep[after_names].to_numpy()[:n] - b_rep[wanted].to_numpy()[:n]
        lo = np.nanquantile(diff, alpha / 2, axis=0)
        hi = np.nanquantile(diff, 1 - alpha / 2, axis=0)
        method = "bootstrap"
    else:
        z_own = float(norm.ppf(1 - (1 - before.info.level) / 2))
        z_aft = float(norm.ppf(1 - (1 - after.info.level) / 2))
        se_b = (b_t["upper"] - b_t["lower"]).to_numpy() / (2 * z_own)
        se_a = (a_t["upper"] - a_t["lower"]).to_numpy() / (2 * z_aft)
        half = float(norm.ppf(1 - alpha / 2)) * np.sqrt(se_b**2 + se_a**2)
        lo, hi = change.to_numpy() - half, change.to_numpy() + half
        method = "normal"
    table = pd.DataFrame({
        "rating_before": b_t["rating"], "lower_before": b_t["lower"],
        "upper_before": b_t["upper"], "rating_after": a_t["rating"],
        "lower_after": a_t["lower"], "upper_after": a_t["upper"], "change": change,
        "change_lower": lo, "change_upper": hi,
        "significant": (np.asarray(lo) > 0) | (np.asarray(hi) < 0),
        "rank_before": b_t["rank"], "rank_after": a_t["rank"],
    }, index=pd.Index(wanted, name="model"))
    return Comparison(table=table, level=lvl, method=method)
