"""Reading battle logs (and the one suffix rule of every file the package reads).

:func:`read_battles` takes any supported source: a :class:`~wizardarena.battles.log.BattleLog`,
a DataFrame, a pyarrow Table, a list of dicts, or a ``.parquet``, ``.jsonl``, ``.json`` or
``.csv`` file (optionally compressed). The writers are methods of the log
(:meth:`~wizardarena.battles.log.BattleLog.to_parquet` ...).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
import pandas as pd
import pyarrow as pa

from wizardarena.battles.checks import MAX_SHOWN, show_rows
from wizardarena.battles.log import BattleLog
from wizardarena.battles.schema import Vocabulary
from wizardarena.exceptions import ValidationError

__all__ = ["BattleSource", "file_format", "read_battles", "read_table"]

BattleSource = Union[
    "BattleLog", pd.DataFrame, pa.Table, Sequence[Mapping[str, Any]], str, os.PathLike[str]
]


# --------------------------------------------------------------------------- readers


def read_battles(
    source: BattleSource,
    *,
    outcomes: str | Vocabulary = Vocabulary.FASTCHAT,
    strong_weight: float = 1.0,
    format: str | None = None,
    normalize_names: bool = False,
) -> BattleLog:
    """Read and validate a battle log from any supported source.

    Parameters
    ----------
    source : BattleLog, DataFrame, pyarrow.Table, list of dict, or path
        A path ending in ``.parquet``, ``.jsonl``, ``.json`` (a JSON list of records, as
        FastChat's ``clean_battle`` files) or ``.csv`` (optionally ``.gz``).
    outcomes : str, default "fastchat"
        The vocabulary of the ``winner`` column; see :class:`Vocabulary`. Never guessed.
    strong_weight : float, default 1.0
        Weight of a strong Arena-Hard verdict (``A>>B``); Arena-Hard itself uses 3.
    format : {"parquet", "jsonl", "json", "csv"}, optional
        Overrides the format implied by the file name.
    normalize_names : bool, default False
        Model names that differ only by case or surrounding spaces (``'gpt-4 '``,
        ``'GPT-4'``) raise by default, listing each group; with True each group is merged
        into its most frequent spelling and a ``DataWarning`` says which.

    Returns
    -------
    BattleLog

    Raises
    ------
    ValidationError
        Missing columns, unknown winner labels, empty or missing model names, names that
        differ only by case or spaces, a model battling itself, negative or NaN weights, an
        empty log, an unknown file format. Where another vocabulary or layout would read the
        log, the message names it.
    """
    kw: dict[str, Any] = dict(outcomes=outcomes, strong_weight=strong_weight,
                              normalize_names=normalize_names)
    if isinstance(source, BattleLog):
        return source
    if isinstance(source, pd.DataFrame):
        return BattleLog.from_frame(source, **kw)
    if isinstance(source, pa.Table):
        return BattleLog.from_arrow(source, **kw)
    if isinstance(source, (str, os.PathLike)):
        return BattleLog.from_arrow(read_table(Path(source), format), **kw)
    if isinstance(source, Iterable) and not isinstance(source, (bytes, Mapping)):
        records = list(source)
        bad = [i for i, r in enumerate(records) if not isinstance(r, Mapping)]
        if bad:
            raise ValidationError(
                "a list of battles must hold one dict per battle; "
                + show_rows(np.asarray(bad), [type(records[i]).__name__ for i in bad[:MAX_SHOWN]])
            )
        return BattleLog.from_frame(pd.DataFrame.from_records(records), **kw)
    raise ValidationError(
        "battles must be a path, a pandas DataFrame, a pyarrow Table, a list of dicts or a "
        f"BattleLog; got {type(source).__name__}"
    )


#: the file formats the package reads, and the suffixes that name them
FORMATS: dict[str, tuple[str, ...]] = {
    "parquet": (".parquet", ".pq"),
    "jsonl": (".jsonl", ".ndjson"),
    "json": (".json",),
    "csv": (".csv",),
}
#: compression suffixes that may follow a format's suffix (``battles.jsonl.gz``)
COMPRESSIONS = (".gz", ".bz2", ".zst", ".xz")


def file_format(path: str | os.PathLike[str], format: str | None = None, *,
                what: str = "battle log") -> str:
    """The format of a file the package reads: ``format`` when given, else the one its
    suffix names (a compression suffix such as ``.gz`` after it is allowed).

    The one suffix rule of battle logs, prompt files and answer files.

    Raises
    ------
    ValidationError
        An unknown ``format``, or a name whose suffix names none.
    """
    name = os.fspath(path)
    if format is None:
        suffixes = [s.lower() for s in Path(name).suffixes]
        if suffixes and suffixes[-1] in COMPRESSIONS:
            suffixes = suffixes[:-1]
        last = suffixes[-1] if suffixes else ""
        format = next((f for f, sfx in FORMATS.items() if last in sfx), last.lstrip("."))
    if format not in FORMATS:
        raise ValidationError(
            f"cannot tell the format of the {what} {name!r}: unknown format {format!r}; "
            "expected a name ending in .parquet, .jsonl, .json or .csv (optionally .gz), "
            f"or format= one of {list(FORMATS)}"
        )
    return format


def read_table(path: Path, format: str | None) -> pa.Table:
    """A battle-log file as a pyarrow Table (string columns of Parquet dictionary-decoded
    straight to codes)."""
    if not path.exists():
        raise ValidationError(f"battle log file not found: {str(path)!r}")
    format = file_format(path, format)
    try:
        if format == "parquet":
            import pyarrow.parquet as pq

            schema = pq.read_schema(path)
            text = [f.name for f in schema if pa.types.is_string(f.type)
                    or pa.types.is_large_string(f.type)]
            # dictionary pages decode straight to codes: no per-row strings are built
            return pq.read_table(path, read_dictionary=text)
        if format == "jsonl":
            return pa.Table.from_pandas(
                pd.read_json(path, lines=True, dtype=False), preserve_index=False
            )
        if format == "csv":
            return pa.Table.from_pandas(
                pd.read_csv(path, dtype={"model_a": str, "model_b": str}, keep_default_na=True),
                preserve_index=False,
            )
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except (ValueError, OSError, pa.ArrowException) as exc:
        raise ValidationError(f"could not read {str(path)!r} as {format}: {exc}") from exc
    if not isinstance(data, list):
        raise ValidationError(
            f"{str(path)!r}: a .json battle log must be a JSON list of battle records "
            f"(FastChat clean_battle format); got a JSON {type(data).__name__}"
        )
    return pa.Table.from_pandas(pd.DataFrame.from_records(data), preserve_index=False)
