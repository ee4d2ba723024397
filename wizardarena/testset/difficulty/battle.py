"""Difficulty from an existing battle log (no LLM call)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from wizardarena.battles import read_battles
from wizardarena.exceptions import ValidationError
from wizardarena.ratings.fit import fit
from wizardarena.ratings.options import RatingOptions
from wizardarena.testset.difficulty.result import DifficultyResult

__all__ = ["BattleDifficulty"]


class BattleDifficulty:
    """Difficulty from an existing battle log: prompts that upset the ranking score high.

    Rule (stated exactly):

    1. Model strength ``s_m``: the given ``ratings`` (any scale where higher is stronger), or
       else the model's Bradley-Terry rating fitted on the log by the rating engine
       (``wa.rank(battles, ci="none")``, ties count one half). Not the raw win rate: in a
       baseline-only log the baseline mostly meets stronger models, and its win rate would
       rank it below models it beats.
    2. Each battle on prompt ``q`` between models of different strength has weight
       ``|s_a - s_b|`` and an *upset* value: 1 if the weaker model won, 1/2 for a tie (either
       kind), 0 if the stronger won. ``upset_rate(q)`` is the weighted mean upset over the
       prompt's battles (undefined when all its battles are between equally strong models).
    3. ``order_disagreement(q)``: among the model pairs judged more than once on ``q`` (with a
       ``game`` column: in both position orders, game 0 and game 1), the share whose
       verdicts disagree (outcomes differ once expressed from the same model's side).
    4. ``difficulty(q) = 10 * ((1 - w) * upset_rate + w * order_disagreement)`` with
       ``w = order_weight``; when only one term is defined for ``q`` it is used alone
       (``10 * term``), when neither is (or ``q`` has fewer than ``min_battles``), NaN.

    Prompts on which strong models lose to weak ones, or on which the judge contradicts itself
    across orders, therefore rank first: they are the prompts that separate models in an
    unexpected way (hard or noisy prompts). Prompt ids are matched on ``question_id``; prompts
    absent from the log get NaN (never a default).

    Parameters
    ----------
    battles : path, DataFrame, list of dict or BattleLog
        Anything :func:`~wizardarena.battles.read_battles` reads (a ``.parquet``, ``.jsonl``,
        ``.json`` or ``.csv`` file, ...) with columns ``question_id, model_a, model_b,
        winner`` (winner in ``model_a``, ``model_b``, ``tie``, ``tie (bothbad)``); optional
        ``game`` (0/1) and ``weight``.
    ratings : Series or mapping, optional
        Model strengths (e.g. Elo); every model in the log must have one.
    order_weight : float, default 0.5
        Weight ``w`` of the order-disagreement term, in [0, 1].
    min_battles : int, default 1
        Prompts with fewer battles get NaN.
    """

    def __init__(
        self,
        battles: Any,
        *,
        ratings: pd.Series | dict[str, float] | None = None,
        order_weight: float = 0.5,
        min_battles: int = 1,
    ) -> None:
        if not 0.0 <= order_weight <= 1.0:
            raise ValidationError(f"order_weight must be in [0, 1]; got {order_weight!r}")
        if min_battles < 1:
            raise ValidationError(f"min_battles must be >= 1; got {min_battles!r}")
        log = read_battles(battles)
        if not log.has_column("question_id"):
            raise ValidationError(
                "BattleDifficulty needs a 'question_id' column in the battle log"
            )
        self.log = log
        self.ratings = None if ratings is None else pd.Series(ratings, dtype=float)
        self.order_weight = float(order_weight)
        self.min_battles = int(min_battles)
        self._table = self._compute()

    def __repr__(self) -> str:
        return f"BattleDifficulty({self.log.n_battles} battles, {len(self._table)} prompts)"

    def strengths(self) -> pd.Series:
        """Model strengths used (the given ratings, or Bradley-Terry ratings of the log),
        indexed by model."""
        log = self.log
        models = pd.Index(log.models)
        if self.ratings is not None:
            missing = models.difference(self.ratings.index)
            if len(missing):
                raise ValidationError(
                    f"ratings lack models present in the battle log: {missing[:5].tolist()}"
                )
            s = self.ratings.reindex(models)
            if not np.isfinite(s.to_numpy()).all():
                raise ValidationError("ratings must be finite numbers")
            return s
        # the rating engine: Bradley-Terry, ties half a win
        result = fit(log, RatingOptions(ci="none"), stacklevel=3)
        return result.table["rating"].reindex(models).astype(float).rename("strength")

    def _compute(self) -> pd.DataFrame:
        log = self.log
        s = self.strengths().to_numpy()
        w = np.ones(log.n_battles) if log.weight is None else log.weight
        qid = log.column("question_id").astype(str).to_numpy()
        q_codes, q_names = pd.factorize(qid)
        nq = len(q_names)
        sa, sb = s[log.a], s[log.b]
        a_score = np.select([log.outcome == 0, log.outcome == 1], [1.0, 0.0], 0.5)
        gap = np.abs(sa - sb) * w
        # score of the weaker model: upset = 1 when it won
        weak_score = np.where(sa < sb, a_score, 1.0 - a_score)
        num = np.bincount(q_codes, gap * weak_score, nq)
        den = np.bincount(q_codes, gap, nq)
        with np.errstate(invalid="ignore", divide="ignore"):
            upset = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
        n_battles = np.bincount(q_codes, minlength=nq)

        # order disagreement: canonical pair (lo, hi), outcome from lo's side
        lo = np.minimum(log.a, log.b)
        hi = np.maximum(log.a, log.b)
        lo_score = np.where(log.a == lo, a_score, 1.0 - a_score)
        frame = pd.DataFrame({"q": q_codes, "lo": lo, "hi": hi, "score": lo_score})
        if log.has_column("game"):
            game = pd.to_numeric(log.column("game"), errors="coerce").to_numpy()
            bad = np.flatnonzero(~np.isin(game, [0, 1]))
            if len(bad):
                raise ValidationError(
                    f"column 'game' must be 0 or 1; rows {bad[:5].tolist()} have "
                    f"{log.column('game').to_numpy()[bad[:5]].tolist()}"
                )
            frame["game"] = game.astype(np.int64)
            grouped = frame.groupby(["q", "lo", "hi"], sort=False).agg(
                nmin=("score", "min"), nmax=("score", "max"),
                g0=("game", "min"), g1=("game", "max"),
            )
            grouped = grouped[(grouped["g0"] == 0) & (grouped["g1"] == 1)]
        else:
            grouped = frame.groupby(["q", "lo", "hi"], sort=False).agg(
                nmin=("score", "min"), nmax=("score", "max"), n=("score", "size")
            )
            grouped = grouped[grouped["n"] > 1]
        q_of_pair = grouped.index.get_level_values("q").to_numpy()
        disagree = (grouped["nmax"] > grouped["nmin"]).to_numpy().astype(float)
        pairs = np.bincount(q_of_pair, minlength=nq).astype(float)
        dis = np.bincount(q_of_pair, disagree, nq)
        with np.errstate(invalid="ignore", divide="ignore"):
            order = np.where(pairs > 0, dis / np.where(pairs > 0, pairs, 1.0), np.nan)

        wgt = self.order_weight
        both = np.isfinite(upset) & np.isfinite(order)
        score = np.where(
            both,
            10.0 * ((1 - wgt) * np.nan_to_num(upset) + wgt * np.nan_to_num(order)),
            10.0 * np.where(np.isfinite(upset), upset, order),
        )
        score[n_battles < self.min_battles] = np.nan
        return pd.DataFrame(
            {
                "difficulty": score,
                "upset_rate": upset,
                "order_disagreement": order,
                "n_battles": n_battles,
            },
            index=pd.Index(q_names.astype(str), name="prompt_id"),
        )

    @property
    def table(self) -> pd.DataFrame:
        """Per prompt in the log: ``difficulty``, ``upset_rate``, ``order_disagreement``,
        ``n_battles`` (indexed by prompt id)."""
        return self._table.copy()

    def __call__(self, prompts: pd.DataFrame) -> DifficultyResult:
        """Scores for ``prompts`` (NaN for prompts absent from the battle log)."""
        t = self._table.reindex(prompts.index.astype(str))
        t.index = prompts.index
        return DifficultyResult(
            scores=t["difficulty"].rename("difficulty"),
            details=t[["upset_rate", "order_disagreement", "n_battles"]],
        )
