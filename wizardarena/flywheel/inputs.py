"""Input adapters of the flywheel: the answers frame and the prompt table."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.arena.answers import answers_frame
from wizardarena.battles.prompts import prompt_table
from wizardarena.exceptions import Param, ValidationError

__all__ = ["PROMPT_COLUMNS", "absent", "answers_table", "flywheel_prompts", "optional_float",
           "optional_text", "turn_list"]

#: the prompt columns a selection exports as provenance when the prompts have them
PROMPT_COLUMNS: tuple[str, ...] = ("category", "subset", "difficulty")


def answers_table(answers: Any) -> pd.DataFrame:
    """Answers → DataFrame indexed by (question_id, model) with an ``answer`` column.

    Accepts a DataFrame ``question_id, model, answer``, a mapping
    ``{(question_id, model): answer}``, or anything the arena reads
    (:func:`wizardarena.arena.answers.answers_frame`: ``{model: {question_id: answer}}``,
    a path to answer files, Arena-Hard / MT-Bench / AlpacaEval records).
    """
    if isinstance(answers, Mapping) and answers and all(
            isinstance(k, tuple) and len(k) == 2 for k in answers):
        keys = list(answers)
        frame = pd.DataFrame({"question_id": [k[0] for k in keys],
                              "model": [k[1] for k in keys], "answer": list(answers.values())})
    elif isinstance(answers, pd.DataFrame) and {"question_id", "model"} <= set(answers.columns):
        frame = answers.reset_index(drop=True)
    else:
        frame = answers_frame(answers)
    missing = [c for c in ("question_id", "model") if c not in frame.columns]
    if missing or not ({"answer", "turns"} & set(frame.columns)):
        raise ValidationError(
            "answers must have columns question_id, model and answer (str or list of turns) "
            f"or turns (list of assistant turns); found {list(frame.columns)}")
    if "turns" in frame.columns:  # the arena's canonical answers frame: all assistant turns
        frame = frame.drop(columns=[c for c in ("answer",) if c in frame.columns]).rename(
            columns={"turns": "answer"})
    frame = frame.assign(question_id=frame["question_id"].astype(str),
                         model=frame["model"].astype(str))
    dup = frame.duplicated(["question_id", "model"])
    if dup.any():
        rows = np.flatnonzero(dup.to_numpy())[:5]
        raise ValidationError(
            "answers has more than one answer per (question_id, model) at rows "
            f"{rows.tolist()}: {frame.loc[rows, ['question_id', 'model']].values.tolist()}")
    return frame.set_index(["question_id", "model"])


def flywheel_prompts(prompts: Any, answers: pd.DataFrame) -> pd.DataFrame:
    """The prompt table of a selection (:func:`wizardarena.battles.prompts.prompt_table`:
    question_id → ``turns`` plus ``category``, ``subset``, ``difficulty`` when given), from
    ``prompts`` or else from the answers' ``prompt`` column."""
    if prompts is None:
        if "prompt" not in answers.columns:
            raise ValidationError(
                "the prompts are unknown: pass ", Param("prompts", "...", cli="FILE"),
                " (question_id + prompt/turns/messages, e.g. the test set or the training "
                "pool) or give answers a 'prompt' column")
        first = answers["prompt"].groupby(level="question_id").first()
        prompts = pd.DataFrame({"question_id": first.index, "prompt": first.to_numpy()})
    return prompt_table(prompts, columns=PROMPT_COLUMNS)


def turn_list(value: Any, where: str) -> list[str]:
    """``value`` (a str or a sequence of str) as a list of turns; ``where`` names it in errors."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple, np.ndarray)) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    raise ValidationError(f"{where} must be a str or a list of str; got {str(value)[:60]!r}")


def absent(value: Any) -> bool:
    """Whether a table cell holds no value (None or NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def optional_text(table: pd.DataFrame, q: str, col: str) -> str:
    """``table.at[q, col]`` as text, ``""`` when the column or the value is absent."""
    if col not in table.columns:
        return ""
    v = table.at[q, col]
    return "" if absent(v) else str(v)


def optional_float(table: pd.DataFrame, q: str, col: str) -> float:
    """``table.at[q, col]`` as a number, NaN when the column or the value is absent."""
    if col not in table.columns:
        return math.nan
    v = pd.to_numeric(pd.Series([table.at[q, col]]), errors="coerce").iloc[0]
    return math.nan if pd.isna(v) else float(v)
