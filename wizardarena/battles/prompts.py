"""Prompts: the one prompt-file reader and the one prompt parser.

:func:`read_record_file` reads one prompt file (the suffix rule of
:func:`~wizardarena.battles.io.file_format`: ``.parquet``, ``.jsonl`` / ``.ndjson``,
``.json``, ``.csv``, optionally compressed) as a raw DataFrame. :func:`parse_prompts` finds
the id column, the prompt column (OpenAI ``messages``, a list of turns, or a str) and the
user turns of every row. Two presentations are built on them:

- the test set's canonical frame (:func:`wizardarena.testset.prompts.normalize_prompts`):
  indexed by ``prompt_id``, ``turns`` as lists, a ``text`` column, every other column
  passed through;
- the arena's prompt frame (:func:`wizardarena.arena.answers.normalize_prompts`): indexed by
  ``question_id``, ``turns`` as tuples, ``category``;

and the flywheel reads its prompts with :func:`prompt_table`.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import json
import lzma
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.battles.io import file_format
from wizardarena.exceptions import ValidationError

__all__ = [
    "ID_COLUMNS",
    "MESSAGE_COLUMNS",
    "TEXT_COLUMNS",
    "ParsedPrompts",
    "alpaca_id",
    "check_unique",
    "frame_from_sequence",
    "is_record_file",
    "parse_prompts",
    "positional_ids",
    "prompt_table",
    "read_record_file",
    "turns_from_messages",
]

#: columns holding a prompt id, in order of preference
ID_COLUMNS: tuple[str, ...] = ("prompt_id", "question_id", "uid", "id")
#: columns holding OpenAI messages (``[{"role", "content"}, ...]``)
MESSAGE_COLUMNS: tuple[str, ...] = ("messages", "conversation")
#: columns holding a single-turn prompt as a str, in order of preference
TEXT_COLUMNS: tuple[str, ...] = ("prompt", "text", "question", "instruction", "content")
_ROLES = frozenset({"system", "user", "assistant", "tool", "developer"})
_OPENERS: dict[str, Any] = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


def alpaca_id(instruction: str) -> str:
    """Question id of an AlpacaEval instruction (SHA-1, 16 hex digits)."""
    return hashlib.sha1(instruction.encode()).hexdigest()[:16]


def positional_ids(n: int) -> list[str]:
    """Ids of prompts that have none: ``p000000``, ``p000001``, ... by input position."""
    return [f"p{i:06d}" for i in range(n)]


def check_unique(ids: Sequence[str], what: str) -> None:
    """Raise a :class:`ValidationError` naming the rows that repeat an id (``what``: the
    ids' name in the message)."""
    seen: dict[str, int] = {}
    rows = [i for i, q in enumerate(ids) if seen.setdefault(q, i) != i][:5]
    if rows:
        raise ValidationError(
            f"{what} must be unique; rows {rows} repeat ids {[ids[r] for r in rows]}")


# --------------------------------------------------------------------------- the file reader


def is_record_file(path: str | os.PathLike[str]) -> bool:
    """Whether the suffix of ``path`` names a format :func:`read_record_file` reads."""
    try:
        file_format(path)
    except ValidationError:
        return False
    return True


def read_record_file(path: str | os.PathLike[str], *, format: str | None = None,
                     what: str = "prompt file") -> pd.DataFrame:
    """One prompt (or answer) file as a raw DataFrame (one row per record, its columns).

    ``format`` (``parquet``, ``jsonl``, ``json``, ``csv``) overrides the suffix. A ``.json``
    file holds a list (of records, str, turns or messages lists, read by
    :func:`frame_from_sequence`) or an object with the list under ``data`` or ``records``.
    CSV cells are read as text (``"NA"`` is a prompt, not a missing value). ``what`` names
    the file in errors.
    """
    p = Path(path)
    if not p.exists():
        raise ValidationError(f"{what} {p} does not exist")
    if not p.is_file():
        raise ValidationError(f"{what} {p} is not a file")
    fmt = file_format(p, "jsonl" if format == "ndjson" else format, what=what)
    try:
        if fmt == "jsonl":
            return pd.read_json(p, lines=True, dtype=False)
        if fmt == "csv":
            return pd.read_csv(p, dtype=str, keep_default_na=False)
        if fmt == "parquet":
            return pd.read_parquet(p)
        with _OPENERS.get(p.suffix.lower(), open)(p, "rt", encoding="utf-8") as fh:
            data = json.load(fh)
    except (OSError, ValueError) as exc:
        raise ValidationError(f"{what} {p} cannot be read as {fmt}: "
                              f"{type(exc).__name__}: {exc}") from None
    if isinstance(data, dict):
        data = data.get("data", data.get("records", [data]))
    if not isinstance(data, list):
        raise ValidationError(f"{what} {p}: a .json file must hold a list of records")
    return frame_from_sequence(data)


def frame_from_sequence(prompts: Sequence[Any]) -> pd.DataFrame:
    """A list of str, of turn lists, of messages lists or of records as a raw DataFrame
    (column ``prompt``, ``turns``, ``messages`` or the records' keys)."""
    items = list(prompts)
    if not items:
        return pd.DataFrame({"prompt": pd.Series([], dtype=object)})
    first = items[0]
    if isinstance(first, str):
        bad = [i for i, x in enumerate(items) if not isinstance(x, str)][:5]
        if bad:
            raise ValidationError(
                f"prompts: a list of str must contain only str; rows {bad} are "
                f"{[type(items[i]).__name__ for i in bad]}"
            )
        return pd.DataFrame({"prompt": pd.Series(items, dtype=object)})
    if isinstance(first, Mapping):
        if "role" in first and "content" in first:
            raise ValidationError(
                "prompts: got a single messages list; pass a list of conversations "
                "([[{'role': ..., 'content': ...}], ...])"
            )
        return pd.DataFrame.from_records(items)
    if isinstance(first, (list, tuple)):
        if first and isinstance(first[0], Mapping):
            return pd.DataFrame({"messages": pd.Series(items, dtype=object)})
        return pd.DataFrame({"turns": pd.Series(items, dtype=object)})
    raise ValidationError(
        "prompts must be a DataFrame, a path, or a list of str / turns / messages / records; "
        f"row 0 is {type(first).__name__}"
    )


# --------------------------------------------------------------------------- the parser


def turns_from_messages(value: Any, row: int, column: str) -> list[str]:
    """The user turns of one OpenAI messages list (or its JSON text); ``row`` and ``column``
    name it in errors."""
    if isinstance(value, str):
        value = _maybe_json(value, row, column)
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise ValidationError(
            f"column {column!r} must hold lists of {{'role', 'content'}} messages; "
            f"row {row} has {type(value).__name__} {_short(value)}"
        )
    turns: list[str] = []
    for k, msg in enumerate(value):
        if not isinstance(msg, Mapping) or "role" not in msg or "content" not in msg:
            raise ValidationError(
                f"column {column!r}: row {row}, message {k} must be a mapping with 'role' and "
                f"'content'; got {_short(msg)}"
            )
        role = msg["role"]
        if role not in _ROLES:
            raise ValidationError(
                f"column {column!r}: row {row}, message {k} has role {role!r}; expected one of "
                f"{', '.join(sorted(_ROLES))}"
            )
        if role == "user":
            content = msg["content"]
            if not isinstance(content, str):
                raise ValidationError(
                    f"column {column!r}: row {row}, message {k} content must be str; got "
                    f"{type(content).__name__}"
                )
            turns.append(content)
    if not turns:
        raise ValidationError(f"column {column!r}: row {row} has no user message")
    return turns


def _turns_from_list(value: Any, row: int, column: str) -> list[str]:
    if isinstance(value, str):
        value = _maybe_json(value, row, column)
    if not isinstance(value, (list, tuple, np.ndarray)) or len(value) == 0:
        raise ValidationError(
            f"column {column!r} must hold non-empty lists of str; row {row} has {_short(value)}"
        )
    out = [t["content"] if isinstance(t, Mapping) and "role" not in t and "content" in t
           else t for t in value]  # Arena-Hard v0.1: [{"content": ...}, ...]
    for k, t in enumerate(out):
        if not isinstance(t, str):
            raise ValidationError(
                f"column {column!r}: row {row}, turn {k} must be str; got {type(t).__name__}"
            )
    return out


def _maybe_json(value: str, row: int, column: str) -> Any:
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        raise ValidationError(
            f"column {column!r}: row {row} is a string that is not a JSON list: {_short(value)}"
        ) from None


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _pick(columns: Iterable[str], candidates: Sequence[str]) -> str | None:
    cols = set(columns)
    for name in candidates:
        if name in cols:
            return name
    return None


@dataclass(frozen=True)
class ParsedPrompts:
    """Prompts found in a table by :func:`parse_prompts`.

    Attributes
    ----------
    frame : DataFrame
        The input table (its index reset), every column as given.
    turns : list of list of str
        The user turns of each row.
    source : str
        The column the prompts came from.
    id_column : str or None
        The column of the ids (None: the input has none).
    ids : list of str or None
        The ids as str (None without an id column).
    """

    frame: pd.DataFrame
    turns: list[list[str]]
    source: str
    id_column: str | None
    ids: list[str] | None

    @property
    def from_turns(self) -> bool:
        """Whether the prompts came from turn lists or messages (not from a str column)."""
        return self.source in (*MESSAGE_COLUMNS, "turns")


def parse_prompts(prompts: Any, *, id_column: str | None = None,
                  text_column: str | None = None) -> ParsedPrompts:
    """Find the ids and the user turns of a prompt table.

    ``prompts``: a path (read with :func:`read_record_file`), a DataFrame (an index named
    like an id column is used as one) or a list (:func:`frame_from_sequence`). The prompt
    column is ``text_column``, else the first of :data:`MESSAGE_COLUMNS`, ``turns``,
    :data:`TEXT_COLUMNS`; the id column ``id_column``, else the first of :data:`ID_COLUMNS`.
    """
    if isinstance(prompts, (str, os.PathLike)):
        prompts = read_record_file(prompts)
    if isinstance(prompts, pd.DataFrame):
        if prompts.index.name in ID_COLUMNS and prompts.index.name not in prompts.columns:
            frame = prompts.reset_index()  # e.g. an already canonical frame
        else:
            frame = prompts.reset_index(drop=True)
    elif isinstance(prompts, (list, tuple)):
        frame = frame_from_sequence(prompts)
    else:
        raise ValidationError(
            "prompts must be a DataFrame, a path, or a list; got " f"{type(prompts).__name__}"
        )
    if id_column is not None and id_column not in frame.columns:
        raise ValidationError(
            f"id_column {id_column!r} is not a column; columns are {list(frame.columns)}"
        )
    id_col = id_column or _pick(frame.columns, ID_COLUMNS)
    if text_column is not None:
        if text_column not in frame.columns:
            raise ValidationError(
                f"text_column {text_column!r} is not a column; columns are {list(frame.columns)}"
            )
        src = text_column
    else:
        found = (_pick(frame.columns, MESSAGE_COLUMNS) or _pick(frame.columns, ("turns",))
                 or _pick(frame.columns, TEXT_COLUMNS))
        if found is None:
            raise ValidationError(
                "prompts: no prompt column found; expected one of "
                f"{', '.join((*MESSAGE_COLUMNS, 'turns', *TEXT_COLUMNS))} "
                f"(or text_column=); columns are {list(frame.columns)}"
            )
        src = found
    return ParsedPrompts(frame=frame, turns=_turns(frame[src], src), source=src,
                         id_column=id_col, ids=None if id_col is None else _ids(frame[id_col]))


def _turns(values: pd.Series, src: str) -> list[list[str]]:
    nulls = np.flatnonzero(values.isna().to_numpy()) if len(values) else np.zeros(0, int)
    if len(nulls):
        raise ValidationError(
            f"column {src!r} has missing prompts at rows {nulls[:5].tolist()}; "
            "every row must hold a prompt"
        )
    raw = values.tolist()
    if len(raw) and all(isinstance(v, str) for v in raw) and src not in (
            *MESSAGE_COLUMNS, "turns"):
        return [[v] for v in raw]
    if src in MESSAGE_COLUMNS or (
        len(raw) and isinstance(raw[0], (list, tuple, np.ndarray))
        and len(raw[0]) and isinstance(raw[0][0], Mapping) and "role" in raw[0][0]
    ):
        return [turns_from_messages(v, i, src) for i, v in enumerate(raw)]
    if src == "turns" or (len(raw) and isinstance(raw[0], (list, tuple, np.ndarray))):
        return [_turns_from_list(v, i, src) for i, v in enumerate(raw)]
    bad = [i for i, v in enumerate(raw) if not isinstance(v, str)][:5]
    raise ValidationError(
        f"column {src!r} must hold str prompts; rows {bad} hold "
        f"{[type(raw[i]).__name__ for i in bad]}"
    )


def _ids(values: pd.Series) -> list[str]:
    missing = np.flatnonzero(values.isna().to_numpy())
    if len(missing):
        raise ValidationError(
            f"column {values.name!r} has missing ids at rows {missing[:5].tolist()}")
    return values.astype(str).tolist()


def prompt_table(prompts: Any, *, columns: Sequence[str] = ("category",)) -> pd.DataFrame:
    """Prompts keyed by id: a DataFrame indexed by ``question_id`` (str; ``p000000``, ... by
    position without ids) with ``turns`` (list of str) and those of ``columns`` the input has,
    as given. Reads what :func:`parse_prompts` reads."""
    parsed = parse_prompts(prompts)
    ids = parsed.ids if parsed.ids is not None else positional_ids(len(parsed.frame))
    check_unique(ids, "prompt ids")
    index = pd.Index(ids, name="question_id", dtype=object)
    out = pd.DataFrame({"turns": pd.Series(parsed.turns, index=index, dtype=object)},
                       index=index)
    for c in columns:
        if c in parsed.frame.columns and c not in (parsed.source, parsed.id_column):
            out[c] = parsed.frame[c].to_numpy()
    return out
