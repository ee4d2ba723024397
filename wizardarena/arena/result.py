"""What a run of the arena returns: :class:`ArenaResult` (the battle log, the failures,
the counters) and the position statistics of a battle log."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import cached_property

import pandas as pd

from wizardarena.arena.store import failure_summary
from wizardarena.battles import read_battles
from wizardarena.exceptions import WizardArenaWarning
from wizardarena.ratings.fit import fit
from wizardarena.ratings.options import RatingOptions
from wizardarena.ratings.position import PositionBias
from wizardarena.ratings.position import position_stats as position_stats_of

__all__ = ["ArenaResult", "position_stats"]


@dataclass(frozen=True)
class ArenaResult:
    """Outcome of :func:`run_arena`.

    Attributes
    ----------
    battles : pandas.DataFrame
        The battle log of this judge and template (all stored successful judgments, earlier
        runs included); empty when run with ``load=False``.
    failed : pandas.DataFrame
        Stored failed judgments of this judge and template (earlier runs included): key,
        ``reason`` (``"unparseable verdict"``, ``"HTTP 400 context_length_exceeded"`` ...),
        raw judge text and error message.
    n_scheduled : int
        Judgments in the schedule.
    n_skipped : int
        Scheduled judgments already in the store (not requested).
    n_ok, n_failed, n_errors : int
        Results of this run: parsed; stored as failed (unparseable verdicts and requests the
        endpoint rejected for good, ``n_rejected`` of them); requests whose transient
        failures outlasted the retries (not stored; a rerun asks again).
    requests, retries : int
        HTTP attempts and retries of this run.
    prompt_tokens, completion_tokens : int
        Judge tokens of this run.
    first_slot_win_rate : float
        Share of decisive battles won by the model in the first slot (NaN if none); 0.5
        means no position bias.
    position_consistency : float
        Share of (question, pair, turn) judged in both orders whose two verdicts name the
        same winner (or both a tie); NaN if none.
    elapsed : float
        Seconds.
    judge, template, template_hash : str
    errors : tuple of str
        The first few request-failure messages, each starting with the judgment's key.
    n_rejected : int
        Of ``n_failed``, the requests the endpoint rejected (permanent failures).
    """

    battles: pd.DataFrame
    failed: pd.DataFrame
    n_scheduled: int
    n_skipped: int
    n_ok: int
    n_failed: int
    n_errors: int
    requests: int
    retries: int
    prompt_tokens: int
    completion_tokens: int
    first_slot_win_rate: float
    position_consistency: float
    elapsed: float
    judge: str
    template: str
    template_hash: str
    errors: tuple[str, ...] = ()
    n_rejected: int = 0

    def summary(self) -> pd.Series:
        """The scalar statistics as a Series."""
        keys = ["n_scheduled", "n_skipped", "n_ok", "n_failed", "n_rejected", "n_errors",
                "requests", "retries", "prompt_tokens", "completion_tokens",
                "first_slot_win_rate", "position_consistency", "elapsed"]
        return pd.Series({k: getattr(self, k) for k in keys}, name="arena", dtype=object)

    @cached_property
    def position_bias(self) -> PositionBias:
        """First-slot win rate, position consistency and the fitted first-slot effect (in
        Elo, with its 95% sandwich interval; see ``wa.rank(..., position=True)``) of the
        battle log, fitted by the rating engine."""
        if len(self.battles) == 0:
            return PositionBias(math.nan, math.nan, 0, 0)
        log = read_battles(self.battles)
        if log.n_models < 2:
            return position_stats_of(log)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", WizardArenaWarning)
            result = fit(log, RatingOptions(position=True, ci="sandwich"))
        assert result.position_bias is not None  # internal invariant: position=True
        return result.position_bias

    def failure_summary(self, first: int = 3) -> pd.DataFrame:
        """Stored failed judgments counted by reason, with the first ``first`` keys and the
        first message (see :meth:`JudgmentStore.failure_summary`)."""
        return failure_summary(self.failed, first=first)


def position_stats(battles: pd.DataFrame) -> tuple[float, float]:
    """First-slot win rate and position-consistency rate of a battle log.

    Parameters
    ----------
    battles : pandas.DataFrame
        Columns ``question_id, model_a, model_b, winner`` (``model_a`` shown first; and
        ``turn`` if present).

    Returns
    -------
    (first_slot_win_rate, position_consistency) : tuple of float
        See :class:`~wizardarena.ratings.position.PositionBias`; NaN when undefined.
    """
    if len(battles) == 0:
        return math.nan, math.nan
    report = position_stats_of(read_battles(battles))
    return report.first_slot_win_rate, report.position_consistency
