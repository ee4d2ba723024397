"""Reference leaderboards (LMSYS Chatbot Arena and others): the object and its readers.

:class:`Reference` holds one snapshot of a reference leaderboard: ratings, optional
intervals, where it came from and which snapshot was used. :func:`load_reference` reads

======================== ====================================================================
format                   what
======================== ====================================================================
``lmsys-history``        rating-history CSV ``key, Model, rating, ..., date`` (YYYYMMDD),
                         many dates; the snapshot at or before ``date`` is used (no CIs)
``arena-catalog``        LMArena catalog snapshots CSV(.gz) ``board, commit_date, commit,
                         category, model, rating, rating_q025, rating_q975`` (95% CIs)
``arena-catalog-json``   one catalog file ``{category: {model: {rating, rating_q025,
                         rating_q975}}}`` (what :func:`fetch_reference` downloads by default)
``lmsys-table``          the 2023 ``leaderboard_table_YYYYMMDD.csv`` (``Model``, ``Arena Elo
                         rating``; display names; ``-`` = not rated)
``arena-hard``           the official Arena-Hard-Auto leaderboard CSV ``model, score,
                         rating_q025, rating_q975[, CI, avg_tokens, date]`` (95% intervals)
``alpaca-eval``          the official AlpacaEval leaderboard CSVs (model names in the first,
                         unnamed column; ``win_rate, standard_error, ...,
                         length_controlled_winrate[, lc_standard_error]``)
``generic``              any table ``model, rating[, lower, upper]``, or any table at all
                         through ``columns={"model": ..., "rating": ..., ...}``
``leaderboard``          a :class:`~wizardarena.leaderboard.Leaderboard`
======================== ====================================================================

The readers (:func:`~wizardarena.agreement.readers.load_reference`,
:func:`~wizardarena.agreement.readers.fetch_reference`) live in
:mod:`wizardarena.agreement.readers`; this module holds the object and the table builder.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.exceptions import Param, ReferenceMatchError, ValidationError

__all__ = [
    "COLUMN_ROLES",
    "DEFAULT_REFERENCE_URL",
    "Reference",
    "ReferenceFormat",
    "reference_from_table",
]

#: what ``columns=`` of :func:`~wizardarena.agreement.load_reference` may name: the model,
#: its rating, interval bounds or a standard error, and another name of the model
COLUMN_ROLES: tuple[str, ...] = ("model", "rating", "lower", "upper", "se", "display_name")

#: the LMArena catalog's current text leaderboard (JSON, 95% CIs, many categories)
DEFAULT_REFERENCE_URL = (
    "https://raw.githubusercontent.com/lmarena/arena-catalog/main/data/leaderboard-text.json"
)



class ReferenceFormat(str, Enum):
    """Formats :func:`load_reference` reads (see the module docstring)."""

    LMSYS_HISTORY = "lmsys-history"
    ARENA_CATALOG = "arena-catalog"
    ARENA_CATALOG_JSON = "arena-catalog-json"
    LMSYS_TABLE = "lmsys-table"
    ARENA_HARD = "arena-hard"
    ALPACA_EVAL = "alpaca-eval"
    GENERIC = "generic"
    LEADERBOARD = "leaderboard"


@dataclass(frozen=True, eq=False)
class Reference:
    """One snapshot of a reference leaderboard.

    Attributes
    ----------
    table : DataFrame
        Indexed by reference model key (``model``), sorted best first, columns ``rating``,
        ``lower``, ``upper`` (NaN when the source has no intervals) and ``display_name``
        (another name of the model, or empty).
    source : str
        Path, URL or a description of the object it was read from.
    format : str
        One of :class:`ReferenceFormat`.
    date : str or None
        ISO date of the snapshot actually used.
    requested_date : str or None
        The ``date`` the caller asked for.
    category : str
        e.g. ``"full"``, ``"coding"``.
    board : str or None
        e.g. ``"leaderboard-text"`` for catalog snapshots.
    level : float or None
        Coverage of ``lower``/``upper`` (0.95 for LMArena), None without intervals.
    snapshot : str or None
        Commit id or file name identifying the snapshot.
    excluded : tuple of str
        Models listed by the source without a rating (e.g. ``-`` in 2023 tables).
    notes : tuple of str
        Anything the reader had to decide (duplicates collapsed, snapshot chosen, ...).
    """

    table: pd.DataFrame
    source: str
    format: str
    date: str | None = None
    requested_date: str | None = None
    category: str = "full"
    board: str | None = None
    level: float | None = None
    snapshot: str | None = None
    excluded: tuple[str, ...] = field(default=())
    notes: tuple[str, ...] = field(default=())

    @property
    def models(self) -> list[str]:
        """Model keys, best first."""
        return [str(m) for m in self.table.index]

    @property
    def ratings(self) -> pd.Series:
        return self.table["rating"]

    @property
    def has_intervals(self) -> bool:
        """Whether every model has finite ``lower`` and ``upper``."""
        t = self.table
        return bool(len(t)) and bool(np.isfinite(t[["lower", "upper"]].to_numpy()).all())

    def names(self) -> dict[str, tuple[str, ...]]:
        """``{key: (display name,)}`` for :func:`~wizardarena.agreement.match_models`."""
        out: dict[str, tuple[str, ...]] = {}
        for key, disp in self.table["display_name"].items():
            out[str(key)] = (str(disp),) if isinstance(disp, str) and disp else ()
        return out

    def describe(self) -> str:
        """One line: what, which snapshot, how many models, intervals or not."""
        parts = [self.format]
        if self.board:
            parts.append(self.board)
        parts.append(f"category {self.category}")
        if self.date:
            when = f"snapshot {self.date}"
            if self.requested_date and self.requested_date != self.date:
                when += f" (requested {self.requested_date})"
            parts.append(when)
        if self.snapshot and self.snapshot != self.source.rsplit("/", 1)[-1]:
            snap = str(self.snapshot)
            parts.append(snap[:12] if re.fullmatch(r"[0-9a-f]{40}", snap) else snap)
        parts.append(f"{len(self.table)} models")
        parts.append(
            f"{100 * self.level:g}% intervals" if self.has_intervals and self.level else
            ("intervals" if self.has_intervals else "no intervals")
        )
        return f"{self.source}: " + ", ".join(parts)

    def __repr__(self) -> str:
        return f"Reference({self.describe()})"


# ----------------------------------------------------------------------------- helpers
def iso_date(date: Any, arg: str = "date") -> str | None:
    """``date`` (a date, ``2024-07-16``, ``20240716``) as ISO text; ``arg`` names it in errors."""
    if date is None:
        return None
    if isinstance(date, (dt.date, dt.datetime, pd.Timestamp)):
        return pd.Timestamp(date).date().isoformat()
    s = str(date).strip()
    for fmt in ("%Y-%m-%d", "%Y%m%d"):
        try:
            return dt.datetime.strptime(s, fmt).date().isoformat()
        except ValueError:
            pass
    raise ValidationError(f"{arg} must be a date like 2024-07-16 or 20240716; got {date!r}")


def reference_from_table(
    frame: pd.DataFrame,
    *,
    source: str = "<table>",
    format: str = ReferenceFormat.GENERIC.value,
    model: str = "model",
    rating: str = "rating",
    lower: str | None = "lower",
    upper: str | None = "upper",
    display_name: str | None = None,
    level: float | None = None,
    se: str | None = None,
    **meta: Any,
) -> Reference:
    """Build a :class:`Reference` from a table ``model, rating[, lower, upper]``.

    Parameters
    ----------
    frame : DataFrame
        One row per model. The model may be a column or the index (named ``model``).
    model, rating, lower, upper, display_name : str
        Column names; ``lower``/``upper`` are used only if present, and must then be
        present for every model.
    level : float, optional
        Coverage of the intervals, if known.
    se : str, optional
        A standard-error column instead of ``lower``/``upper``: the intervals are
        ``rating ± z·se`` at ``level`` (default 0.95), the normal approximation.
    **meta
        Other :class:`Reference` fields (``date``, ``category``, ...).

    Raises
    ------
    ValidationError
        Missing columns, duplicated models, non-numeric or non-finite ratings, partial
        intervals, or ``lower > rating`` / ``rating > upper``.
    """
    df = frame
    if model not in df.columns and df.index.name == model:
        df = df.reset_index()
    if model not in df.columns or rating not in df.columns:
        raise ValidationError(
            f"a reference table needs columns {model!r} and {rating!r}; got "
            f"{list(map(str, df.columns))}; name them with ",
            Param("columns", "{'model': ..., 'rating': ...}", cli="model=...,rating=..."),
        )
    if se is not None:
        from scipy.special import ndtri

        if se not in df.columns:
            raise ValidationError(f"reference has no standard-error column {se!r}")
        level = 0.95 if level is None else float(level)
        z = float(ndtri(0.5 + level / 2))
        err = pd.to_numeric(df[se], errors="coerce")
        centre = pd.to_numeric(df[rating], errors="coerce")
        df = df.assign(_lower=centre - z * err, _upper=centre + z * err)
        lower, upper = "_lower", "_upper"
    names = df[model].astype(str).str.strip()
    dup = names[names.duplicated()].unique().tolist()
    if dup:
        raise ValidationError(f"reference column {model!r} has duplicated models: {dup[:5]}")
    values = pd.to_numeric(df[rating], errors="coerce")
    bad = np.flatnonzero(~np.isfinite(values.to_numpy(dtype=float)))
    if bad.size:
        raise ValidationError(
            f"reference column {rating!r} must be finite numbers; rows {bad[:5].tolist()} have "
            f"{df[rating].iloc[bad[:5]].tolist()}"
        )
    out = pd.DataFrame(
        {"rating": values.to_numpy(dtype=float)}, index=pd.Index(names, name="model")
    )
    have = [c for c in (lower, upper) if c is not None and c in df.columns]
    if len(have) == 1:
        raise ValidationError(f"reference has {have[0]!r} but not the other interval bound")
    if len(have) == 2:
        lo = pd.to_numeric(df[lower], errors="coerce").to_numpy(dtype=float)
        up = pd.to_numeric(df[upper], errors="coerce").to_numpy(dtype=float)
        miss = np.flatnonzero(~(np.isfinite(lo) & np.isfinite(up)))
        if miss.size and miss.size < len(df):
            raise ValidationError(
                f"reference intervals must be given for every model or none; missing for "
                f"{names.iloc[miss[:5]].tolist()}"
            )
        if miss.size == 0:
            r = out["rating"].to_numpy()
            wrong = np.flatnonzero((lo > r + 1e-9) | (r > up + 1e-9))
            if wrong.size:
                raise ValidationError(
                    f"reference needs lower <= rating <= upper; violated for "
                    f"{names.iloc[wrong[:5]].tolist()}"
                )
        out["lower"], out["upper"] = lo, up
    else:
        out["lower"], out["upper"] = np.nan, np.nan
    disp = df[display_name].astype(str).to_numpy() if display_name else ""
    out["display_name"] = disp
    out = out.sort_values("rating", ascending=False, kind="mergesort")
    if len(out) == 0:
        raise ValidationError("the reference has no rated models")
    meta.setdefault("level", level if len(have) == 2 and out["lower"].notna().all() else None)
    return Reference(table=out, source=source, format=format, **meta)


def detect_format(df: pd.DataFrame) -> ReferenceFormat:
    """The reference format a table is in, told from its columns."""
    cols = set(df.columns)
    if {"board", "commit_date", "category", "model", "rating", "rating_q025"} <= cols:
        return ReferenceFormat.ARENA_CATALOG
    if {"key", "rating", "date"} <= cols:
        return ReferenceFormat.LMSYS_HISTORY
    if {"Model", "Arena Elo rating"} <= cols:
        return ReferenceFormat.LMSYS_TABLE
    if {"model", "score", "rating_q025", "rating_q975"} <= cols:
        return ReferenceFormat.ARENA_HARD
    if {"win_rate", "standard_error", "n_total"} <= cols:
        return ReferenceFormat.ALPACA_EVAL
    if {"model", "rating"} <= cols or (df.index.name == "model" and "rating" in cols):
        return ReferenceFormat.GENERIC
    raise ReferenceMatchError(
        "cannot tell the reference format from its columns "
        f"{sorted(map(str, cols))}; expected one of: key/rating/date (lmsys-history), "
        "board/commit_date/category/model/rating/rating_q025 (arena-catalog), Model/'Arena Elo "
        "rating' (lmsys-table), model/score/rating_q025/rating_q975 (arena-hard), "
        "win_rate/standard_error/n_total (alpaca-eval), model/rating (generic); name the "
        "columns of any other table with ",
        Param("columns", "{'model': 'Model', 'rating': 'score'}", cli="model=Model,rating=score"),
        " or pass ", Param("format", "..."),
    )


def reference_format(fmt: str | ReferenceFormat | None) -> ReferenceFormat | None:
    """``format=`` parsed into a :class:`ReferenceFormat` (None: detect it)."""
    if fmt is None:
        return None
    try:
        return ReferenceFormat(fmt)
    except ValueError:
        raise ValidationError(
            Param("format"), f" must be one of {[f.value for f in ReferenceFormat]}; got {fmt!r}"
        ) from None


def check_category(category: str, allowed: list[str], what: str) -> None:
    """Raise unless ``category`` is one of ``allowed`` (the categories of ``what``)."""
    if category not in allowed:
        raise ReferenceMatchError(
            Param("category", repr(category)), f" is not in {what}; available: "
            f"{sorted(allowed)[:40]}"
        )
