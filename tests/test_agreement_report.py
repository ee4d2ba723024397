"""``agreement()`` end to end on simulated arenas with known truth, per category, the CLI,
and the llmfao worked example (skipped without ../shared/data)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import wizardarena as wa
from wizardarena.agreement import (
    METRICS,
    AgreementReport,
    agreement,
    agreement_by_category,
    load_reference,
)
from wizardarena.cli import main
from wizardarena.exceptions import ReferenceMatchError, ValidationError

TRUE = {f"model-{k}": 1250.0 - 35.0 * k for k in range(8)}


@pytest.fixture(scope="module")
def board() -> wa.Leaderboard:
    log = wa.simulate_battles(TRUE, 6000, rng=11)
    result = wa.rank(log, rounds=300, rng=12)
    assert isinstance(result, wa.Leaderboard)
    return result


def _truth(with_ci: bool = True, *, rename: bool = True) -> pd.DataFrame:
    names = [m.upper().replace("-", "_") if rename else m for m in TRUE]
    df = pd.DataFrame({"model": names, "rating": list(TRUE.values())})
    if with_ci:
        df["lower"], df["upper"] = df["rating"] - 10, df["rating"] + 10
    return pd.concat(
        [df, pd.DataFrame({"model": ["only-in-ref"], "rating": [900.0]}
                          | ({"lower": [890.0], "upper": [910.0]} if with_ci else {}))]
    )


def test_report_against_truth(board: wa.Leaderboard) -> None:
    rep = agreement(board, load_reference(_truth()))
    assert isinstance(rep, AgreementReport)
    s = rep.summary
    assert list(s.index) == list(METRICS)
    assert list(s.columns) == ["value", "lower", "upper", "n", "note"]
    assert rep.value("spearman") > 0.9 and rep.value("kendall") > 0.8
    assert rep.value("agreement_ci") > 0.8 and 0 <= rep.value("brier") < 0.1
    assert rep.value("reference_separability") == 1.0
    for m in ("spearman", "kendall", "pearson", "top_k_overlap"):
        assert s.at[m, "lower"] <= s.at[m, "upper"]
    assert rep.value("consistency") == pytest.approx(
        np.mean([rep.value("spearman"), rep.value("agreement_ci"), rep.value("separability")]))
    assert s.at["separability", "n"] == 28 and s.at["spearman", "n"] == 8
    assert rep.n_replicates == 300
    # names were matched by the normalized rule; the extra reference model is reported
    assert set(rep.matches["how"]) == {"normalized"}
    assert rep.unmatched.to_dict("records") == [
        {"model": "only-in-ref", "side": "reference", "how": "none", "candidates": (),
         "reason": "not in ours"}
    ]
    # pairs: a above b in the reference; verdict = ours * theirs where theirs separates
    p = rep.pairs
    assert len(p) == 28 and (p["theirs"] == 1).all()
    assert (p["verdict"] == p["ours"]).all()
    assert ((p["p_ours"] >= 0) & (p["p_ours"] <= 1)).all()
    assert np.allclose(p["diff_theirs"], 35.0 * (p["model_b"].str[-1].astype(int)
                                                 - p["model_a"].str[-1].astype(int)))


def test_reference_without_intervals(board: wa.Leaderboard) -> None:
    ref = load_reference(_truth(with_ci=False))
    rep = agreement(board, ref)
    assert math.isnan(rep.value("agreement_ci")) and math.isnan(rep.value("consistency"))
    assert "no intervals" in rep.summary.at["agreement_ci", "note"]
    assert rep.pairs["verdict"].isna().all()
    assert not math.isnan(rep.value("brier"))  # needs only the reference order
    forced = agreement(board, ref, reference_order_only=True)
    assert forced.value("agreement_ci") == pytest.approx(
        forced.pairs["ours"].astype(float).mean())
    assert "taken as certain" in forced.summary.at["agreement_ci", "note"]


def test_self_agreement_is_perfect(board: wa.Leaderboard) -> None:
    rep = agreement(board, board)
    assert rep.value("spearman") == 1.0 and rep.value("kendall") == 1.0
    assert rep.value("agreement_ci") == 1.0
    assert rep.value("separability") == rep.value("reference_separability")
    assert set(rep.matches["how"]) == {"exact"}


def test_sandwich_board_uses_gaussian_draws() -> None:
    log = wa.simulate_battles(TRUE, 4000, rng=3)
    board = wa.rank(log, ci="sandwich", rng=3)
    assert isinstance(board, wa.Leaderboard) and board.replicates is None
    ref = load_reference(_truth())
    a = agreement(board, ref, rng=5, rounds=200)
    b = agreement(board, ref, rng=5, rounds=200)
    assert a.n_replicates == 200
    assert a.summary.equals(b.summary)
    assert any("Gaussian draws" in n for n in a.notes)


def test_too_few_matches_and_bad_args(board: wa.Leaderboard) -> None:
    ref = load_reference(pd.DataFrame({"model": ["x", "y"], "rating": [1.0, 2.0]}))
    with pytest.raises(ReferenceMatchError, match="need at least 2"):
        agreement(board, ref)
    with pytest.raises(ValidationError, match="level"):
        agreement(board, board, level=95)
    with pytest.raises(ValidationError, match="board must be a Leaderboard"):
        agreement(board.table, board)  # type: ignore[arg-type]


def test_markdown_and_html(board: wa.Leaderboard, tmp_path: Path) -> None:
    rep = agreement(board, load_reference(_truth()), title="Sim vs truth")
    md = rep.to_markdown()
    assert md.startswith("## Sim vs truth")
    assert "| spearman |" in md and "only-in-ref" in md
    html = rep.to_html()
    assert html.count("<table") >= 3
    pngs = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(pngs) == 2 and all(len(x) > 1000 for x in pngs)
    rep.to_file(tmp_path / "r.html")
    rep.to_file(tmp_path / "r.md")
    assert (tmp_path / "r.md").read_text() == md
    assert "<img" not in rep.to_html(figures=False)
    assert "AgreementReport(8 models" in repr(rep)


def test_by_category() -> None:
    gen = np.random.default_rng(21)
    frames = []
    for cat, shift in (("coding", 0.0), ("math", 40.0)):
        truth = {m: r + (shift if m == "model-7" else 0.0) for m, r in TRUE.items()}
        df = wa.simulate_battles(truth, 3000, rng=gen)
        frames.append(df.assign(category=cat))
    frames.append(frames[0].head(400).assign(category="poetry"))
    boards = wa.rank(pd.concat(frames, ignore_index=True), by="category", rounds=100, rng=1)
    assert isinstance(boards, dict)
    refs = {c: load_reference(_truth(rename=False), category=c) for c in ("coding", "math")}
    out = agreement_by_category(boards, refs, rng=2)
    assert set(out.reports) == {"coding", "math"}
    assert out.skipped == {"poetry": "no reference for category 'poetry'"}
    assert list(out.summary.index) == ["coding", "math"]
    assert (out.summary["n_models"] == 8).all()
    assert out.summary.loc["coding", "spearman"] == out.reports["coding"].value("spearman")
    seen: list[str] = []

    def loader(category: str) -> object:
        seen.append(category)
        return refs["coding"]

    agreement_by_category({"math": boards["math"]}, loader, categories={"math": "coding"})
    assert seen == ["coding"]


def test_cli_agree(board: wa.Leaderboard, tmp_path: Path, capsys: pytest.CaptureFixture[str]
                   ) -> None:
    log = wa.simulate_battles(TRUE, 3000, rng=4)
    battles = tmp_path / "battles.parquet"
    log.to_parquet(battles, index=False)
    ref = tmp_path / "ref.csv"
    _truth().to_csv(ref, index=False)
    out = tmp_path / "report.html"
    code = main(["agree", str(battles), "--reference", str(ref), "--rounds", "100",
                 "--seed", "1", "--out", str(out), "--alias", "model-0=MODEL_0"])
    assert code == 0
    text = out.read_text()
    assert "<h2>Metrics</h2>" in text and "data:image/png;base64," in text
    code = main(["agree", str(battles), "--reference", str(ref), "--rounds", "50",
                 "--seed", "1", "--format", "md", "--alias", "model-3="])
    assert code == 0
    md = capsys.readouterr().out
    assert "| spearman |" in md and "model-3 (alias to None)" in md
    code = main(["agree", str(battles), "--reference", str(tmp_path / "missing.csv")])
    assert code == 1
    assert "does not exist" in capsys.readouterr().err


# ----------------------------------------------------------------------------- llmfao
LLMFAO_ALIASES = {
    "Vicuna v1.5 (13B)": "vicuna-13b",
    "Open-Assistant Pythia SFT-4 (12B)": "oasst-pythia-12b",
    "Vicuna-FastChat-T5 (3B)": "fastchat-t5-3b",
    "Code Llama Instruct (34B)": "codellama-34b-instruct",
    "PaLM 2 Bison": "palm-2",
}


@pytest.mark.slow
def test_llmfao_worked_example(shared_data: Path) -> None:
    d = shared_data / "llmfao"
    crowd = wa.rank(d / "crowd-comparisons.csv", outcomes="left-right", rounds=200, rng=0)
    gpt4 = wa.rank(d / "gpt4-comparisons.csv", outcomes="left-right", rounds=200, rng=0)
    assert isinstance(crowd, wa.Leaderboard) and isinstance(gpt4, wa.Leaderboard)
    judge_vs_crowd = agreement(gpt4, crowd)
    assert len(judge_vs_crowd.models) == 59  # the crowd judged 59 of the 70 models
    assert (judge_vs_crowd.unmatched["side"] == "ours").sum() == 11
    assert 0.5 < judge_vs_crowd.value("spearman") < 0.9
    ref = load_reference(shared_data / "lmsys" / "elo_history_alltime.csv", date="2023-10-02")
    vs_lmsys = agreement(crowd, ref, aliases=LLMFAO_ALIASES)
    assert len(vs_lmsys.models) == 18
    assert set(vs_lmsys.matches["how"]) <= {"alias", "normalized", "reordered", "exact"}
    assert vs_lmsys.matches.loc["GPT 4", "reference"] == "gpt-4"
    assert vs_lmsys.matches.loc["LLaMA-2-Chat (70B)", "reference"] == "llama-2-70b-chat"
