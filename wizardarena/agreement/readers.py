"""Readers of reference leaderboards: :func:`load_reference` (files, tables, Leaderboards)
and :func:`fetch_reference` (HTTP).
Formats: see :mod:`wizardarena.agreement.reference`.

Parsing a table already in memory is pure; reading a path or a URL is the only I/O here.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.agreement.reference import (
    COLUMN_ROLES,
    DEFAULT_REFERENCE_URL,
    Reference,
    ReferenceFormat,
    check_category,
    detect_format,
    iso_date,
    reference_format,
    reference_from_table,
)
from wizardarena.exceptions import (
    Param,
    ReferenceFetchError,
    ReferenceMatchError,
    ValidationError,
)
from wizardarena.leaderboard import Leaderboard

__all__ = ["fetch_reference", "load_reference"]

ReferenceSource = str | os.PathLike | pd.DataFrame | Leaderboard | dict


# ----------------------------------------------------------------------------- parsers
def _from_history(
    df: pd.DataFrame, *, date: str | None, category: str, source: str
) -> Reference:
    check_category(category, ["full"], "the rating history (it has only 'full')")
    dates = pd.to_numeric(df["date"], errors="coerce")
    if dates.isna().any():
        rows = np.flatnonzero(dates.isna().to_numpy())[:5].tolist()
        raise ValidationError(f"column 'date' must be YYYYMMDD; rows {rows} are not")
    iso = pd.Series([iso_date(str(int(d)), "date column") for d in dates], index=df.index)
    available = sorted(set(iso))
    if date is None:
        chosen = available[-1]
    else:
        before = [d for d in available if d <= date]
        if not before:
            raise ReferenceMatchError(
                f"the rating history starts on {available[0]}; no snapshot at or before {date}"
            )
        chosen = before[-1]
    snap = df[(iso == chosen).to_numpy()]
    notes = [f"snapshot {chosen} used (of {len(available)} dates in the history)"]
    dup = snap[snap.duplicated("key", keep=False)]
    if len(dup):
        same = dup.groupby("key")["rating"].nunique()
        conflict = same[same > 1].index.tolist()
        if conflict:
            raise ValidationError(
                f"the history lists models {conflict[:5]} twice on {chosen} with different "
                "ratings"
            )
        notes.append(f"identical duplicate rows collapsed: {sorted(set(dup['key']))}")
        snap = snap.drop_duplicates("key")
    return _lmsys_board(snap, ReferenceFormat.LMSYS_HISTORY, model="key", source=source,
                        date=chosen, requested_date=date,
                        display_name="Model" if "Model" in snap.columns else None,
                        notes=tuple(notes))


def _from_catalog(
    df: pd.DataFrame,
    *,
    date: str | None,
    board: str,
    category: str,
    commit: str | None,
    source: str,
) -> Reference:
    boards = sorted(df["board"].astype(str).unique())
    if board not in boards:
        raise ReferenceMatchError(
            Param("board", repr(board)), f" is not in the snapshots; available: {boards}"
        )
    df = df[df["board"] == board]
    cdates = df["commit_date"].map(lambda d: iso_date(d, "commit_date"))
    notes: list[str] = []
    if commit is not None:
        mask = df["commit"].astype(str).str.startswith(str(commit))
        found = sorted(df.loc[mask, "commit"].astype(str).unique())
        if len(found) != 1:
            raise ReferenceMatchError(
                f"commit {commit!r} matches {len(found)} snapshots of {board!r}: {found[:5]}"
            )
        snap = df[mask]
        chosen = str(cdates[mask].iloc[0])
        if date is not None and chosen > date:
            raise ReferenceMatchError(f"commit {commit!r} is dated {chosen}, after date={date}")
    else:
        available = sorted(set(cdates))
        before = [d for d in available if date is None or d <= date]
        if not before:
            raise ReferenceMatchError(
                f"the snapshots of {board!r} start on {available[0]}; none at or before {date}"
            )
        chosen = before[-1]
        snap = df[(cdates == chosen).to_numpy()]
        commits = list(dict.fromkeys(snap["commit"].astype(str)))
        if len(commits) > 1:
            tables = [
                snap[(snap["commit"] == c) & (snap["category"] == category)]
                .sort_values("model")[["model", "rating", "rating_q025", "rating_q975"]]
                .reset_index(drop=True)
                for c in commits
            ]
            if any(not t.equals(tables[0]) for t in tables[1:]):
                raise ReferenceMatchError(
                    f"{len(commits)} different snapshots of {board!r} are dated {chosen}: "
                    f"{[c[:12] for c in commits]}; pass ", Param("commit", repr(commits[0][:12])),
                    " (or another of them) to choose one",
                )
            notes.append(
                f"{len(commits)} identical snapshots dated {chosen}; used {commits[0][:12]}"
            )
            snap = snap[snap["commit"] == commits[0]]
        notes.insert(0, f"snapshot {chosen} used (of {len(available)} dates for {board})")
    cats = sorted(snap["category"].astype(str).unique())
    check_category(category, cats, f"snapshot {chosen} of {board!r}")
    snap = snap[snap["category"] == category]
    return reference_from_table(
        snap,
        source=source,
        format=ReferenceFormat.ARENA_CATALOG.value,
        lower="rating_q025",
        upper="rating_q975",
        level=0.95,
        date=chosen,
        requested_date=date,
        category=category,
        board=board,
        snapshot=str(snap["commit"].iloc[0]) if len(snap) else None,
        notes=tuple(notes),
    )


def _from_catalog_json(
    data: dict[str, Any], *, category: str, board: str | None, source: str,
    date: str | None,
) -> Reference:
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ReferenceMatchError(
            "an arena-catalog JSON must map category -> {model: {rating, rating_q025, "
            "rating_q975}}"
        )
    check_category(category, list(data), "the catalog file")
    rows = []
    for model, rec in data[category].items():
        if not isinstance(rec, dict) or "rating" not in rec:
            raise ValidationError(f"catalog entry for {model!r} has no 'rating': {rec!r}")
        rows.append(
            {
                "model": model,
                "rating": rec.get("rating"),
                "lower": rec.get("rating_q025", np.nan),
                "upper": rec.get("rating_q975", np.nan),
            }
        )
    frame = pd.DataFrame(rows, columns=["model", "rating", "lower", "upper"])
    notes = ("the catalog file carries no date; 'date' is when it was read",) if date else ()
    return reference_from_table(
        frame,
        source=source,
        format=ReferenceFormat.ARENA_CATALOG_JSON.value,
        level=0.95,
        category=category,
        board=board,
        date=date,
        notes=notes,
    )


def _from_lmsys_table(
    df: pd.DataFrame, *, date: str | None, category: str, source: str
) -> Reference:
    check_category(category, ["full"], "a 2023 leaderboard table (it has only 'full')")
    m = re.search(r"(\d{8})", Path(source).name)
    file_date = iso_date(m.group(1)) if m else None
    if date is not None and file_date is not None and file_date > date:
        raise ReferenceMatchError(
            f"{Path(source).name} is dated {file_date}, after the requested date {date}"
        )
    raw = df["Arena Elo rating"].astype(str).str.strip()
    rated = pd.to_numeric(raw, errors="coerce")
    unrated = df.loc[rated.isna(), "Model"].astype(str).tolist()
    bad = raw[rated.isna() & ~raw.isin(["-", "", "nan", "None"])]
    if len(bad):
        raise ValidationError(
            f"column 'Arena Elo rating' must be numbers or '-'; rows {bad.index[:5].tolist()} "
            f"have {bad.head().tolist()}"
        )
    table = df.loc[rated.notna()].assign(rating=rated[rated.notna()])
    notes = (
        (f"{len(unrated)} models listed without an Arena rating are excluded",) if unrated else ()
    )
    return _lmsys_board(table, ReferenceFormat.LMSYS_TABLE, model="Model", source=source,
                        date=file_date, requested_date=date, snapshot=Path(source).name,
                        excluded=tuple(unrated), notes=notes)


def _lmsys_board(table: pd.DataFrame, format: ReferenceFormat, *, model: str, source: str,
                 display_name: str | None = None, **meta: Any) -> Reference:
    """An LMSYS leaderboard: ratings without intervals, the category ``full``."""
    return reference_from_table(table, source=source, format=format.value, model=model,
                                lower=None, upper=None, display_name=display_name,
                                category="full", **meta)


def _from_arena_hard(
    df: pd.DataFrame, *, date: str | None, category: str, source: str
) -> Reference:
    """The official Arena-Hard-Auto leaderboard: score (win rate against the baseline, in %)
    with its 95% bootstrap interval ``rating_q025``..``rating_q975``."""
    check_category(category, ["full"], "an Arena-Hard leaderboard (it has only 'full')")
    board_date = None
    if "date" in df.columns:
        dates = sorted({str(d) for d in df["date"].dropna()})
        board_date = iso_date(dates[-1], "date column") if dates else None
    if date is not None and board_date is not None and board_date > date:
        raise ReferenceMatchError(
            f"the Arena-Hard leaderboard is dated {board_date}, after the requested date {date}"
        )
    return reference_from_table(
        df, source=source, format=ReferenceFormat.ARENA_HARD.value, model="model",
        rating="score", lower="rating_q025", upper="rating_q975", level=0.95,
        date=board_date, requested_date=date, category="full",
        notes=("rating = Arena-Hard score (win rate in % against the baseline), 95% intervals",),
    )


def _from_alpaca_eval(
    df: pd.DataFrame, *, date: str | None, category: str, source: str
) -> Reference:
    """The official AlpacaEval leaderboards: the length-controlled win rate when every model
    has one (AlpacaEval 2.0's headline metric), else the raw win rate (AlpacaEval 1.0)."""
    check_category(category, ["full"], "an AlpacaEval leaderboard (it has only 'full')")
    first = str(df.columns[0])
    model = "model" if "model" in df.columns else ("name" if "name" in df.columns else first)
    if model == first and not (first.startswith("Unnamed") or first in ("", "index")):
        raise ValidationError(
            f"an AlpacaEval leaderboard has the model names in its first, unnamed column; "
            f"got {first!r}; name the columns with ",
            Param("columns", "{'model': ..., 'rating': 'win_rate', 'se': 'standard_error'}",
                  cli="model=...,rating=win_rate,se=standard_error"),
        )
    notes: list[str] = []
    nan = pd.Series(np.nan, index=df.index)
    lc = pd.to_numeric(df.get("length_controlled_winrate", nan), errors="coerce")
    if "length_controlled_winrate" in df.columns and lc.notna().all():
        rating = "length_controlled_winrate"
        lc_se = pd.to_numeric(df.get("lc_standard_error", nan), errors="coerce")
        se = "lc_standard_error" if lc_se.notna().all() and len(lc_se) else None
        notes.append("rating = length-controlled win rate in % (AlpacaEval 2.0)")
        if se is None:
            missing = int(lc_se.isna().sum()) if "lc_standard_error" in df.columns else len(df)
            notes.append(
                f"no intervals: lc_standard_error is missing for {missing} of {len(df)} models"
            )
    else:
        rating, se = "win_rate", "standard_error"
        why = ("" if "length_controlled_winrate" not in df.columns else
               f" (the length-controlled win rate is missing for {int(lc.isna().sum())} models)")
        notes.append(f"rating = win rate in %{why}")
    if se is not None:
        notes.append(f"95% intervals = rating ± 1.96 · {se} (normal approximation)")
    return reference_from_table(
        df, source=source, format=ReferenceFormat.ALPACA_EVAL.value, model=model,
        rating=rating, lower=None, upper=None, se=se, level=0.95 if se else None,
        requested_date=date, category="full", notes=tuple(notes),
    )


def _from_columns(
    df: pd.DataFrame, columns: Mapping[str, str], *, date: str | None, category: str,
    source: str,
) -> Reference:
    """Any table, its columns named by ``columns`` (roles in :data:`COLUMN_ROLES`)."""
    roles = dict(columns)
    unknown = sorted(set(roles) - set(COLUMN_ROLES))
    if unknown:
        raise ValidationError(
            Param("columns"), f" names roles {list(COLUMN_ROLES)}; got unknown {unknown}"
        )
    for need in ("model", "rating"):
        if need not in roles:
            raise ValidationError(
                Param("columns"), f" must name the {need!r} column; got {roles}"
            )
    present = [str(c) for c in df.columns]
    absent = {role: col for role, col in roles.items() if col not in present}
    if absent and not (set(absent) == {"model"} and df.index.name == roles["model"]):
        raise ValidationError(
            Param("columns"), f" names columns the table does not have: {absent}; its "
            f"columns are {present}"
        )
    if ("lower" in roles) != ("upper" in roles):
        raise ValidationError(
            Param("columns"), " must name both 'lower' and 'upper' (or 'se'), not one"
        )
    if "se" in roles and "lower" in roles:
        raise ValidationError(
            Param("columns"), " takes 'lower'/'upper' or 'se', not both"
        )
    return reference_from_table(
        df, source=source, format=ReferenceFormat.GENERIC.value, model=roles["model"],
        rating=roles["rating"], lower=roles.get("lower"), upper=roles.get("upper"),
        se=roles.get("se"), display_name=roles.get("display_name"), category=category,
        date=date, notes=(f"columns {roles}",),
    )


def _from_leaderboard(board: Leaderboard, *, source: str) -> Reference:
    t = board.table
    frame = pd.DataFrame(
        {
            "model": t.index.astype(str),
            "rating": t["rating"],
            "lower": t["lower"],
            "upper": t["upper"],
        }
    )
    has_ci = bool(np.isfinite(frame[["lower", "upper"]].to_numpy()).all())
    return reference_from_table(
        frame.reset_index(drop=True),
        source=source,
        format=ReferenceFormat.LEADERBOARD.value,
        level=board.info.level if has_ci else None,
        notes=(f"{board.info.method}, {board.info.interval_label}",),
    )


def _parse(
    obj: pd.DataFrame | dict[str, Any],
    *,
    fmt: ReferenceFormat | None,
    date: str | None,
    board: str,
    category: str,
    commit: str | None,
    source: str,
    columns: Mapping[str, str] | None = None,
) -> Reference:
    if columns is not None:
        if isinstance(obj, dict):
            raise ValidationError(Param("columns"), " applies to tables, not a JSON mapping")
        if fmt not in (None, ReferenceFormat.GENERIC):
            raise ValidationError(
                Param("columns"), f" describes a generic table; it cannot be combined with "
                f"format {fmt.value!r}"
            )
        return _from_columns(obj, columns, date=date, category=category, source=source)
    if isinstance(obj, dict):
        if fmt not in (None, ReferenceFormat.ARENA_CATALOG_JSON):
            raise ValidationError(
                f"a JSON mapping can only be format 'arena-catalog-json'; got {fmt}"
            )
        return _from_catalog_json(obj, category=category, board=board, source=source, date=date)
    fmt = fmt or detect_format(obj)
    if fmt is ReferenceFormat.LMSYS_HISTORY:
        return _from_history(obj, date=date, category=category, source=source)
    if fmt is ReferenceFormat.ARENA_CATALOG:
        return _from_catalog(
            obj, date=date, board=board, category=category, commit=commit, source=source
        )
    if fmt is ReferenceFormat.LMSYS_TABLE:
        return _from_lmsys_table(obj, date=date, category=category, source=source)
    if fmt is ReferenceFormat.ARENA_HARD:
        return _from_arena_hard(obj, date=date, category=category, source=source)
    if fmt is ReferenceFormat.ALPACA_EVAL:
        return _from_alpaca_eval(obj, date=date, category=category, source=source)
    if fmt is ReferenceFormat.GENERIC:
        return reference_from_table(
            obj, source=source, category=category, date=date,
            display_name="display_name" if "display_name" in obj.columns else None,
        )
    raise ValidationError(f"format {fmt.value!r} cannot be read from a table")


# ----------------------------------------------------------------------------- public I/O
def load_reference(
    source: ReferenceSource,
    *,
    date: str | dt.date | None = None,
    board: str = "leaderboard-text",
    category: str = "full",
    commit: str | None = None,
    format: str | ReferenceFormat | None = None,
    columns: Mapping[str, str] | None = None,
) -> Reference:
    """Read a reference leaderboard (see the module docstring for the formats).

    Parameters
    ----------
    source : path, DataFrame, dict or Leaderboard
        A ``.csv``/``.csv.gz``/``.json``/``.parquet`` file, a table already in memory, an
        arena-catalog JSON mapping, or one of our leaderboards (e.g. a human-crowd board).
    date : str or date, optional
        Use the latest snapshot at or before this date (``2024-07-16`` or ``20240716``);
        default the latest. The date used is in ``reference.date`` and ``reference.notes``.
    board : str, default "leaderboard-text"
        Catalog board (``leaderboard-text`` or ``leaderboard-text-style-control``).
    category : str, default "full"
        Catalog category (``full``, ``coding``, ``hard_6``, ``english``, ...).
    commit : str, optional
        Catalog commit (prefix) when several snapshots share a date.
    format : str, optional
        One of :class:`ReferenceFormat`; by default recognised from the columns.
    columns : mapping, optional
        Read any table: ``{"model": "Model", "rating": "score"}`` plus optionally
        ``"lower"`` and ``"upper"`` (interval bounds), or ``"se"`` (a standard error: 95%
        intervals ``rating ± 1.96·se``), and ``"display_name"`` (another name of each model,
        used in matching). The other columns are ignored.

    Returns
    -------
    Reference

    Raises
    ------
    ReferenceMatchError
        Unknown format, no snapshot at or before ``date``, unknown board or category,
        ambiguous snapshot.
    ValidationError
        Malformed values (duplicated models, non-numeric ratings, partial intervals),
        ``columns`` naming columns the table does not have.

    Examples
    --------
    >>> ref = load_reference("../shared/data/lmsys/elo_history_alltime.csv",
    ...                      date="2024-07-16")          # doctest: +SKIP
    >>> ref.date                                           # doctest: +SKIP
    '2024-07-16'
    >>> load_reference("../shared/data/arena_hard/arena_hard_leaderboard_20240731.csv",
    ...                columns={"model": "model", "rating": "avg_tokens"})  # doctest: +SKIP
    """
    fmt = reference_format(format)
    req = iso_date(date)
    if isinstance(source, Leaderboard):
        return _from_leaderboard(source, source="<Leaderboard>")
    if isinstance(source, pd.DataFrame):
        return _parse(source, fmt=fmt, date=req, board=board, category=category,
                      commit=commit, source="<DataFrame>", columns=columns)
    if isinstance(source, dict):
        return _parse(source, fmt=fmt, date=req, board=board, category=category,
                      commit=commit, source="<dict>", columns=columns)
    if not isinstance(source, (str, os.PathLike)):
        raise ValidationError(
            "source must be a path, DataFrame, dict or Leaderboard; got "
            f"{type(source).__name__}"
        )
    path = Path(source)
    if not path.is_file():
        raise ReferenceMatchError(f"reference file {str(path)!r} does not exist")
    return _parse(_decode(path.read_bytes(), name=path.name, fmt=fmt, source=str(path)),
                  fmt=fmt, date=req, board=board, category=category, commit=commit,
                  source=str(path), columns=columns)


def _decode(data: bytes, *, name: str, fmt: ReferenceFormat | None, source: str,
            content_type: str = "") -> pd.DataFrame | dict[str, Any]:
    """The table (or JSON object) of a reference file's bytes: gzip undone, then Parquet,
    JSON or CSV by name, content type or magic bytes."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
        name = name.removesuffix(".gz")
    lower = name.lower()
    is_json = (
        fmt is ReferenceFormat.ARENA_CATALOG_JSON
        or lower.endswith(".json")
        or "json" in content_type
    )
    if lower.endswith(".parquet") or data[:4] == b"PAR1":
        obj: pd.DataFrame | dict[str, Any] = pd.read_parquet(io.BytesIO(data))
    elif is_json:
        try:
            obj = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ReferenceMatchError(f"{source} is not valid JSON: {exc}") from None
        if isinstance(obj, list):
            obj = pd.DataFrame(obj)
    else:
        try:
            obj = pd.read_csv(io.BytesIO(data))
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise ReferenceMatchError(f"{source} is not a readable CSV: {exc}") from None
    return obj


def fetch_reference(
    url: str = DEFAULT_REFERENCE_URL,
    *,
    date: str | dt.date | None = None,
    board: str = "leaderboard-text",
    category: str = "full",
    commit: str | None = None,
    format: str | ReferenceFormat | None = None,
    columns: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    headers: dict[str, str] | None = None,
) -> Reference:
    """Download a reference leaderboard over HTTP(S) and read it like :func:`load_reference`.

    Parameters
    ----------
    url : str, default :data:`DEFAULT_REFERENCE_URL`
        Any URL serving one of the formats (JSON catalog file, CSV, CSV.gz, Parquet).
    date, board, category, commit, format, columns
        As in :func:`load_reference`. For a single catalog JSON file ``date`` is only
        recorded (the file is the current snapshot).
    timeout : float, default 30
        Seconds.
    headers : dict, optional
        Extra request headers.

    Raises
    ------
    ReferenceFetchError
        The download failed: no connection, a timeout, or an HTTP status other than 200
        (a subclass of ReferenceMatchError, so catch it first to retry).
    ReferenceMatchError
        The body is not a readable reference.
    """
    import httpx

    try:
        resp = httpx.get(url, timeout=timeout, headers=headers, follow_redirects=True)
    except httpx.HTTPError as exc:
        raise ReferenceFetchError(
            f"could not fetch the reference from {url}: {type(exc).__name__}: {exc}", url=url
        ) from None
    if resp.status_code != 200:
        raise ReferenceFetchError(
            f"fetching the reference from {url} gave HTTP {resp.status_code}", url=url,
            status_code=resp.status_code,
        )
    name = url.split("?", 1)[0].rsplit("/", 1)[-1]
    fmt = reference_format(format)
    obj = _decode(resp.content, name=name, fmt=fmt, source=url,
                  content_type=resp.headers.get("content-type", ""))
    return _parse(obj, fmt=fmt, date=iso_date(date), board=board, category=category,
                  commit=commit, source=url, columns=columns)
