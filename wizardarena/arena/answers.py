"""Loading prompts and model answers (JSONL / JSON / Parquet / CSV / DataFrame) and the
Arena-Hard, AlpacaEval and MT-Bench answer formats.

Canonical shapes used by the runner:

- prompts: DataFrame indexed by ``question_id`` (str) with ``turns`` (tuple of str, the user
  turns) and, when the source has one, ``category`` (str);
- answers: long DataFrame with ``model, question_id, turns`` (tuple of str, the assistant
  turns) and ``answer`` (the last turn).

Recognised record layouts (``format="auto"`` sniffs them per record):

- generic: ``question_id`` (or ``uid``/``id``) with ``answer``/``output``/``response``/
  ``turns``, and ``model`` (or ``model_id``/``generator``);
- Arena-Hard v2: ``uid, model, messages`` whose last assistant ``content`` is
  ``{"answer": ...}`` or a string;
- Arena-Hard v0.1 / FastChat MT-Bench: ``question_id, model_id, choices[0].turns`` (strings,
  or dicts with ``content``);
- AlpacaEval: ``instruction, output, generator`` (a JSON list); AlpacaEval has no ids, so
  ``question_id`` is the first 16 hex digits of the SHA-1 of the instruction, the same id
  :func:`load_prompts` gives an AlpacaEval prompt set.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from wizardarena.battles.prompts import (
    alpaca_id,
    check_unique,
    is_record_file,
    parse_prompts,
    read_record_file,
)
from wizardarena.exceptions import ValidationError

__all__ = [
    "alpaca_id",
    "answers_frame",
    "load_answers",
    "load_prompts",
    "normalize_prompts",
]

_QID_KEYS = ("question_id", "uid", "id", "qid", "prompt_id")
_MODEL_KEYS = ("model", "model_id", "generator")
_PROMPT_KEYS = ("turns", "prompt", "question", "instruction", "text", "content", "messages",
                "conversation")
_ANSWER_KEYS = ("turns", "answer", "output", "response", "completion")


def _read_records(path: Path, what: str) -> list[Any]:
    """Records of a prompt or answer file (the one file reader); unreadable files raise
    ValidationError."""
    return read_record_file(path, what=what).to_dict("records")


def _first(rec: Mapping[str, Any], keys: Sequence[str]) -> tuple[str | None, Any]:
    for k in keys:
        if k in rec and rec[k] is not None and not (isinstance(rec[k], float) and rec[k] != rec[k]):
            return k, rec[k]
    return None, None


def _as_turns(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, (list, tuple)) and value:
        out = []
        for t in value:
            if isinstance(t, dict):
                t = t.get("content", t.get("answer"))
            if not isinstance(t, str):
                raise ValidationError(f"{where}: turns must be strings; got {type(t).__name__}")
            out.append(t)
        return tuple(out)
    raise ValidationError(f"{where}: expected a string or a non-empty list of strings; "
                          f"got {type(value).__name__} {str(value)[:60]!r}")


def normalize_prompts(prompts: Any) -> pd.DataFrame:
    """Canonical prompts frame (see the module docstring) from many inputs.

    The arena's presentation of :func:`wizardarena.battles.prompts.parse_prompts`: the id
    column is the first of ``question_id``, ``uid``, ``id``, ``qid``, ``prompt_id``, the
    prompt column the first of ``turns`` (a str there is one turn), ``prompt``,
    ``question``, ``instruction``, ``text``, ``content``, ``messages``, ``conversation``.

    Parameters
    ----------
    prompts : DataFrame, path, sequence of dict, mapping of id to str, or sequence of str
        A plain sequence of strings gets ids ``"0", "1", ...``; AlpacaEval records
        (``instruction`` without an id) get :func:`alpaca_id`.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``question_id``; columns ``turns`` and, when present, ``category``.
    """
    where = "prompts"
    if isinstance(prompts, (str, os.PathLike)):
        where = str(prompts)
        frame = read_record_file(prompts)
    elif isinstance(prompts, pd.DataFrame):
        frame = prompts
        if frame.index.name in _QID_KEYS and not any(k in frame.columns for k in _QID_KEYS):
            frame = frame.reset_index()
    elif isinstance(prompts, Mapping):
        frame = pd.DataFrame({"question_id": list(prompts),
                              "turns": pd.Series(list(prompts.values()), dtype=object)})
    elif isinstance(prompts, Sequence) and all(isinstance(p, str) for p in prompts):
        frame = pd.DataFrame({"question_id": [str(i) for i in range(len(prompts))],
                              "turns": pd.Series(list(prompts), dtype=object)})
    elif isinstance(prompts, Sequence):
        bad = [i for i, r in enumerate(prompts) if not isinstance(r, Mapping)]
        if bad:
            raise ValidationError(
                f"{where}: record {bad[0]} is {type(prompts[bad[0]]).__name__}, expected dict")
        frame = pd.DataFrame.from_records(list(prompts))
    else:
        raise ValidationError(f"prompts: unsupported type {type(prompts).__name__}")
    if not len(frame):
        raise ValidationError(f"{where}: no prompts")
    src = next((k for k in _PROMPT_KEYS if k in frame.columns), None)
    if src is None:
        raise ValidationError(
            f"{where}: the prompts have none of the prompt fields {list(_PROMPT_KEYS)}; "
            f"their fields are {sorted(map(str, frame.columns))[:10]}")
    if src == "turns":  # a str is one turn here (a JSON list is not decoded)
        frame = frame.assign(turns=pd.Series(
            [[v] if isinstance(v, str) else v for v in frame["turns"]], index=frame.index,
            dtype=object))
    id_col = next((k for k in _QID_KEYS if k in frame.columns), None)
    parsed = parse_prompts(frame, id_column=id_col, text_column=src)
    if parsed.ids is not None:
        ids = parsed.ids
    elif src == "instruction":
        ids = [alpaca_id(t[0]) for t in parsed.turns]
    else:
        raise ValidationError(f"{where}: the prompts have none of the id fields {list(_QID_KEYS)}")
    check_unique(ids, f"{where}: question_id")
    out = pd.DataFrame({"turns": pd.Series([tuple(t) for t in parsed.turns], dtype=object)})
    out.index = pd.Index(ids, name="question_id", dtype=object)
    if "category" in parsed.frame.columns:
        cats = [None if c is None or (isinstance(c, float) and c != c) else str(c)
                for c in parsed.frame["category"]]
        if any(c is not None for c in cats):
            out["category"] = pd.Series(cats, index=out.index, dtype=object)
    return out


def load_prompts(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a prompt file (JSONL / JSON / Parquet / CSV; Arena-Hard, MT-Bench, AlpacaEval).

    Returns the frame of :func:`normalize_prompts`.
    """
    return normalize_prompts(Path(path))


