"""Prompt input: load and normalise prompts from files, DataFrames or Python lists.

Every entry point of :mod:`wizardarena.testset` accepts what :func:`normalize_prompts`
accepts and works on its canonical form: a DataFrame indexed by ``prompt_id`` (str, unique)
with

``turns``
    list of str, the user turns of the conversation (one element for a single prompt);
``text``
    str, the text used for embeddings and duplicate detection (see :class:`PromptText`);

plus every other input column, passed through unchanged (a pass-through column whose name
is one this package writes, such as ``cluster``, is renamed ``input_<name>``).

Accepted shapes
---------------
- a list of str (one prompt each), a list of lists of str (turns), a list of OpenAI
  ``messages`` lists (``[{"role": "user", "content": ...}, ...]``), or a list of dicts (records);
- a DataFrame / records whose prompt lives in one column: ``messages`` or ``conversation``
  (OpenAI messages), ``turns`` (list of str), or one of ``prompt``, ``text``, ``question``,
  ``instruction``, ``content`` (str); choose explicitly with ``text_column=``;
- ids from ``prompt_id``, ``question_id``, ``uid`` or ``id`` (or ``id_column=``), or from a
  DataFrame index with one of those names; without one, ids are ``p000000``, ``p000001``,
  ... by input position.
- a canonical frame (the output of this function) is accepted as is: ``text`` is recomputed
  from ``turns`` whenever the prompt comes from ``turns`` or messages.

File reading (:func:`read_prompts`) is the only I/O here.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np
import pandas as pd

from wizardarena.exceptions import ValidationError

__all__ = [
    "OUTPUT_COLUMNS",
    "PromptText",
    "PromptsLike",
    "example_prompts",
    "normalize_prompts",
    "prompt_files",
    "read_prompts",
]

#: columns this package writes; input columns with these names are renamed ``input_<name>``
OUTPUT_COLUMNS: frozenset[str] = frozenset(
    {
        "prompt_id",
        "turns",
        "text",
        "cluster",
        "centroid_distance",
        "difficulty",
        "difficulty_raw",
        "candidate",
        "in_diverse",
        "in_hard",
        "subset",
    }
)

_ID_COLUMNS = ("prompt_id", "question_id", "uid", "id")
_MESSAGE_COLUMNS = ("messages", "conversation")
_TEXT_COLUMNS = ("prompt", "text", "question", "instruction", "content")
_ROLES = frozenset({"system", "user", "assistant", "tool", "developer"})

PromptsLike = Union[pd.DataFrame, Sequence[Any], "os.PathLike[str]", str]


class PromptText(str, enum.Enum):
    """Which part of a conversation is used as its text for embeddings and deduplication."""

    #: the first user turn (WizardArena / Arena-Hard embed the first turn)
    FIRST_USER = "first_user"
    #: every user turn, joined with a blank line
    ALL_USER = "all_user"

    @classmethod
    def parse(cls, value: PromptText | str) -> PromptText:
        """Return the member named by ``value``; raise :class:`ValidationError` otherwise."""
        if isinstance(value, cls):
            return value
        try:
            return cls(value)
        except ValueError:
            allowed = ", ".join(m.value for m in cls)
            raise ValidationError(
                f"text must be one of {allowed}; got {value!r}"
            ) from None


def _turns_from_messages(value: Any, row: int, column: str) -> list[str]:
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
    out = list(value)
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


def _frame_from_sequence(prompts: Sequence[Any]) -> pd.DataFrame:
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


def _pick(columns: Iterable[str], candidates: Sequence[str]) -> str | None:
    cols = set(columns)
    for name in candidates:
        if name in cols:
            return name
    return None


def normalize_prompts(
    prompts: PromptsLike,
    *,
    text: PromptText | str = PromptText.FIRST_USER,
    id_column: str | None = None,
    text_column: str | None = None,
) -> pd.DataFrame:
    """Bring prompts into the canonical form described in the module docstring.

    Parameters
    ----------
    prompts : DataFrame, sequence or path
        See the module docstring. A path (str or PathLike) is read with :func:`read_prompts`.
    text : {"first_user", "all_user"}, default "first_user"
        Which user turns make the ``text`` column.
    id_column : str, optional
        Column holding the prompt ids (default: the first of ``prompt_id``, ``question_id``,
        ``uid``, ``id`` present; ids by position otherwise).
    text_column : str, optional
        Column holding the prompt (str, list of turns, or messages); default: detected.

    Returns
    -------
    DataFrame, indexed by ``prompt_id``
        Columns ``turns``, ``text`` and the passed-through input columns, input order kept.

    Raises
    ------
    ValidationError
        Unknown ``text``, missing or null prompts, malformed messages, duplicate ids.
    """
    mode = PromptText.parse(text)
    if isinstance(prompts, (str, os.PathLike)):
        prompts = read_prompts(prompts)
    if isinstance(prompts, pd.DataFrame):
        if prompts.index.name in _ID_COLUMNS and prompts.index.name not in prompts.columns:
            frame = prompts.reset_index()  # e.g. an already canonical frame
        else:
            frame = prompts.reset_index(drop=True)
    elif isinstance(prompts, (list, tuple)):
        frame = _frame_from_sequence(prompts)
    else:
        raise ValidationError(
            "prompts must be a DataFrame, a path, or a list; got " f"{type(prompts).__name__}"
        )

    if id_column is not None and id_column not in frame.columns:
        raise ValidationError(
            f"id_column {id_column!r} is not a column; columns are {list(frame.columns)}"
        )
    id_col = id_column or _pick(frame.columns, _ID_COLUMNS)

    if text_column is not None:
        if text_column not in frame.columns:
            raise ValidationError(
                f"text_column {text_column!r} is not a column; columns are {list(frame.columns)}"
            )
        src = text_column
    else:
        found = (
            _pick(frame.columns, _MESSAGE_COLUMNS)
            or _pick(frame.columns, ("turns",))
            or _pick(frame.columns, _TEXT_COLUMNS)
        )
        if found is None:
            raise ValidationError(
                "prompts: no prompt column found; expected one of "
                f"{', '.join((*_MESSAGE_COLUMNS, 'turns', *_TEXT_COLUMNS))} "
                f"(or text_column=); columns are {list(frame.columns)}"
            )
        src = found

    values = frame[src]
    nulls = np.flatnonzero(values.isna().to_numpy()) if len(values) else np.zeros(0, int)
    if len(nulls):
        raise ValidationError(
            f"column {src!r} has missing prompts at rows {nulls[:5].tolist()}; "
            "every row must hold a prompt"
        )
    raw = values.tolist()
    if len(raw) and all(isinstance(v, str) for v in raw) and src not in (
        *_MESSAGE_COLUMNS,
        "turns",
    ):
        turns: list[list[str]] = [[v] for v in raw]
        texts: list[str] = raw
    else:
        if src in _MESSAGE_COLUMNS or (
            len(raw) and isinstance(raw[0], (list, tuple, np.ndarray))
            and len(raw[0]) and isinstance(raw[0][0], Mapping)
        ):
            turns = [_turns_from_messages(v, i, src) for i, v in enumerate(raw)]
        elif src == "turns" or (len(raw) and isinstance(raw[0], (list, tuple, np.ndarray))):
            turns = [_turns_from_list(v, i, src) for i, v in enumerate(raw)]
        else:
            bad = [i for i, v in enumerate(raw) if not isinstance(v, str)][:5]
            raise ValidationError(
                f"column {src!r} must hold str prompts; rows {bad} hold "
                f"{[type(raw[i]).__name__ for i in bad]}"
            )
        if mode is PromptText.FIRST_USER:
            texts = [t[0] for t in turns]
        else:
            texts = ["\n\n".join(t) for t in turns]

    if id_col is not None:
        id_values = frame[id_col]
        missing = np.flatnonzero(id_values.isna().to_numpy())
        if len(missing):
            raise ValidationError(
                f"column {id_col!r} has missing ids at rows {missing[:5].tolist()}"
            )
        ids = id_values.astype(str).tolist()
    else:
        ids = [f"p{i:06d}" for i in range(len(frame))]
    index = pd.Index(ids, name="prompt_id", dtype=object)
    dup = index.duplicated()
    if dup.any():
        rows = np.flatnonzero(dup)[:5].tolist()
        raise ValidationError(
            f"prompt ids must be unique; rows {rows} repeat ids "
            f"{[ids[r] for r in rows]}"
        )

    consumed = {src} | ({id_col} if id_col is not None else set())
    if src in (*_MESSAGE_COLUMNS, "turns"):
        consumed.add("text")  # derived from the turns (canonical input round-trips)
    rest = frame.drop(columns=[c for c in frame.columns if c in consumed])
    taken = set(rest.columns)
    renames: dict[str, str] = {}
    for c in rest.columns:
        if c in OUTPUT_COLUMNS:
            new = f"input_{c}"
            while new in taken:
                new = f"input_{new}"
            renames[c] = new
            taken.add(new)
    rest = rest.rename(columns=renames)
    rest.index = index
    out = pd.DataFrame(
        {"turns": pd.Series(turns, index=index, dtype=object),
         "text": pd.Series(texts, index=index, dtype=object)},
        index=index,
    )
    return pd.concat([out, rest], axis=1) if len(rest.columns) else out


_SUFFIXES = (".jsonl", ".ndjson", ".json", ".csv", ".parquet")


def prompt_files(path: str | os.PathLike[str]) -> list[Path] | None:
    """The prompt files of a directory (searched recursively) or a glob pattern, in sorted
    path order (the order their prompts are read in); None for a single file."""
    import glob

    text = os.fspath(path)
    if os.path.isdir(text):
        found = [p for p in Path(text).rglob("*") if p.is_file()
                 and not p.name.startswith((".", "_"))]
        where = f"directory {text!r}"
    elif any(c in text for c in "*?["):
        found = [Path(p) for p in glob.glob(text, recursive=True) if os.path.isfile(p)]
        where = f"pattern {text!r}"
    else:
        return None
    files = sorted(p for p in found if "".join(p.suffixes[-2:]).lower().removesuffix(".gz")
                   .endswith(_SUFFIXES))
    others = sorted(p.name for p in found if p not in files)
    if others:
        raise ValidationError(f"the prompt {where} holds files that are not prompt files "
                              f"({others[:3]}); expected only .jsonl, .json, .csv, .parquet")
    if not files:
        raise ValidationError(f"the prompt {where} holds no prompt file (.jsonl, .json, .csv, "
                              ".parquet)")
    return files


def read_prompts(path: str | os.PathLike[str], *, format: str | None = None) -> pd.DataFrame:
    """Read a prompt file as a raw DataFrame (normalise it with :func:`normalize_prompts`).

    Parameters
    ----------
    path : str or PathLike
        A ``.jsonl``, ``.json`` (list of records), ``.csv`` or ``.parquet`` file; or a
        directory (searched recursively) or glob of such files, read in sorted path order
        and concatenated (a prompt dataset in parts).
    format : {"jsonl", "json", "csv", "parquet"}, optional
        Overrides the format guessed from the suffix.
    """
    files = prompt_files(path)
    if files is not None:
        return pd.concat([read_prompts(f, format=format) for f in files], ignore_index=True)
    p = Path(path)
    fmt = (format or p.suffix.lstrip(".")).lower()
    if fmt == "gz":
        fmt = Path(p.stem).suffix.lstrip(".").lower()
    if not p.exists():
        raise ValidationError(f"prompt file {str(p)!r} does not exist")
    if fmt in ("jsonl", "ndjson"):
        return pd.read_json(p, lines=True, dtype=False)
    if fmt == "json":
        with open(p, encoding="utf-8") as fh:
            data = json.load(fh)
        if not isinstance(data, list):
            raise ValidationError(f"{str(p)!r}: a .json prompt file must hold a list")
        return _frame_from_sequence(data)
    if fmt == "csv":
        return pd.read_csv(p, dtype=str, keep_default_na=False)
    if fmt == "parquet":
        return pd.read_parquet(p)
    raise ValidationError(
        f"prompt file {str(p)!r}: unknown format {fmt!r}; expected jsonl, json, csv or parquet"
    )


def example_prompts() -> pd.DataFrame:
    """The built-in synthetic prompt set: 300 prompts on 30 topics, canonical form.

    Generated by ``scripts/make_testset_prompts.py`` (10 prompts per topic, built from
    topic-specific vocabulary); the ``topic`` column is the ground-truth cluster label.
    """
    from importlib.resources import files

    path = files("wizardarena").joinpath("data").joinpath("testset_prompts.jsonl")
    with path.open("r", encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    return normalize_prompts(records)
