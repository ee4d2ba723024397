"""Difficulty scorers (wizardarena.testset.difficulty)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
import pytest

from wizardarena.exceptions import ValidationError
from wizardarena.testset.difficulty import (
    CRITERIA,
    BattleDifficulty,
    CriteriaDifficulty,
    DifficultyResult,
    LLMDifficulty,
    coerce_scores,
    parse_criteria,
    parse_rating,
)
from wizardarena.testset.prompts import normalize_prompts

SKILL = {"m0": 0, "m1": 1, "m2": 2, "m3": 3, "m4": 4}


def _battle_log(rng: np.random.Generator, planted: set[str]) -> pd.DataFrame:
    """Every pair on every prompt in both orders; planted prompts upset the ranking."""
    rows = []
    models = list(SKILL)
    for q in range(40):
        qid = f"q{q:02d}"
        for i, a in enumerate(models):
            for b in models[i + 1 :]:
                strong, weak = (a, b) if SKILL[a] > SKILL[b] else (b, a)
                for game in (0, 1):
                    first, second = (a, b) if game == 0 else (b, a)
                    if qid in planted:
                        # weak wins in one order, the first slot wins in the other
                        win = weak if game == 0 else first
                    else:
                        win = strong if rng.random() < 0.9 else weak
                    winner = "model_a" if win == first else "model_b"
                    rows.append(
                        {"question_id": qid, "model_a": first, "model_b": second,
                         "winner": winner, "game": game}
                    )
    return pd.DataFrame(rows)


def test_battle_difficulty_ranks_planted_prompts_first() -> None:
    planted = {"q03", "q17", "q22", "q31", "q38"}
    log = _battle_log(np.random.default_rng(0), planted)
    scorer = BattleDifficulty(log)
    table = scorer.table
    top = set(table["difficulty"].sort_values(ascending=False).index[:5])
    assert top == planted
    assert table.loc[sorted(planted), "order_disagreement"].min() > 0.5
    # same ranking with the true ratings given
    given = BattleDifficulty(log, ratings={m: 1000 + 100 * s for m, s in SKILL.items()})
    top2 = set(given.table["difficulty"].sort_values(ascending=False).index[:5])
    assert top2 == planted
    prompts = normalize_prompts(
        pd.DataFrame({"prompt_id": ["q03", "q00", "zzz"], "prompt": ["a", "b", "c"]})
    )
    res = scorer(prompts)
    assert res.scores.index.tolist() == ["q03", "q00", "zzz"]
    assert res.scores["q03"] > res.scores["q00"]
    assert np.isnan(res.scores["zzz"])  # absent from the log: no default


def test_battle_difficulty_rule_by_hand() -> None:
    log = pd.DataFrame(
        {
            "question_id": ["x", "x", "y", "y"],
            "model_a": ["s", "w", "s", "w"],
            "model_b": ["w", "s", "w", "s"],
            "winner": ["model_b", "tie", "model_a", "model_b"],
            "game": [0, 1, 0, 1],
        }
    )
    t = BattleDifficulty(log, ratings={"s": 2.0, "w": 1.0}, order_weight=0.5).table
    # x: weak won (1) and a tie (1/2): upset 0.75; verdicts differ across orders: 1
    assert t.loc["x", "upset_rate"] == pytest.approx(0.75)
    assert t.loc["x", "order_disagreement"] == 1.0
    assert t.loc["x", "difficulty"] == pytest.approx(10 * (0.5 * 0.75 + 0.5 * 1.0))
    # y: strong won twice: no upset, consistent
    assert t.loc["y", "difficulty"] == 0.0


def test_battle_difficulty_without_game_uses_repeats_and_validates() -> None:
    log = pd.DataFrame(
        {
            "question_id": ["x", "x", "y"],
            "model_a": ["s", "s", "s"],
            "model_b": ["w", "w", "w"],
            "winner": ["model_a", "model_b", "model_a"],
        }
    )
    t = BattleDifficulty(log, order_weight=0.5).table
    assert t.loc["x", "order_disagreement"] == 1.0
    assert np.isnan(t.loc["y", "order_disagreement"])
    with pytest.raises(ValidationError, match="question_id"):
        BattleDifficulty(log.drop(columns="question_id"))
    with pytest.raises(ValidationError):
        BattleDifficulty(log.assign(winner=["model_a", "modle_b", "tie"]))
    with pytest.raises(ValidationError, match="order_weight"):
        BattleDifficulty(log, order_weight=2.0)
    with pytest.raises(ValidationError, match="ratings lack"):
        BattleDifficulty(log, ratings={"s": 1.0})
    with pytest.raises(ValidationError, match="'game' must be 0 or 1"):
        BattleDifficulty(log.assign(game=[0, 2, 1]))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Hard multi-step task. Difficulty: [[8]]", 8.0),
        ("[[3]] ... again [[3]]", 3.0),
        ("Difficulty: 6", 6.0),
        ("difficulty rating = 7.5", 7.5),
        ("[[4]] or maybe [[5]]", np.nan),
        ("Difficulty: [[11]]", np.nan),
        ("I think it is moderately hard", np.nan),
        ("", np.nan),
    ],
)
def test_parse_rating_fails_closed(text: str, value: float) -> None:
    got = parse_rating(text)
    if np.isnan(value):
        assert np.isnan(got)
    else:
        assert got == value


def test_parse_criteria() -> None:
    obj = {name: i % 2 == 0 for i, name in enumerate(CRITERIA)}
    assert parse_criteria("Here: " + json.dumps(obj) + " done") == obj
    partial = dict(obj)
    partial.pop("creativity")
    assert parse_criteria(json.dumps(partial)) is None
    assert parse_criteria(json.dumps({**obj, "creativity": "yes"})) is None
    assert parse_criteria("not json {") is None
    spaced = {name.replace("_", " ").title(): v for name, v in obj.items()}
    assert parse_criteria(json.dumps(spaced)) == obj


def test_coerce_scores_shapes() -> None:
    prompts = normalize_prompts(["aaaa", "bbbb", "cccc"])
    r = coerce_scores(np.array([1, 2, 3]), prompts)
    assert r.scores.tolist() == [1.0, 2.0, 3.0]
    s = coerce_scores(pd.Series({"p000002": 5.0}), prompts)
    assert np.isnan(s.scores["p000000"]) and s.scores["p000002"] == 5.0
    with pytest.raises(ValidationError, match="one score per prompt"):
        coerce_scores(np.array([1, 2]), prompts)
    with pytest.raises(ValidationError, match="unknown prompt ids"):
        coerce_scores(pd.Series({"nope": 1.0}), prompts)
    with pytest.raises(ValidationError, match="must be numbers"):
        coerce_scores(pd.Series({"p000000": "hard"}), prompts)
    kept = coerce_scores(DifficultyResult(pd.Series({"p000000": 1.0}), n_failed=2), prompts)
    assert kept.n_failed == 2


# ----------------------------------------------------------------- LLM scorers via loopback


def rater(messages: list[dict[str, Any]]) -> str:
    """A simulated difficulty rater: reads a marker in the query."""
    text = messages[-1]["content"]
    if "BROKEN" in text:
        return "This one is hard to say."
    if "criteria" in messages[0]["content"]:
        hard = "HARD" in text
        return json.dumps({name: hard or i < 2 for i, name in enumerate(
            ["specificity", "domain_knowledge", "complexity", "problem_solving",
             "creativity", "technical_accuracy", "real_world_application"])})
    return "Needs reasoning. Difficulty: [[9]]" if "HARD" in text else "Easy. Difficulty: [[2]]"


@pytest.fixture(scope="module")
def sim_client() -> Any:
    server = pytest.importorskip("wizardarena.sim.server")
    from wizardarena.endpoints import Client

    with server.SimArena({"m": 1000.0}, extra_models={"rater": rater}, rng=0) as sim:
        with Client(sim.base_url, model="rater", api_key_env=None, max_retries=0) as client:
            yield client


def _llm_prompts() -> pd.DataFrame:
    return normalize_prompts(
        pd.DataFrame(
            {
                "prompt_id": ["e1", "h1", "b1", "h2"],
                "turns": [["easy one"], ["HARD proof", "and more"], ["BROKEN"], ["HARD"]],
            }
        )
    )


def test_llm_difficulty_scores_and_fails_closed(sim_client: Any) -> None:
    seen: list[tuple[str, int, int]] = []
    scorer = LLMDifficulty(sim_client, batch_size=3)
    res = scorer(_llm_prompts(), progress=lambda p: seen.append((p.stage, p.done, p.total)))
    assert res.scores["e1"] == 2.0 and res.scores["h1"] == 9.0 and res.scores["h2"] == 9.0
    assert np.isnan(res.scores["b1"])
    assert res.n_failed == 1
    assert res.raw is not None and res.raw["b1"] == "This one is hard to say."
    assert seen[-1] == ("difficulty (LLM)", 4, 4)
    msgs = scorer.messages(["first", "second"])
    assert "[Turn 2]\nsecond" in msgs[-1]["content"]


def test_criteria_difficulty_counts_criteria(sim_client: Any) -> None:
    res = CriteriaDifficulty(sim_client)(_llm_prompts())
    assert res.scores["h1"] == 7.0 and res.scores["e1"] == 2.0
    assert np.isnan(res.scores["b1"]) and res.n_failed == 1
    assert res.details is not None
    assert bool(res.details.loc["h1", "creativity"]) is True
    assert pd.isna(res.details.loc["b1", "creativity"])


def test_llm_scorer_accepts_judge_like_object(sim_client: Any) -> None:
    class Judge:
        client = sim_client
        model = "rater"

    res = LLMDifficulty(Judge())(_llm_prompts().iloc[:1])
    assert res.scores.iloc[0] == 2.0
    with pytest.raises(ValidationError, match="judge_or_client"):
        LLMDifficulty(object())
    with pytest.raises(ValidationError, match="\\{query\\}"):
        LLMDifficulty(sim_client, template="no placeholder")


def test_llm_difficulty_takes_the_arena_judge() -> None:
    """`wa.LLMDifficulty(judge)` with the arena's Judge, as the issue's example writes it."""
    server = pytest.importorskip("wizardarena.sim.server")
    from wizardarena.arena.judges import Judge

    with server.SimArena({"m": 1000.0}, extra_models={"rater": rater}, rng=0) as sim:
        judge = Judge(sim.base_url, "rater", api_key_env=None)
        res = LLMDifficulty(judge)(_llm_prompts())
    assert res.scores["e1"] == 2.0 and res.scores["h1"] == 9.0
    assert np.isnan(res.scores["b1"]) and res.n_failed == 1


def test_llm_difficulty_uses_every_url_of_the_judge() -> None:
    """A Judge with several base URLs scores through all of them, as ``run_arena`` does: a
    dead first server is left out (it used to be the only one asked), two live ones share
    the prompts."""
    server = pytest.importorskip("wizardarena.sim.server")
    from wizardarena.arena.judges import Judge

    def served(sim: Any) -> int:
        return int(sim.stats().for_model("rater")["served"].sum())

    prompts = _llm_prompts()
    with server.SimArena({"m": 1000.0}, extra_models={"rater": rater}, rng=0,
                         latency=0.05) as one, \
            server.SimArena({"m": 1000.0}, extra_models={"rater": rater}, rng=0,
                            latency=0.05) as two:
        dead = Judge([server.closed_port_url(), one.base_url], "rater", api_key_env=None,
                     breaker_seconds=5.0)
        res = LLMDifficulty(dead)(prompts, progress=False)
        assert served(one) == len(prompts) and res.n_failed == 1
        assert res.scores["e1"] == 2.0 and res.scores["h1"] == 9.0
        both = Judge([one.base_url, two.base_url], "rater", api_key_env=None)
        res2 = CriteriaDifficulty(both)(prompts, progress=False)
        a, b = served(one) - len(prompts), served(two)
    assert a + b == len(prompts) and a >= 1 and b >= 1
    assert res2.scores["h1"] == 7.0 and np.isnan(res2.scores["b1"])
