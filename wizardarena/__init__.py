"""wizardarena: offline LLM leaderboards in the spirit of WizardArena (arXiv 2407.10627).

>>> import wizardarena as wa
>>> board = wa.rank("battles.parquet")        # doctest: +SKIP
"""

from __future__ import annotations

from wizardarena.agreement import (
    AgreementReport,
    Reference,
    agreement,
    agreement_by_category,
    fetch_reference,
    load_reference,
    match_models,
)
from wizardarena.api import rank
from wizardarena.arena import (
    ArenaResult,
    AsyncClient,
    Client,
    Judge,
    JudgmentStore,
    Template,
    generate_answers,
    load_answers,
    load_prompts,
    run_arena,
)
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
from wizardarena.sim import SimArena, SimJudge, SimModel, simulate_battles

__version__ = "0.1.0"

__all__ = [
    "WINNER_LABELS",
    "AgreementReport",
    "ArenaError",
    "ArenaResult",
    "AsyncClient",
    "BattleLog",
    "Client",
    "ClientError",
    "ConvergenceError",
    "ConvergenceWarning",
    "DataWarning",
    "FitInfo",
    "HTTPStatusError",
    "Judge",
    "JudgeParseError",
    "JudgmentStore",
    "Leaderboard",
    "MissingExtraError",
    "Outcome",
    "Reference",
    "ReferenceMatchError",
    "RidgeWarning",
    "SimArena",
    "SimJudge",
    "SimModel",
    "StoreError",
    "Template",
    "ValidationError",
    "Vocabulary",
    "WizardArenaError",
    "WizardArenaWarning",
    "__version__",
    "agreement",
    "agreement_by_category",
    "fetch_reference",
    "generate_answers",
    "load_answers",
    "load_prompts",
    "load_reference",
    "match_models",
    "rank",
    "ranks_from_intervals",
    "read_battles",
    "run_arena",
    "simulate_battles",
]
