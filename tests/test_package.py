"""Package-level contracts: the public API is locked, the core stays pure."""

from __future__ import annotations

import ast
from pathlib import Path

import wizardarena as wa

PKG = Path(wa.__file__).resolve().parent


def test_all_is_sorted_and_importable() -> None:
    names = list(wa.__all__)

    def isort_key(name: str) -> tuple[int, str]:  # constants, classes, then the rest (ruff RUF022)
        kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
        return kind, name

    assert names == sorted(names, key=isort_key)
    assert len(set(names)) == len(names)
    for name in names:
        assert hasattr(wa, name), name


def test_public_api_is_locked() -> None:
    expected = {
        "WINNER_LABELS", "ArenaError", "BattleLog", "ClientError", "ConvergenceError",
        "ConvergenceWarning", "DataWarning", "FitInfo", "HTTPStatusError", "JudgeParseError",
        "Leaderboard", "MissingExtraError", "Outcome", "ReferenceMatchError", "RidgeWarning",
        "StoreError", "ValidationError", "Vocabulary", "WizardArenaError",
        "WizardArenaWarning", "__version__", "rank", "ranks_from_intervals", "read_battles",
        "simulate_battles",
        # agreement (issue 5)
        "AgreementReport", "Reference", "agreement", "agreement_by_category",
        "fetch_reference", "load_reference", "match_models",
        # arena and simulated arena (issue 3)
        "ArenaResult", "AsyncClient", "Client", "Judge", "JudgmentStore", "Template",
        "generate_answers", "load_answers", "load_prompts", "run_arena", "SimArena",
        "SimJudge", "SimModel",
        # test sets (issue 4)
        "APIEmbedder", "BattleDifficulty", "CriteriaDifficulty", "DecontaminationResult",
        "LLMDifficulty", "Precomputed", "SentenceTransformerEmbedder", "TestSet",
        "TfidfEmbedder", "build_testset", "decontaminate", "normalize_prompts", "read_prompts",
        # flywheel and style control (issue 6)
        "Comparison", "Flywheel", "FlywheelStats", "TrainingData", "compare", "StyleFit",
        "fit_style", "STYLE_FEATURES", "answer_style",
        # real model names and reference boards (issue 11)
        "ReferenceFetchError", "load_aliases",
    }
    assert set(wa.__all__) == expected


def test_validation_error_is_a_value_error() -> None:
    assert issubclass(wa.ValidationError, ValueError)
    assert issubclass(wa.ValidationError, wa.WizardArenaError)


FORBIDDEN = {"httpx", "socket", "urllib", "requests", "asyncio", "sqlite3", "http", "tenacity",
             "subprocess"}
PURE = ["ratings", "leaderboard.py", "sim/battles.py", "api.py", "agreement/metrics.py",
        "agreement/matching.py"]


def test_core_modules_do_no_network_io() -> None:
    files: list[Path] = []
    for entry in PURE:
        path = PKG / entry
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    assert files
    for f in files:
        tree = ast.parse(f.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            mods: list[str] = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                mods = [node.module]
            for mod in mods:
                assert mod.split(".")[0] not in FORBIDDEN, f"{f.name} imports {mod}"


def test_no_global_seeding_anywhere() -> None:
    for f in [*PKG.rglob("*.py"), *(PKG.parent / "tests").rglob("*.py")]:
        if f.resolve() == Path(__file__).resolve():
            continue
        text = f.read_text(encoding="utf-8")
        assert "np.random.seed(" not in text, f
        assert "random.seed(" not in text.replace("np.random.seed(", ""), f
