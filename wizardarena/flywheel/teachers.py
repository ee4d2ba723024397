"""The teacher of each prompt: ratings of the opponents and the choice among those that beat
the target (step 6 of :mod:`wizardarena.flywheel`)."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.battles import BattleLog
from wizardarena.exceptions import RidgeWarning, ValidationError
from wizardarena.leaderboard import Leaderboard
from wizardarena.ratings.fit import fit
from wizardarena.ratings.options import RatingOptions

__all__ = ["PerPrompt", "Teacher", "choose_teachers", "fitted_ratings", "ratings_series",
           "stable_hash"]


class PerPrompt(str, Enum):
    """``best``: one example per prompt (the teacher chosen by :class:`Teacher`); ``all``:
    one per opponent."""

    BEST = "best"
    ALL = "all"


class Teacher(str, Enum):
    """How ``per_prompt="best"`` chooses among the opponents that beat the target on a prompt.

    ``margin``: the largest loss margin, then the highest rating; ``rating``: the highest
    rating, then the largest margin. Remaining ties (equal margin and rating) go to a stable
    pseudo-random pick per prompt (a hash of question id, opponent and judge), never to the
    order of the names.
    """

    MARGIN = "margin"
    RATING = "rating"


def ratings_series(ratings: Any) -> pd.Series | None:
    """``ratings=`` of the flywheel (a Leaderboard, Series or mapping) as a checked Series."""
    if ratings is None:
        return None
    if isinstance(ratings, Leaderboard):
        s = ratings.table["rating"].dropna()  # a model the board could not rate has none
    elif isinstance(ratings, (pd.Series, Mapping)):
        s = pd.Series(ratings)
    else:
        raise ValidationError("ratings must be a Leaderboard, a Series or a mapping of model "
                              f"to rating; got {type(ratings).__name__}")
    values = pd.to_numeric(s, errors="coerce").astype(float)
    bad = values.index[~np.isfinite(values.to_numpy())].tolist()
    if bad:
        raise ValidationError(f"ratings must be finite numbers; models {bad[:5]} have "
                              f"{s.loc[bad[:5]].tolist()}")
    values.index = values.index.astype(str)
    return values


def stable_hash(*parts: object) -> int:
    """A reproducible pseudo-random integer of ``parts`` (independent of name order)."""
    text = "\x00".join(str(p) for p in parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "big")


def fitted_ratings(log: BattleLog, *, stacklevel: int) -> pd.Series:
    """Bradley-Terry ratings of ``log`` from the rating engine, without intervals.

    Only their order matters here. Models without a finite maximum-likelihood rating
    (undefeated, winless) are held finite by the engine's ridge, which keeps them at the
    top or the bottom of that order, so its RidgeWarning is not repeated; any other
    warning of the fit is, ``stacklevel`` frames above the caller.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit(log, RatingOptions(ci="none"))
    for w in caught:
        if issubclass(w.category, RidgeWarning):
            continue
        warnings.warn(f"flywheel teacher ratings (wa.rank(battles, ci='none')): "
                      f"{w.message}", w.category, stacklevel=stacklevel + 1)
    return result.table["rating"].astype(float)


def _teacher_ratings(log: BattleLog, opponents: Sequence[str],
                     given: pd.Series | None) -> pd.Series:
    """The given ratings (every opponent needs one), or the ratings fitted on the log."""
    if given is not None:
        lack = [o for o in opponents if o not in given.index]
        if lack:
            raise ValidationError(
                f"ratings has no rating for opponents {sorted(lack)[:10]}; give every "
                "opponent a rating, or leave ratings=None to fit them from the battle log")
        return given
    return fitted_ratings(log, stacklevel=6)


def choose_teachers(usable: pd.DataFrame, log: BattleLog, *, per_prompt: PerPrompt,
                    teacher: Teacher, ratings: pd.Series | None
                    ) -> tuple[pd.DataFrame, pd.Series | None]:
    """One teacher per prompt (``best``) or every opponent (``all``), sorted by prompt.

    Returns the kept groups and the ratings that chose between teachers (None when no
    choice needed ratings).
    """
    q = usable["question_id"]
    rating: pd.Series | None = None
    if per_prompt is PerPrompt.BEST:
        if teacher is Teacher.MARGIN:
            top = usable["margin"] == usable.groupby("question_id")["margin"].transform("max")
            contested = top.groupby(q).sum() > 1
        else:
            contested = q.value_counts() > 1
        if contested.any():
            rating = _teacher_ratings(log, usable["opponent"].unique().tolist(), ratings)
    r = (usable["opponent"].map(rating) if rating is not None
         else pd.Series(np.nan, index=usable.index))
    order = pd.DataFrame({
        "q": q, "m": -usable["margin"], "r": -r.astype(float),
        "turn": -usable["turn"],
        "tie": [stable_hash(a, b, c) for a, b, c in
                zip(q, usable["opponent"], usable["judge"])],
    }, index=usable.index)
    keys = ["q", "m", "r"] if teacher is Teacher.MARGIN else ["q", "r", "m"]
    kept = usable.loc[order.sort_values([*keys, "turn", "tie"], kind="mergesort").index]
    if per_prompt is PerPrompt.BEST:
        kept = kept.drop_duplicates("question_id", keep="first")
    return kept, rating
