"""BattleDifficulty's model strengths come from the rating engine, not raw win rates."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from wizardarena.api import rank
from wizardarena.testset.difficulty import BattleDifficulty


def baseline_only_log() -> pd.DataFrame:
    """Every model meets only the baseline; the baseline mostly meets stronger models.

    On each of 20 prompts: three strong models beat the baseline 16 times in 20, and the
    baseline beats "weak" 12 times in 20. The baseline's raw win rate is 24/80 = 0.30 and
    weak's 8/20 = 0.40, although the baseline beats weak.
    """
    rows = []
    for i in range(20):
        q = f"q{i:02d}"
        for s in ("strong-1", "strong-2", "strong-3"):
            rows.append({"question_id": q, "model_a": "base", "model_b": s,
                         "winner": "model_b" if i < 16 else "model_a"})
        rows.append({"question_id": q, "model_a": "base", "model_b": "weak",
                     "winner": "model_a" if i < 12 else "model_b"})
    return pd.DataFrame(rows)


def test_strengths_are_bradley_terry_ratings_of_the_log() -> None:
    log = baseline_only_log()
    scorer = BattleDifficulty(log)
    s = scorer.strengths()
    board = rank(log, ci="none")
    assert s.to_dict() == pytest.approx(board.table["rating"].reindex(s.index).to_dict())
    assert s["base"] > s["weak"]  # the baseline beats weak 12 to 8
    assert s["strong-1"] > s["base"]
    # q00: the strong models beat the baseline, the baseline beats weak: no upset at all
    t = scorer.table
    assert t.loc["q00", "upset_rate"] == 0.0
    # q19: every favourite lost
    assert t.loc["q19", "upset_rate"] == 1.0
    # q12: the strong models won, weak beat the baseline: an upset, weighted by its gap
    gap_s, gap_w = s["strong-1"] - s["base"], s["base"] - s["weak"]
    assert t.loc["q12", "upset_rate"] == pytest.approx(gap_w / (3 * gap_s + gap_w))


def test_real_arena_hard_baseline_is_stronger_than_a_model_it_beats(shared_data: Path
                                                                    ) -> None:
    """gpt-4-0314 meets five models, four of them stronger, and beats gpt-4-0613 62% of the
    time; its raw win rate (0.31) is below gpt-4-0613's (0.38)."""
    path = shared_data / "arena_hard" / \
        "battles_judge-gpt-4-1106-preview_baseline-gpt-4-0314.jsonl"
    log = pd.read_json(path, lines=True, dtype={"question_id": str})
    keep = ["Nexusflow__Athene-V2-Chat", "Qwen__Qwen2.5-72B-Instruct",
            "mistralai__Mistral-Large-Instruct-2407",
            "mistralai__Mistral-Small-24B-Instruct-2501", "gpt-4-0613"]
    sub = log[log["model_b"].isin(keep)]
    vs = sub[sub["model_b"] == "gpt-4-0613"]["winner"]
    assert ((vs == "model_a") + 0.5 * (vs == "tie")).mean() == pytest.approx(0.621, abs=1e-3)
    s = BattleDifficulty(sub).strengths()
    assert s["gpt-4-0314"] > s["gpt-4-0613"] + 50
