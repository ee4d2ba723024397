"""Feature blocks of a fit: style features of the answers, or numeric columns of the log.

Style control (LMSYS; arena-rank's ``ContextualBradleyTerry``) adds per-battle features ``x``
to the Bradley-Terry logit, ``r_a − r_b + β · x``. This module turns a battle log (and,
optionally, the answers) into the feature matrix, oriented ``model_a`` minus ``model_b``,
standardised, with constant features dropped (a :class:`~wizardarena.exceptions.DataWarning`
names them). The fit itself is the one engine's (:mod:`~wizardarena.ratings.fit`).

Pure: numpy / pandas only.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.battles import BattleLog
from wizardarena.exceptions import DataWarning, ValidationError
from wizardarena.ratings.style_features import (
    STYLE_FEATURES,
    answer_style,
    normalized_difference,
)

__all__ = ["AnswerSource", "FeatureBlock", "Standardize", "feature_block"]


class Standardize(str, Enum):
    """How feature columns are scaled before the fit.

    ``symmetric`` (default)
        z-score over the battles *in both orientations*: the mean is then 0 and the scale is
        the root mean square. This is the LMSYS z-score made invariant to which model is
        shown first (swapping ``model_a``/``model_b`` with the winner changes nothing).
    ``zscore``
        LMSYS exactly: subtract the column mean and divide by the standard deviation, over
        the battles as oriented in the log.
    ``none``
        use the features as given.
    """

    SYMMETRIC = "symmetric"
    ZSCORE = "zscore"
    NONE = "none"


AnswerSource = pd.DataFrame | Mapping[tuple[str, str], Any]


def _answer_lookup(answers: AnswerSource, log: BattleLog, tokenizer: Callable[[str], int] | None
                   ) -> tuple[np.ndarray, np.ndarray]:
    """Style counts (N, 4) of the answers of model_a and model_b of every battle."""
    if isinstance(answers, Mapping):
        keys = list(answers.keys())
        frame = pd.DataFrame({
            "question_id": [k[0] for k in keys], "model": [k[1] for k in keys],
            "answer": list(answers.values()),
        })
    elif isinstance(answers, pd.DataFrame):
        frame = answers
    else:
        raise ValidationError(
            "answers must be a DataFrame with columns question_id, model, answer or a mapping "
            f"{{(question_id, model): answer}}; got {type(answers).__name__}"
        )
    missing = [c for c in ("question_id", "model", "answer") if c not in frame.columns]
    if missing:
        raise ValidationError(
            f"answers is missing column(s) {missing}; expected question_id, model, answer; "
            f"found {list(frame.columns)}"
        )
    qid = frame["question_id"].astype(str)
    key = pd.MultiIndex.from_arrays([qid.to_numpy(), frame["model"].astype(str).to_numpy()])
    dup = np.flatnonzero(key.duplicated())
    if dup.size:
        raise ValidationError(
            "answers has more than one answer for (question_id, model) at rows "
            f"{dup[:5].tolist()}: {[tuple(key[i]) for i in dup[:5]]}"
        )
    counts = answer_style(frame["answer"].reset_index(drop=True), tokenizer=tokenizer).to_numpy()
    q = log.column("question_id").astype(str).to_numpy()
    models = np.asarray(log.models, dtype=object)
    out = []
    for codes, side in ((log.a, "model_a"), (log.b, "model_b")):
        pos = key.get_indexer(pd.MultiIndex.from_arrays([q, models[codes]]))
        bad = np.flatnonzero(pos < 0)
        if bad.size:
            raise ValidationError(
                f"answers has no answer for the {side} of battles {bad[:5].tolist()}: "
                f"{[(q[i], models[codes[i]]) for i in bad[:5]]}"
            )
        out.append(counts[pos])
    return out[0], out[1]


def _style_source(log: BattleLog, answers: AnswerSource | None,
                  tokenizer: Callable[[str], int] | None) -> tuple[np.ndarray, np.ndarray]:
    """Counts (N, 4) of both sides from answers=, count columns, or answer text columns."""
    if answers is not None:
        return _answer_lookup(answers, log, tokenizer)
    count_cols = [f"{f}_{s}" for f in STYLE_FEATURES for s in ("a", "b")]
    if all(log.has_column(c) for c in count_cols):
        ca = np.column_stack([_numeric(log, f"{f}_a") for f in STYLE_FEATURES])
        cb = np.column_stack([_numeric(log, f"{f}_b") for f in STYLE_FEATURES])
        return ca, cb
    if log.has_column("answer_a") and log.has_column("answer_b"):
        sa = answer_style(log.column("answer_a").reset_index(drop=True), tokenizer=tokenizer)
        sb = answer_style(log.column("answer_b").reset_index(drop=True), tokenizer=tokenizer)
        return sa.to_numpy(), sb.to_numpy()
    raise ValidationError(
        "style features need the answers: pass answers= (question_id, model, answer), or give "
        f"the battle log count columns {count_cols}, or text columns answer_a and answer_b"
    )


def _numeric(log: BattleLog, name: str) -> np.ndarray:
    col = log.column(name)
    if not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col):
        raise ValidationError(f"feature column {name!r} must be numeric; got dtype {col.dtype}")
    vals = col.to_numpy(dtype=float, na_value=np.nan)
    bad = np.flatnonzero(~np.isfinite(vals))
    if bad.size:
        raise ValidationError(
            f"feature column {name!r} must be finite; rows {bad[:5].tolist()} hold "
            f"{vals[bad[:5]].tolist()}"
        )
    return vals


def _feature_matrix(log: BattleLog, features: bool | str | Sequence[str],
                    answers: AnswerSource | None, tokenizer: Callable[[str], int] | None
                    ) -> tuple[np.ndarray, list[str]]:
    if features is True or features == "style":
        names = list(STYLE_FEATURES)
    elif isinstance(features, str) or features is False or not isinstance(features, Sequence):
        raise ValidationError(
            "features must be True / 'style' (the style features "
            f"{list(STYLE_FEATURES)}) or a list of feature names; got {features!r}"
        )
    else:
        names = [str(f) for f in features]
    if not names:
        raise ValidationError("features must name at least one feature")
    dup = sorted({f for f in names if names.count(f) > 1})
    if dup:
        raise ValidationError(f"features are listed more than once: {dup}")
    style_needed = [f for f in names if not log.has_column(f)]
    unknown = [f for f in style_needed if f not in STYLE_FEATURES]
    if unknown:
        have = [] if log.extra is None else list(log.extra.columns)
        raise ValidationError(
            f"features {unknown} are neither columns of the battle log ({have}) nor style "
            f"features {list(STYLE_FEATURES)}"
        )
    cols: dict[str, np.ndarray] = {}
    if style_needed:
        ca, cb = _style_source(log, answers, tokenizer)
        diff = normalized_difference(ca, cb)
        for f in style_needed:
            cols[f] = diff[:, STYLE_FEATURES.index(f)]
    for f in names:
        if f not in cols:
            cols[f] = _numeric(log, f)
    return np.column_stack([cols[f] for f in names]), names


def _standardize(x: np.ndarray, how: Standardize) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scaled features, centres and spreads; a spread of 0 marks a constant feature."""
    f = x.shape[1]
    if how is Standardize.NONE:
        spread = np.where(np.any(x != 0, axis=0), 1.0, 0.0)
        return x, np.zeros(f), spread
    if how is Standardize.SYMMETRIC:
        center = np.zeros(f)
        spread = np.sqrt(np.mean(x * x, axis=0))
    else:
        center = x.mean(axis=0)
        spread = x.std(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (x - center) / np.where(spread > 0, spread, 1.0), center, spread


@dataclass(frozen=True, eq=False)
class FeatureBlock:
    """Per-battle features entering the logit, and how they were scaled.

    Attributes
    ----------
    x : ndarray, shape (N, F)
        Standardised features, oriented ``model_a`` minus ``model_b``.
    names : tuple of str
    center, spread : ndarray, shape (F,)
        A raw value ``v`` enters as ``(v − center) / spread``.
    kinds : tuple of str
        ``"style"`` for every feature of this module.
    dropped : tuple of str
        Features left out because they are constant over the battles.
    """

    x: np.ndarray
    names: tuple[str, ...]
    center: np.ndarray
    spread: np.ndarray
    kinds: tuple[str, ...]
    dropped: tuple[str, ...] = ()


def feature_block(
    log: BattleLog,
    features: bool | str | Sequence[str],
    *,
    answers: AnswerSource | None = None,
    tokenizer: Callable[[str], int] | None = None,
    standardize: str | Standardize = Standardize.SYMMETRIC,
    stacklevel: int = 2,
) -> FeatureBlock:
    """The standardised feature matrix of a log (see :func:`wizardarena.rank`'s ``style``).

    A feature that is constant over the battles (plain-text answers have no headers, lists
    or bold) has no estimable coefficient: it is dropped with a
    :class:`~wizardarena.exceptions.DataWarning` naming it.
    """
    from wizardarena.exceptions import parse_enum

    how = parse_enum(Standardize, standardize, "standardize")
    x_raw, names = _feature_matrix(log, features, answers, tokenizer)
    x, center, spread = _standardize(x_raw, how)
    flat = ~(spread > 0)
    dropped = tuple(names[k] for k in np.flatnonzero(flat))
    if dropped:
        warnings.warn(
            f"style feature(s) {list(dropped)} are constant over the battles (e.g. no answer "
            "has any), so their coefficient cannot be estimated; they are left out of the fit",
            DataWarning, stacklevel=stacklevel + 1,
        )
    keep = ~flat
    kept = tuple(n for n, k in zip(names, keep) if k)
    return FeatureBlock(x=np.ascontiguousarray(x[:, keep]), names=kept, center=center[keep],
                        spread=spread[keep], kinds=("style",) * len(kept), dropped=dropped)