def _answer_record(rec: Mapping[str, Any], i: int, where: str,
                   model: str | None) -> tuple[str, str, tuple[str, ...]]:
    mk, m = _first(rec, _MODEL_KEYS)
    name = model if model is not None else (str(m) if mk is not None else None)
    if name is None:
        raise ValidationError(
            f"{where}: record {i} has no model field {list(_MODEL_KEYS)}; pass model="
        )
    if isinstance(rec.get("choices"), list) and rec["choices"]:  # FastChat / Arena-Hard v0.1
        turns = _as_turns(rec["choices"][0].get("turns"), f"{where}: record {i} choices[0]")
    elif isinstance(rec.get("messages"), list):  # Arena-Hard v2
        out = []
        for msg in rec["messages"]:
            if msg.get("role") == "assistant":
                c = msg.get("content")
                out.append(c.get("answer") if isinstance(c, dict) else c)
        turns = _as_turns(out, f"{where}: record {i} messages")
    else:
        ak, ans = _first(rec, _ANSWER_KEYS)
        if ak is None:
            raise ValidationError(
                f"{where}: record {i} has no answer field {list(_ANSWER_KEYS)}, "
                f"'choices' or 'messages'; its keys are {sorted(rec)[:10]}"
            )
        turns = _as_turns(ans, f"{where}: record {i} field {ak!r}")
    qk, qid = _first(rec, _QID_KEYS)
    if qk is None:
        if "instruction" in rec and isinstance(rec["instruction"], str):
            qid = alpaca_id(rec["instruction"])
        else:
            raise ValidationError(f"{where}: record {i} has no id field {list(_QID_KEYS)}")
    return name, str(qid), turns


