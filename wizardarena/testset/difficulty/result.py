"""The result of a difficulty scorer, and the coercion of any scorer's output to it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.exceptions import ValidationError

__all__ = ["DifficultyResult", "coerce_scores"]


@dataclass(frozen=True)
class DifficultyResult:
    """Scores of a difficulty scorer.

    Attributes
    ----------
    scores : Series of float, indexed by prompt_id
        NaN where a prompt could not be scored.
    raw : Series of str or None, indexed by prompt_id
        The judge's raw text (LLM scorers), kept for every prompt.
    n_failed : int
        Prompts whose answer did not parse (a subset of the NaN scores).
    details : DataFrame or None, indexed by prompt_id
        Scorer-specific columns (e.g. one boolean column per criterion, or the
        ``upset_rate`` / ``order_disagreement`` of :class:`BattleDifficulty`).
    """

    scores: pd.Series
    raw: pd.Series | None = None
    n_failed: int = 0
    details: pd.DataFrame | None = None


def coerce_scores(
    result: Any, prompts: pd.DataFrame, *, where: str = "difficulty"
) -> DifficultyResult:
    """Turn what a scorer returned into a :class:`DifficultyResult` aligned with ``prompts``.

    Raises
    ------
    ValidationError
        Wrong length, unknown prompt ids, or non-numeric scores.
    """
    index = prompts.index
    if isinstance(result, DifficultyResult):
        res = result
    elif isinstance(result, pd.Series):
        res = DifficultyResult(scores=result)
    else:
        arr = np.asarray(result)
        if arr.ndim != 1 or arr.shape[0] != len(index):
            raise ValidationError(
                f"{where} scorer must return one score per prompt ({len(index)}); "
                f"got shape {arr.shape}"
            )
        res = DifficultyResult(scores=pd.Series(arr, index=index))
    scores = res.scores
    if not isinstance(scores, pd.Series):
        raise ValidationError(
            f"{where} scores must be a pandas Series; got {type(scores).__name__}"
        )
    scores = scores.copy()
    scores.index = scores.index.astype(str)
    extra = scores.index.difference(index)
    if len(extra):
        raise ValidationError(
            f"{where} scorer returned scores for unknown prompt ids, e.g. {extra[:5].tolist()}"
        )
    try:
        values = pd.to_numeric(scores, errors="raise").astype(float)
    except (TypeError, ValueError):
        raise ValidationError(
            f"{where} scores must be numbers (NaN for unscored); got e.g. "
            f"{scores.head(3).tolist()}"
        ) from None
    aligned = values.reindex(index)
    aligned.index.name = "prompt_id"
    aligned.name = "difficulty"
    raw = res.raw.reindex(index) if res.raw is not None else None
    return DifficultyResult(
        scores=aligned, raw=raw, n_failed=int(res.n_failed), details=res.details
    )
