"""Margins of the target's games: each game's signed margin and the (prompt, opponent, judge,
turn) groups of both orders (steps 1-3 of :mod:`wizardarena.flywheel`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import Enum

import numpy as np
import pandas as pd

from wizardarena.battles import BattleLog
from wizardarena.battles.schema import OUTCOME_SIGN, WINNER_OUTCOMES
from wizardarena.exceptions import ValidationError

__all__ = ["DEFAULT_LABEL_MARGINS", "SIDE", "MarginSource", "game_margins", "target_groups"]

#: margin of each judge label from ``model_a``'s side (Arena-Hard and MT-Bench labels)
DEFAULT_LABEL_MARGINS: Mapping[str, float] = {
    "A>>B": 3.0, "A>B": 1.0, "A=B": 0.0, "B=A": 0.0, "B>A": -1.0, "B>>A": -3.0,
    "A": 1.0, "B": -1.0, "C": 0.0,
}

#: the side of each ``winner`` label from ``model_a``'s point of view (+1, -1, tie 0)
SIDE: Mapping[str, int] = {lab: OUTCOME_SIGN[out] for lab, out in WINNER_OUTCOMES.items()}


class MarginSource(str, Enum):
    """Where a game's margin comes from.

    ``auto`` uses the scores when both are present, else the verdict label; ``scores``,
    ``labels`` and ``winner`` force one source (``winner``: ±1, tie 0).
    """

    AUTO = "auto"
    SCORES = "scores"
    LABELS = "labels"
    WINNER = "winner"


def game_margins(f: pd.DataFrame, source: MarginSource,
                 label_margins: Mapping[str, float]) -> np.ndarray:
    """Signed margin of each game from model_a's side, checked against ``winner``."""
    n = len(f)
    has_scores = "score_a" in f.columns and "score_b" in f.columns
    sa = (pd.to_numeric(f["score_a"], errors="coerce").to_numpy(dtype=float)
          if has_scores else np.full(n, np.nan))
    sb = (pd.to_numeric(f["score_b"], errors="coerce").to_numpy(dtype=float)
          if has_scores else np.full(n, np.nan))
    scored = np.isfinite(sa) & np.isfinite(sb)
    side = f["winner"].map(SIDE).to_numpy(dtype=float)
    margin = np.full(n, np.nan)
    if source is MarginSource.WINNER:
        return side
    use_scores = scored if source is MarginSource.AUTO else (
        np.ones(n, dtype=bool) if source is MarginSource.SCORES else np.zeros(n, dtype=bool))
    if source is MarginSource.SCORES and not scored.all():
        bad = np.flatnonzero(~scored)[:5]
        raise ValidationError(
            "margin_source='scores' needs numeric score_a and score_b in every game of the "
            f"target; games at rows {f.index[bad].tolist()} lack them")
    margin[use_scores] = sa[use_scores] - sb[use_scores]
    need = ~use_scores
    if need.any():
        if "verdict" not in f.columns:
            bad = np.flatnonzero(need)[:5]
            raise ValidationError(
                "games without scores need a 'verdict' column with judge labels "
                f"(rows {f.index[bad].tolist()}); or use margin_source='winner'")
        labels = f["verdict"].to_numpy(dtype=object)[need]
        keys = [str(v).strip().removeprefix("[[").removesuffix("]]").strip()
                if isinstance(v, str) else None for v in labels]
        vals = np.array([label_margins.get(k, np.nan) if k is not None else np.nan
                         for k in keys])
        unknown = np.flatnonzero(np.isnan(vals))
        if unknown.size:
            rows = f.index[np.flatnonzero(need)[unknown[:5]]].tolist()
            raise ValidationError(
                f"verdict labels must be one of {sorted(label_margins)} (label_margins) "
                f"when scores are absent; rows {rows} have "
                f"{[labels[i] for i in unknown[:5]]}")
        margin[need] = vals
    wrong = np.flatnonzero(np.sign(margin) != side)
    if wrong.size:
        rows = f.index[wrong[:5]].tolist()
        raise ValidationError(
            "the margin disagrees with the winner column at rows "
            f"{rows}: winner {f['winner'].iloc[wrong[:5]].tolist()}, margin "
            f"{margin[wrong[:5]].tolist()} (model_a's side); fix the log or the "
            "label_margins")
    return margin


def target_groups(log: BattleLog, target: str, opponents: Sequence[str] | None, *,
                  source: MarginSource, label_margins: Mapping[str, float]
                  ) -> tuple[pd.DataFrame, int]:
    """The target's games grouped by (question_id, opponent, judge, turn), both orders side by
    side (``loss_1``, ``outcome_1`` shown first; ``_2`` shown second), and the game count."""
    if not log.has_column("question_id"):
        raise ValidationError("the battle log needs a question_id column for the flywheel")
    if target not in log.models:
        raise ValidationError(
            f"target {target!r} does not appear in the battle log; models: "
            f"{list(log.models)[:20]}")
    if opponents is not None:
        absent = [o for o in opponents if o not in log.models]
        if absent:
            raise ValidationError(f"opponents {absent} do not appear in the battle log")
    f = log.to_frame()
    first = (f["model_a"] == target).to_numpy()
    mine = first | (f["model_b"] == target).to_numpy()
    opponent = np.where(first, f["model_b"], f["model_a"])
    if opponents is not None:
        mine &= np.isin(opponent, opponents)
    f = f.loc[mine]
    first, opponent = first[mine], opponent[mine]
    if f.empty:
        raise ValidationError(f"the battle log has no games of {target!r} against the opponents")
    if f["question_id"].isna().any():
        rows = f.index[f["question_id"].isna().to_numpy()][:5].tolist()
        raise ValidationError(f"column 'question_id' has missing values at rows {rows}")
    m_t = np.where(first, 1.0, -1.0) * game_margins(f, source, label_margins)
    games = pd.DataFrame({
        "question_id": f["question_id"].astype(str).to_numpy(),
        "opponent": opponent.astype(str),
        "judge": (f["judge"].astype(str).to_numpy() if "judge" in f.columns else ""),
        "first": first,
        "loss": -m_t,
        "outcome": np.sign(m_t),
        "turn": (pd.to_numeric(f["turn"]).fillna(1).astype(np.int64).to_numpy()
                 if "turn" in f.columns else 1),
        "category": (f["category"].to_numpy(dtype=object) if "category" in f.columns
                     else None),
    })
    key = ["question_id", "opponent", "judge", "turn"]
    dup = games.duplicated([*key, "first"], keep=False)
    if dup.any():
        rows = f.index[dup.to_numpy()][:6].tolist()
        raise ValidationError(
            "each (question_id, opponent, judge, turn) must have at most one game per order; "
            f"rows {rows} repeat one (deduplicate the log or split it by turn)")
    one = games[games["first"]].set_index(key)
    two = games[~games["first"]].set_index(key)
    cols = ["loss", "outcome", "category"]
    grp = one[cols].add_suffix("_1").join(two[cols].add_suffix("_2"), how="outer")
    grp["category"] = grp["category_1"].where(grp["category_1"].notna(), grp["category_2"])
    return grp.reset_index(), len(games)
