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
    load_aliases,
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
    ReferenceFetchError,
    ReferenceMatchError,
    RidgeWarning,
    StoreError,
    ValidationError,
    WizardArenaError,
    WizardArenaWarning,
)
from wizardarena.flywheel import Comparison, Flywheel, FlywheelStats, TrainingData, compare
from wizardarena.leaderboard import FitInfo, Leaderboard, RatingDifference, ranks_from_intervals
from wizardarena.progress import Progress
from wizardarena.ratings.style_features import STYLE_FEATURES, answer_style
from wizardarena.sim import SimArena, SimJudge, SimModel, simulate_battles, simulate_style_battles
from wizardarena.testset import (
    APIEmbedder,
    BattleDifficulty,
    CriteriaDifficulty,
    DecontaminationResult,
    LLMDifficulty,
    Precomputed,
    SentenceTransformerEmbedder,
    TestSet,
    TfidfEmbedder,
    build_testset,
    decontaminate,
    normalize_prompts,
    read_prompts,
)

__version__ = "0.1.0"

__all__ = [
    "STYLE_FEATURES",
    "WINNER_LABELS",
    "APIEmbedder",
    "AgreementReport",
    "ArenaError",
    "ArenaResult",
    "AsyncClient",
    "BattleDifficulty",
    "BattleLog",
    "Client",
    "ClientError",
    "Comparison",
    "ConvergenceError",
    "ConvergenceWarning",
    "CriteriaDifficulty",
    "DataWarning",
    "DecontaminationResult",
    "FitInfo",
    "Flywheel",
    "FlywheelStats",
    "HTTPStatusError",
    "Judge",
    "JudgeParseError",
    "JudgmentStore",
    "LLMDifficulty",
    "Leaderboard",
    "MissingExtraError",
    "Outcome",
    "Precomputed",
    "Progress",
    "RatingDifference",
    "Reference",
    "ReferenceFetchError",
    "ReferenceMatchError",
    "RidgeWarning",
    "SentenceTransformerEmbedder",
    "SimArena",
    "SimJudge",
    "SimModel",
    "StoreError",
    "Template",
    "TestSet",
    "TfidfEmbedder",
    "TrainingData",
    "ValidationError",
    "Vocabulary",
    "WizardArenaError",
    "WizardArenaWarning",
    "__version__",
    "agreement",
    "agreement_by_category",
    "answer_style",
    "build_testset",
    "compare",
    "decontaminate",
    "fetch_reference",
    "generate_answers",
    "load_aliases",
    "load_answers",
    "load_prompts",
    "load_reference",
    "match_models",
    "normalize_prompts",
    "rank",
    "ranks_from_intervals",
    "read_battles",
    "read_prompts",
    "run_arena",
    "simulate_battles",
    "simulate_style_battles",
]
