"""The decontamination guard: selected prompts that nearly copy the evaluation test set are
removed (step 7 of :mod:`wizardarena.flywheel`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from wizardarena.flywheel.inputs import turn_list
from wizardarena.progress import ProgressCallback
from wizardarena.testset import decontaminate

__all__ = ["REMOVED_COLUMNS", "guard"]

#: columns of the removed-prompts report of a :class:`~wizardarena.flywheel.TrainingData`
REMOVED_COLUMNS: tuple[str, ...] = ("question_id", "reason", "matched_id", "similarity")


def guard(chosen: pd.DataFrame, table: pd.DataFrame, eval_prompts: Any, *,
          threshold: float | None, ngram: int | None, embedder: Any,
          progress: ProgressCallback | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The ``chosen`` groups whose prompt copies none of ``eval_prompts``, and the report of
    the removed prompts (:data:`REMOVED_COLUMNS`).

    ``table`` is the prompt table (question_id → ``turns``); ``threshold``, ``ngram`` and
    ``embedder`` go to :func:`~wizardarena.testset.decontam.decontaminate`.
    """
    qids = pd.unique(chosen["question_id"])
    train = pd.DataFrame({"question_id": qids,
                          "turns": [turn_list(table.at[q, "turns"], f"prompt {q!r}")
                                    for q in qids]})
    res = decontaminate(train, eval_prompts, threshold=threshold, ngram=ngram,
                        embedder=embedder, rng=0,
                        progress=progress if progress is not None else False)
    bad = set(np.asarray(qids)[~res.mask].tolist())
    removed = res.removed.reset_index().rename(columns={"prompt_id": "question_id"})
    keep_cols = [c for c in REMOVED_COLUMNS if c in removed.columns]
    return chosen.loc[~chosen["question_id"].isin(bad)], removed[keep_cols]
