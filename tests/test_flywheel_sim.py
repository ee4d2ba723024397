"""A worked flywheel run on the simulated arena (loopback HTTP only), as in docs/flywheel.md."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from wizardarena.api import rank
from wizardarena.arena.judges import Judge
from wizardarena.arena.runner import run_arena
from wizardarena.cli import main
from wizardarena.endpoints import Client
from wizardarena.flywheel import Flywheel
from wizardarena.sim import SimArena, SimJudge, SimModel

MODELS = {
    "my-model": SimModel(1000.0),
    "strong-1": SimModel(1250.0),
    "strong-2": SimModel(1150.0, verbosity=1.0),
    "strong-3": SimModel(1100.0, markdown=0.8),
}
TOPICS = ("sorting", "tax brackets", "photosynthesis", "git rebase", "black holes", "SQL joins",
          "recursion", "vaccines", "compound interest", "unit testing")
PROMPTS = [
    {"question_id": f"p{i:03d}", "prompt": f"Question {i}: explain {TOPICS[i % 10]} (case {i}).",
     "category": "coding" if i % 3 == 0 else "general"}
    for i in range(24)
]


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("flywheel-sim")
    with SimArena(MODELS, judge=SimJudge(position_bias=40.0, length_bias=30.0), rng=0) as sim:
        with Client(sim.base_url, api_key_env=None, concurrency=16) as client:
            answers = {}
            for name in MODELS:
                rs = client.chat_many([[{"role": "user", "content": p["prompt"]}]
                                       for p in PROMPTS], model=name)
                answers[name] = {p["question_id"]: r.text for p, r in zip(PROMPTS, rs)}
        out = {}
        for template in ("wizardarena", "arena-hard"):
            judge = Judge(sim.base_url, sim.judge_model, template=template, api_key_env=None)
            res = run_arena(answers, PROMPTS, judge, store=tmp / f"{template}.sqlite",
                            pairs="target", target="my-model", concurrency=16)
            out[template] = res.battles
    return {"answers": answers, "tmp": tmp, **out}


def test_worked_run_score_judge(arena: dict[str, Any]) -> None:
    battles = arena["wizardarena"]
    assert isinstance(battles, pd.DataFrame)
    assert len(battles) == 3 * 24 * 2  # target vs 3 opponents, 24 prompts, both orders
    fw = Flywheel("my-model", opponents=["strong-1", "strong-2", "strong-3"],
                  prompts=pd.DataFrame(PROMPTS))
    sft = fw.sft(battles, arena["answers"], margin=3.0)
    dpo = fw.preference_pairs(battles, arena["answers"], margin=2.0)
    s = sft.stats.summary
    assert s["games"] == 144 and s["groups"] == 72
    assert s["single_order"] == 0
    assert 0 < s["exported"] <= 24 and len(sft) == s["exported"]
    assert s["selected"] == s["exported"] + s["dropped_per_prompt"]
    # the target loses more often (consistently) to the strongest opponent than to the weakest
    per_opp = sft.stats.by_opponent
    lost = per_opp["lost"].to_dict()
    assert lost["strong-1"] > lost["strong-3"]
    assert per_opp["exported"].sum() == len(sft)
    assert per_opp["groups"].tolist() == [24, 24, 24]
    assert s["inconsistent"] == per_opp["inconsistent"].sum() > 0
    # every exported answer is the winner's real answer to that prompt
    for r in sft.records():
        assert r["messages"][1]["content"] == arena["answers"][r["opponent"]][r["question_id"]]
        assert r["margin"] >= 3.0
    assert len(dpo) >= len(sft)
    for r in dpo.records():
        assert r["rejected"][0]["content"] == arena["answers"]["my-model"][r["question_id"]]
    assert set(sft.stats.by_category.index) <= {"coding", "general"}


def test_worked_run_label_judge_and_style(arena: dict[str, Any]) -> None:
    battles = arena["arena-hard"]
    assert isinstance(battles, pd.DataFrame)
    assert battles["verdict"].str.contains(">").any() and battles["score_a"].isna().all()
    fw = Flywheel("my-model", prompts=pd.DataFrame(PROMPTS))
    sft = fw.sft(battles, arena["answers"], margin=3.0)  # only B>>A / A>>B in both orders
    assert (sft.frame["margin"] == 3.0).all()
    assert sft.stats.summary["groups"] == 72
    # the same battles through style control: answers looked up by (question_id, model)
    ans = pd.DataFrame([{"question_id": q, "model": m, "answer": t}
                        for m, d in arena["answers"].items() for q, t in d.items()])
    style = rank(battles, style=True, answers=ans, rounds=50, rng=0)
    assert style.table.index[0] == "strong-1"
    assert style.style is not None
    assert list(style.style.index) == ["tokens", "headers", "lists", "bold"]


def test_cli_flywheel_end_to_end(arena: dict[str, Any], capsys: pytest.CaptureFixture[str]
                                 ) -> None:
    tmp = Path(str(arena["tmp"]))
    battles = arena["wizardarena"]
    assert isinstance(battles, pd.DataFrame)
    battles.to_parquet(tmp / "battles.parquet")
    ans_dir = tmp / "answers"
    ans_dir.mkdir(exist_ok=True)
    for model, d in arena["answers"].items():
        with open(ans_dir / f"{model}.jsonl", "w", encoding="utf-8") as fh:
            for q, t in d.items():
                fh.write(json.dumps({"question_id": q, "model": model, "answer": t}) + "\n")
    with open(tmp / "prompts.jsonl", "w", encoding="utf-8") as fh:
        for p in PROMPTS:
            fh.write(json.dumps(p) + "\n")
    out = tmp / "data"
    code = main(["flywheel", str(tmp / "battles.parquet"), "--answers", str(ans_dir),
                 "--prompts", str(tmp / "prompts.jsonl"), "--target", "my-model",
                 "--sft-margin", "3", "--dpo-margin", "2", "--round", "2", "--out", str(out),
                 "--format", "both"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "strong-1" in printed and "exported" in printed
    sft_lines = (out / "sft.jsonl").read_text(encoding="utf-8").splitlines()
    assert sft_lines and json.loads(sft_lines[0])["round"] == 2
    assert (out / "dpo.parquet").exists() and (out / "sft.parquet").exists()
    assert (out / "dpo.jsonl").exists() and (out / "flywheel_stats.md").exists()
    fw = Flywheel("my-model", prompts=pd.DataFrame(PROMPTS)).round(2)
    assert len(sft_lines) == len(fw.sft(battles, arena["answers"], margin=3.0))
