"""wizardarena: offline LLM leaderboards in the spirit of WizardArena (arXiv 2407.10627).

>>> import wizardarena as wa
>>> board = wa.rank("battles.parquet")        # doctest: +SKIP
"""

from __future__ import annotations

from wizardarena.api import rank
from wizardarena.battles import WINNER_LABELS, BattleLog, Outcome, Vocabulary, read_battles
from wizardarena.exceptions import (
    ArenaError,
    ClientError,
    ConvergenceError,
    ConvergenceWarning,
    DataWarning,
    HTTPStatusError,
    JudgeParseError,
    MissingExtraError,
    ReferenceMatchError,
    RidgeWarning,
    StoreError,
    ValidationError,
    WizardArenaError,
    WizardArenaWarning,
)
from wizardarena.leaderboard import FitInfo, Leaderboard, ranks_from_intervals
from wizardarena.sim.battles import simulate_battles

__version__ = "0.1.0"

__all__ = [
    "WINNER_LABELS",
    "ArenaError",
    "BattleLog",
    "ClientError",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataWarning",
    "FitInfo",
    "HTTPStatusError",
    "JudgeParseError",
    "Leaderboard",
    "MissingExtraError",
    "Outcome",
    "ReferenceMatchError",
    "RidgeWarning",
    "StoreError",
    "ValidationError",
    "Vocabulary",
    "WizardArenaError",
    "WizardArenaWarning",
    "__version__",
    "rank",
    "ranks_from_intervals",
    "read_battles",
    "simulate_battles",
]
