"""Position bias: how much a judge favours the answer it is shown first.

Three numbers, read together (:class:`PositionBias`):

``first_slot_win_rate``
    Share of decisive verdicts won by the model shown first (``model_a``). 0.5 means no
    preference *if* every model was shown first about as often as second; on a log whose
    order follows the model names (or a baseline always shown first) it mixes position with
    strength, which is why the fitted effect exists.
``position_consistency``
    Over the (prompt, turn, pair) judged in both orders, the share whose verdict names the
    same winner (or a tie) both times. 1 means the order never changed a verdict.
``effect`` (``wa.rank(..., position=True)``)
    The fitted first-slot advantage in Elo points, with its interval: one parameter ``γ``
    added to the logit of the model shown first, ``P(first wins) = σ(r_first − r_second +
    γ)`` (the home-advantage model), fitted jointly with the ratings, which are then
    corrected for it. It is identified only when the order varies independently of the
    models: on a log where the same model is always shown first (a baseline in the first
    slot, say) it is not, and no number is reported.

Pure numpy / pandas.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wizardarena.battles import BattleLog, Outcome

__all__ = ["PositionBias", "position_stats"]


@dataclass(frozen=True)
class PositionBias:
    """How strongly the judge favoured the first slot.

    Attributes
    ----------
    first_slot_win_rate : float
        Share of decisive verdicts won by the model shown first (NaN without decisive ones).
    position_consistency : float
        Share of the (prompt, turn, pair) judged in both orders whose two verdicts agree (NaN
        when no pair was judged in both orders, or the log has no ``question_id``).
    n_decisive : int
        Decisive verdicts behind ``first_slot_win_rate``.
    n_both_orders : int
        (prompt, turn, pair) judged in both orders, behind ``position_consistency``.
    effect, lower, upper : float
        Fitted first-slot advantage in Elo points and its interval (NaN when not fitted or
        not identified).
    level : float
        Level of the interval.
    identified : bool or None
        Whether the effect could be estimated (None when it was not fitted).
    note : str
        Why the effect is missing, when it is.
    """

    first_slot_win_rate: float
    position_consistency: float
    n_decisive: int
    n_both_orders: int
    effect: float = math.nan
    lower: float = math.nan
    upper: float = math.nan
    level: float = 0.95
    identified: bool | None = None
    note: str = ""

    def as_series(self) -> pd.Series:
        """The report as a Series (for tables and JSON)."""
        return pd.Series({k: getattr(self, k) for k in self.__dataclass_fields__},
                         name="position_bias", dtype=object)

    def to_markdown(self) -> str:
        """A short markdown paragraph a person can read."""
        def pct(v: float) -> str:
            return "n/a" if math.isnan(v) else f"{100 * v:.1f}%"

        consistency = (f"{pct(self.position_consistency)} of {self.n_both_orders} "
                       "(prompt, pair) judged in both orders" if self.n_both_orders
                       else "n/a (no (prompt, pair) judged in both orders)")
        lines = [
            f"- first-slot win rate: {pct(self.first_slot_win_rate)} of "
            f"{self.n_decisive} decisive verdicts",
            f"- position consistency: {consistency}",
        ]
        if self.identified:
            lines.append(f"- fitted first-slot effect: {self.effect:+.1f} Elo "
                         f"[{self.lower:+.1f}, {self.upper:+.1f}] ({100 * self.level:g}%)")
        elif self.identified is False:
            lines.append(f"- fitted first-slot effect: not identified ({self.note})")
        return "\n".join(lines)


def position_stats(log: BattleLog, *, prompt: str = "question_id") -> PositionBias:
    """First-slot win rate and position consistency of a log (``model_a`` = shown first).

    Position consistency needs the prompt column (``question_id``); a ``turn`` column, when
    present, separates the turns of multi-turn prompts.
    """
    out = log.outcome
    a_wins = int(np.sum(out == Outcome.A))
    b_wins = int(np.sum(out == Outcome.B))
    decisive = a_wins + b_wins
    first = a_wins / decisive if decisive else math.nan
    consistency, n_both = math.nan, 0
    if log.has_column(prompt) and log.n_battles:
        q, _ = log.group_codes(prompt)
        if log.has_column("turn"):
            t = pd.factorize(log.column("turn").astype(str), sort=False)[0].astype(np.int64)
            q = q * (int(t.max()) + 1) + t
        m = log.n_models
        lo = np.minimum(log.a, log.b).astype(np.int64)
        hi = np.maximum(log.a, log.b).astype(np.int64)
        key = (q * m + lo) * m + hi
        lo_first = log.a == lo
        # the verdict named by model: +1 lo won, -1 hi won, 0 tie
        named = np.where(out == Outcome.A, 1, np.where(out == Outcome.B, -1, 0))
        named = np.where(lo_first, named, -named)
        frame = pd.DataFrame({"key": key, "lo_first": lo_first, "named": named})
        one = frame[frame["lo_first"]].drop_duplicates("key").set_index("key")["named"]
        two = frame[~frame["lo_first"]].drop_duplicates("key").set_index("key")["named"]
        both = one.index.intersection(two.index)
        n_both = len(both)
        if n_both:
            consistency = float(np.mean(one.loc[both].to_numpy() == two.loc[both].to_numpy()))
    return PositionBias(first_slot_win_rate=first, position_consistency=consistency,
                        n_decisive=decisive, n_both_orders=n_both)