def _frame_from_records(records: Iterable[Any], where: str, model: str | None) -> pd.DataFrame:
    rows = []
    for i, rec in enumerate(records):
        if not isinstance(rec, Mapping):
            raise ValidationError(f"{where}: record {i} is {type(rec).__name__}, expected dict")
        rows.append(_answer_record(rec, i, where, model))
    frame = pd.DataFrame(rows, columns=["model", "question_id", "turns"], dtype=object)
    frame["answer"] = [t[-1] for t in frame["turns"]]
    return frame


def load_answers(source: str | os.PathLike[str], *, model: str | None = None) -> pd.DataFrame:
    """Read answers from a file or a directory of files (one or more models).

    Parameters
    ----------
    source : path
        A file (JSONL / JSON / Parquet / CSV) or a directory whose such files are all read
        (the Arena-Hard ``model_answer/`` layout).
    model : str, optional
        Model name for records without one (a single file).

    Returns
    -------
    pandas.DataFrame
        Columns ``model, question_id, turns, answer``.
    """
    path = Path(source)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and is_record_file(p))
        if not files:
            raise ValidationError(f"{path}: no answer files (.jsonl, .json, .parquet, .csv)")
        frames = [_frame_from_records(_read_records(f, "answer file"), str(f),
                                      model if model is not None else None) for f in files]
        frame = pd.concat(frames, ignore_index=True)
    elif path.is_file():
        frame = _frame_from_records(_read_records(path, "answer file"), str(path), model)
    else:
        raise ValidationError(f"answers: {path} does not exist")
    return _check_unique(frame, str(path))


def _check_unique(frame: pd.DataFrame, where: str) -> pd.DataFrame:
    dup = frame.duplicated(["model", "question_id"])
    if dup.any():
        rows = frame.loc[dup, ["model", "question_id"]].head(5).values.tolist()
        raise ValidationError(
            f"{where}: each (model, question_id) must have one answer; duplicated: {rows}"
        )
    return frame.reset_index(drop=True)


def answers_frame(answers: Any) -> pd.DataFrame:
    """Canonical long answers frame from the inputs the runner accepts.

    Parameters
    ----------
    answers : DataFrame, path, or mapping of model to answers
        A long DataFrame with ``model, question_id`` and an answer column; a path (see
        :func:`load_answers`); or ``{model: x}`` where ``x`` is a DataFrame with
        ``question_id`` and an answer column, a mapping ``question_id -> str | list[str]``, a
        sequence of records, or a path.

    Returns
    -------
    pandas.DataFrame
        Columns ``model, question_id, turns, answer``.
    """
    if isinstance(answers, (str, os.PathLike)):
        return load_answers(answers)
    if isinstance(answers, pd.DataFrame):
        return _check_unique(_frame_from_records(answers.to_dict("records"), "answers", None),
                             "answers")
    if not isinstance(answers, Mapping):
        raise ValidationError(
            f"answers must be a DataFrame, a path or a mapping of model to answers; "
            f"got {type(answers).__name__}"
        )
    frames = []
    for name, x in answers.items():
        where = f"answers[{name!r}]"
        if isinstance(x, (str, os.PathLike)):
            f = load_answers(x, model=str(name))
            f["model"] = str(name)
        elif isinstance(x, pd.DataFrame):
            recs = x.reset_index().to_dict("records") if x.index.name in _QID_KEYS \
                else x.to_dict("records")
            f = _frame_from_records(recs, where, str(name))
        elif isinstance(x, Mapping):
            f = _frame_from_records(
                [{"question_id": k, "turns": v} for k, v in x.items()], where, str(name))
        elif isinstance(x, Sequence):
            f = _frame_from_records(x, where, str(name))
        else:
            raise ValidationError(f"{where}: unsupported type {type(x).__name__}")
        frames.append(f)
    if not frames:
        raise ValidationError("answers: no models")
    return _check_unique(pd.concat(frames, ignore_index=True), "answers")
