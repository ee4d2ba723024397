"""`wa.rank` runs the battles itself when given answers, prompts, a judge and a store."""

from __future__ import annotations

from pathlib import Path

import pytest

import wizardarena as wa
from wizardarena.arena.judges import Judge
from wizardarena.endpoints import Client
from wizardarena.sim import SimArena

MODELS = {"strong": 1300.0, "middle": 1100.0, "weak": 900.0}
PROMPTS = [{"question_id": f"q{i:02d}", "prompt": f"Explain idea number {i} briefly."}
           for i in range(10)]


def test_rank_runs_the_arena_then_fits(tmp_path: Path) -> None:
    with SimArena(MODELS, rng=3) as sim:
        with Client(sim.base_url, api_key_env=None, concurrency=8) as c:
            answers = {}
            for m in MODELS:
                rs = c.chat_many([[{"role": "user", "content": p["prompt"]}] for p in PROMPTS],
                                 model=m)
                answers[m] = {p["question_id"]: r.text for p, r in zip(PROMPTS, rs)}
        judge = Judge(sim.base_url, sim.judge_model, template="wizardarena", api_key_env=None)
        board = wa.rank(answers, prompts=PROMPTS, judge=judge, store=tmp_path / "a.sqlite",
                        rounds=100, unit="prompt", rng=0)
        requests = len(sim.stats().for_model(sim.judge_model))
        again = wa.rank(answers, prompts=PROMPTS, judge=judge, store=tmp_path / "a.sqlite",
                        rounds=100, unit="prompt", rng=0)
        assert len(sim.stats().for_model(sim.judge_model)) == requests  # resumed, no requests
    assert board.info.n_battles == len(PROMPTS) * 3 * 2
    assert list(board.table.index) == ["strong", "middle", "weak"]
    assert again.table.equals(board.table)


def test_answers_without_a_judge_are_refused() -> None:
    with pytest.raises(wa.ValidationError, match="needs judge="):
        wa.rank({"a": {"q1": "x"}, "b": {"q1": "y"}})
    with pytest.raises(wa.ValidationError, match="needs store="):
        wa.rank({"a": {"q1": "x"}}, judge=object(), prompts=PROMPTS)
