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

This is the test set's presentation of :mod:`wizardarena.battles.prompts` (the one prompt
reader and parser); :func:`read_prompts` adds directories and globs of prompt files.
"""

from __future__ import annotations

import enum
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Union

import pandas as pd

from wizardarena.battles.prompts import (
    check_unique,
    is_record_file,
    parse_prompts,
    positional_ids,
    read_record_file,
)
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
    parsed = parse_prompts(prompts, id_column=id_column, text_column=text_column)
    frame, turns, src, id_col = parsed.frame, parsed.turns, parsed.source, parsed.id_column
    if mode is PromptText.FIRST_USER:
        texts = [t[0] for t in turns]
    else:
        texts = ["\n\n".join(t) for t in turns]
    ids = parsed.ids if parsed.ids is not None else positional_ids(len(frame))
    check_unique(ids, "prompt ids")
    index = pd.Index(ids, name="prompt_id", dtype=object)

    consumed = {src} | ({id_col} if id_col is not None else set())
    if parsed.from_turns:
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
    files = sorted(p for p in found if is_record_file(p))
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
    return read_record_file(path, format=format)


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
