"""Flywheel selection, margins, both-order rules, export formats, guard, compare."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from wizardarena.api import rank
from wizardarena.exceptions import DataWarning, ValidationError
from wizardarena.flywheel import Comparison, Flywheel, TrainingData, compare
from wizardarena.leaderboard import Leaderboard
from wizardarena.sim.battles import simulate_battles

T = "tgt"


def _game(q: str, opp: str, target_first: bool, s_t: float, s_o: float,
          judge: str = "j") -> dict[str, object]:
    """One scored game; s_t / s_o are the scores of the target and of the opponent."""
    sa, sb = (s_t, s_o) if target_first else (s_o, s_t)
    winner = "model_a" if sa > sb else "model_b" if sb > sa else "tie"
    return {"question_id": q, "model_a": T if target_first else opp,
            "model_b": opp if target_first else T, "winner": winner, "judge": judge,
            "game": 0 if target_first else 1, "verdict": f"{sa:g}/{sb:g}",
            "score_a": sa, "score_b": sb, "category": "math" if q < "q3" else "code"}


def designed_log() -> pd.DataFrame:
    rows = [
        # q0 vs o1: lost by 4 and 5 (both orders) -> margin 4
        _game("q0", "o1", True, 3, 7), _game("q0", "o1", False, 2, 7),
        # q0 vs o2: lost by 3 and 3 -> margin 3 (q0's second opponent)
        _game("q0", "o2", True, 4, 7), _game("q0", "o2", False, 4, 7),
        # q1 vs o1: lost by 4 and 2 -> "both" 2, "mean" 3
        _game("q1", "o1", True, 3, 7), _game("q1", "o1", False, 5, 7),
        # q2 vs o2: position-inconsistent: lost by 5, won by 1
        _game("q2", "o2", True, 2, 7), _game("q2", "o2", False, 6, 5),
        # q3 vs o2: the target wins both
        _game("q3", "o2", True, 8, 5), _game("q3", "o2", False, 8, 6),
        # q4 vs o3: one order only, lost by 6
        _game("q4", "o3", True, 2, 8),
        # a game without the target
        {**_game("q0", "o1", True, 5, 6), "model_a": "o3"},
    ]
    return pd.DataFrame(rows)


def designed_answers(models: tuple[str, ...] = (T, "o1", "o2", "o3")) -> pd.DataFrame:
    recs = [{"question_id": f"q{i}", "model": m, "answer": f"answer of {m} to q{i}"}
            for i in range(5) for m in models]
    return pd.DataFrame(recs)


PROMPTS = pd.DataFrame({
    "question_id": [f"q{i}" for i in range(5)],
    "prompt": [f"Question number {i}: explain topic {i} carefully." for i in range(5)],
    "subset": ["hard", "hard", "diverse", "diverse", "hard"],
    "difficulty": [8.0, 6.0, 4.0, 2.0, 9.0],
})


def test_sft_selection_both_orders_default() -> None:
    fw = Flywheel(T, prompts=PROMPTS)
    sft = fw.sft(designed_log(), designed_answers(), margin=3.0)
    assert isinstance(sft, TrainingData) and sft.kind == "sft"
    # q0 (o1 by 4 beats o2 by 3 under per_prompt="best"); q1 (2), q2 (inconsistent), q3 (won),
    # q4 (single order) are out
    assert sft.frame["question_id"].tolist() == ["q0"]
    row = sft.frame.iloc[0]
    assert row["opponent"] == "o1" and row["margin"] == 4.0 and row["n_games"] == 2
    assert row["messages"] == [
        {"role": "user", "content": "Question number 0: explain topic 0 carefully."},
        {"role": "assistant", "content": "answer of o1 to q0"},
    ]
    assert row["round"] == 1 and row["target"] == T and row["judge"] == "j"
    assert row["category"] == "math" and row["subset"] == "hard" and row["difficulty"] == 8.0
    s = sft.stats.summary
    assert s.to_dict() == {
        "games": 11, "groups": 6, "single_order": 1, "inconsistent": 1,
        "excluded_inconsistent": 1, "not_lost": 1, "below_margin": 1, "selected": 2,
        "missing_answer": 0, "empty_chosen": 0, "identical_pair": 0,
        "dropped_per_prompt": 1, "decontaminated": 0, "exported": 1,
    }
    opp = sft.stats.by_opponent
    assert opp.loc["o1", "groups"] == 2 and opp.loc["o1", "exported"] == 1
    assert opp.loc["o2", "inconsistent"] == 1 and opp.loc["o2", "selected"] == 1
    assert opp.loc["o3", "lost"] == 0  # single order excluded
    assert fw.stats is sft.stats
    assert sft.stats.by_subset.loc["hard", "exported"] == 1
    assert sft.stats.by_subset.loc["hard", "mean_difficulty"] == 8.0
    assert sft.stats.by_category.loc["math", "exported"] == 1
    assert "By opponent" in sft.stats.to_markdown()


def test_mean_rule_all_per_prompt_and_single_orders() -> None:
    fw = Flywheel(T, combine="mean", per_prompt="all", require_both_orders=False,
                  prompts=PROMPTS)
    sft = fw.sft(designed_log(), designed_answers(), margin=3.0)
    got = sorted(zip(sft.frame["question_id"], sft.frame["opponent"], sft.frame["margin"]))
    assert got == [("q0", "o1", 4.5), ("q0", "o2", 3.0), ("q1", "o1", 3.0), ("q4", "o3", 6.0)]
    assert sft.frame.set_index("question_id").loc["q4", "n_games"] == 1
    keep_inc = Flywheel(T, combine="mean", exclude_inconsistent=False, prompts=PROMPTS)
    dpo = keep_inc.preference_pairs(designed_log(), designed_answers(), margin=2.0)
    # q2: mean of a 5-point loss and a 1-point win is 2
    assert "q2" in dpo.frame["question_id"].tolist()
    assert dpo.stats.summary["excluded_inconsistent"] == 0
    assert dpo.stats.summary["inconsistent"] == 1


def test_preference_pairs_conversational_and_plain() -> None:
    fw = Flywheel(T, opponents=["o1", "o2"], prompts=PROMPTS)
    dpo = fw.preference_pairs(designed_log(), designed_answers(), margin=2.0)
    assert dpo.frame["question_id"].tolist() == ["q0", "q1"]
    row = dpo.frame.iloc[1]
    assert row["prompt"] == [{"role": "user",
                              "content": "Question number 1: explain topic 1 carefully."}]
    assert row["chosen"] == [{"role": "assistant", "content": "answer of o1 to q1"}]
    assert row["rejected"] == [{"role": "assistant", "content": "answer of tgt to q1"}]
    plain = Flywheel(T, conversational=False, prompts=PROMPTS).preference_pairs(
        designed_log(), designed_answers(), margin=2.0)
    assert plain.frame.iloc[0]["chosen"] == "answer of o1 to q0"
    assert plain.frame.iloc[0]["prompt"].startswith("Question number 0")
    sysfw = Flywheel(T, system_prompt="Be helpful.", prompts=PROMPTS)
    msgs = sysfw.sft(designed_log(), designed_answers(), margin=3.0).frame.iloc[0]["messages"]
    assert msgs[0] == {"role": "system", "content": "Be helpful."}


def test_label_judges_use_the_margin_mapping() -> None:
    log = designed_log()
    labels = {4: "B>>A", 5: "B>>A", 3: "B>A", 2: "B>A", 1: "B>A", 6: "B>>A"}
    for i, r in log.iterrows():
        diff = r["score_a"] - r["score_b"]
        lab = ("A>>B" if diff >= 4 else "A>B") if diff > 0 else (
            labels[int(-diff)] if diff < 0 else "A=B")
        log.loc[i, "verdict"] = f"[[{lab}]]"
    log["score_a"] = np.nan
    log["score_b"] = np.nan
    fw = Flywheel(T, prompts=PROMPTS)
    sft = fw.sft(log, designed_answers(), margin=3.0)
    assert sft.frame["question_id"].tolist() == ["q0"]  # both orders B>>A only for q0 vs o1
    strict = Flywheel(T, prompts=PROMPTS, label_margins={"A>>B": 2.0, "A>B": 0.5,
                                                          "A=B": 0.0, "B>A": -0.5,
                                                          "B>>A": -2.0})
    with pytest.warns(DataWarning, match=r"by less than margin=3 \(the largest loss margin is 2"):
        assert len(strict.sft(log, designed_answers(), margin=3.0)) == 0
    bad = log.copy()
    bad.loc[0, "verdict"] = "[[A>>>B]]"
    with pytest.raises(ValidationError, match="verdict labels must be one of"):
        fw.sft(bad, designed_answers())
    winner_only = Flywheel(T, margin_source="winner", prompts=PROMPTS).sft(
        log, designed_answers(), margin=1.0)
    assert set(winner_only.frame["question_id"]) == {"q0", "q1"}


def test_margin_must_agree_with_winner_and_duplicates_raise() -> None:
    log = designed_log()
    log.loc[0, "winner"] = "model_a"  # scores say the target (model_a) lost
    with pytest.raises(ValidationError, match="disagrees with the winner"):
        Flywheel(T, prompts=PROMPTS).sft(log, designed_answers())
    dup = pd.concat([designed_log(), designed_log().iloc[[0]]], ignore_index=True)
    with pytest.raises(ValidationError, match="at most one game per order"):
        Flywheel(T, prompts=PROMPTS).sft(dup, designed_answers())


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: Flywheel(""), "target must be"),
        (lambda: Flywheel(T, opponents="o1"), "opponents must be a list"),
        (lambda: Flywheel(T, opponents=[T]), "its own opponent"),
        (lambda: Flywheel(T, combine="max"), "combine must be"),
        (lambda: Flywheel(T, per_prompt="first"), "per_prompt must be"),
        (lambda: Flywheel(T, margin_source="vibes"), "margin_source must be"),
        (lambda: Flywheel(T, label_margins={"A>B": float("nan")}), "finite number"),
        (lambda: Flywheel(T, iteration=-1), "iteration must be"),
    ],
)
def test_constructor_validation(make: object, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        make()  # type: ignore[operator]


def test_call_validation() -> None:
    fw = Flywheel(T, prompts=PROMPTS)
    with pytest.raises(ValidationError, match="margin must be"):
        fw.sft(designed_log(), designed_answers(), margin=0)
    with pytest.raises(ValidationError, match="does not appear"):
        Flywheel("nobody").sft(designed_log(), designed_answers())
    with pytest.raises(ValidationError, match=r"opponents \['o9'\]"):
        Flywheel(T, opponents=["o9"]).sft(designed_log(), designed_answers())
    with pytest.raises(ValidationError, match="question_id"):
        fw.sft(designed_log().drop(columns="question_id"), designed_answers())
    with pytest.raises(ValidationError, match="no answer for 1 selected"):
        fw.sft(designed_log(), designed_answers(models=(T, "o2", "o3")))
    with pytest.raises(ValidationError, match="prompts are unknown"):
        Flywheel(T).sft(designed_log(), designed_answers())
    with pytest.raises(ValidationError, match="more than one answer"):
        fw.sft(designed_log(), pd.concat([designed_answers(), designed_answers()]))
    with pytest.raises(ValidationError, match="no selection yet"):
        _ = Flywheel(T).stats


def test_rounds_answers_formats_and_prompt_column() -> None:
    fw = Flywheel(T, prompts=PROMPTS)
    second = fw.round(2)
    assert second.iteration == 2 and fw.iteration == 1
    sft = second.sft(designed_log(), designed_answers(), margin=3.0)
    assert sft.frame["round"].tolist() == [2]
    # answers as a mapping and prompts from an answers column
    ans = designed_answers()
    mapping = {(q, m): a for q, m, a in ans[["question_id", "model", "answer"]].itertuples(False)}
    by_map = fw.sft(designed_log(), mapping, margin=3.0)
    pd.testing.assert_frame_equal(by_map.frame.drop(columns="round"),
                                  sft.frame.drop(columns="round"))
    with_prompt = ans.merge(PROMPTS[["question_id", "prompt"]], on="question_id")
    again = Flywheel(T).sft(designed_log(), with_prompt, margin=3.0)
    assert again.frame.iloc[0]["messages"] == sft.frame.iloc[0]["messages"]


def test_multi_turn_conversations() -> None:
    log = designed_log()
    prompts = PROMPTS.assign(turns=[["first?", f"second {i}?"] for i in range(5)]).drop(
        columns="prompt")
    ans = designed_answers()
    ans["answer"] = [[f"{a} (1)", f"{a} (2)"] for a in ans["answer"]]
    sft = Flywheel(T, prompts=prompts).sft(log, ans, margin=3.0)
    assert [m["role"] for m in sft.frame.iloc[0]["messages"]] == [
        "user", "assistant", "user", "assistant"]
    dpo = Flywheel(T, prompts=prompts).preference_pairs(log, ans, margin=3.0)
    assert len(dpo.frame.iloc[0]["prompt"]) == 3
    assert dpo.frame.iloc[0]["rejected"][0]["content"] == "answer of tgt to q0 (2)"
    short = ans.copy()
    short["answer"] = [[a[0]] for a in ans["answer"]]
    with pytest.raises(ValidationError, match="2 user turn"):
        Flywheel(T, prompts=prompts).sft(log, short, margin=3.0)


def test_export_jsonl_and_parquet_round_trip(tmp_path: object) -> None:
    from pathlib import Path

    out = Path(str(tmp_path))
    fw = Flywheel(T, prompts=PROMPTS)
    sft = fw.sft(designed_log(), designed_answers(), margin=2.0)
    dpo = fw.preference_pairs(designed_log(), designed_answers(), margin=2.0)
    p1 = sft.to_jsonl(out / "sub" / "sft.jsonl")
    lines = [json.loads(x) for x in p1.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == len(sft)
    assert lines[0]["messages"][1]["role"] == "assistant"
    assert set(lines[0]) >= {"messages", "question_id", "opponent", "judge", "margin", "round"}
    p2 = dpo.to_parquet(out / "dpo.parquet")
    back = pq.read_table(p2).to_pylist()
    assert back == dpo.records()
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temp files
    # a failing writer leaves no file behind
    from wizardarena._io import atomic_write

    def boom(tmp: str) -> None:
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(out / "x.jsonl", boom)
    assert not (out / "x.jsonl").exists()
    assert [p.name for p in out.iterdir() if p.suffix == ".tmp"] == []


def test_decontamination_guard_removes_test_set_copies() -> None:
    eval_set = pd.DataFrame({"question_id": ["t1", "t2"],
                             "prompt": ["Question number 0: explain topic 0 carefully.",
                                        "Something entirely unrelated about gardening roses"]})
    fw = Flywheel(T, prompts=PROMPTS, eval_prompts=eval_set, per_prompt="all")
    with pytest.warns(DataWarning, match=r"2 selected example\(s\) nearly copy the evaluation"):
        sft = fw.sft(designed_log(), designed_answers(), margin=3.0)
    assert "q0" not in sft.frame["question_id"].tolist()
    assert sft.removed["question_id"].tolist() == ["q0"]
    assert sft.removed["matched_id"].tolist() == ["t1"]
    assert sft.stats.summary["decontaminated"] == 2  # q0 against o1 and o2
    assert sft.stats.summary["exported"] == 0


def _boards(rng: int) -> tuple[Leaderboard, Leaderboard]:
    before = simulate_battles({"tgt": 900, "a": 1000, "b": 1100}, 3000, rng=rng)
    after = simulate_battles({"tgt-v2": 1050, "a": 1000, "b": 1100}, 3000, rng=rng + 1)
    b = rank(before, rounds=200, anchor={"a": 1000}, rng=0)
    a = rank(after, rounds=200, anchor={"a": 1000}, rng=1)
    assert isinstance(b, Leaderboard) and isinstance(a, Leaderboard)
    return b, a


def test_compare_reports_the_targets_change_with_intervals() -> None:
    before, after = _boards(3)
    cmp = compare(before, after, rename={"tgt-v2": "tgt"})
    assert isinstance(cmp, Comparison) and cmp.method == "bootstrap"
    row = cmp.table.loc["tgt"]
    assert row["change"] == pytest.approx(row["rating_after"] - row["rating_before"])
    assert row["change_lower"] < row["change"] < row["change_upper"]
    assert 100 < row["change"] < 200 and bool(row["significant"])
    assert cmp.table.loc["a", "change"] == pytest.approx(0.0)
    assert "tgt" in cmp.to_markdown()
    only = Flywheel("tgt").compare(before, after, rename={"tgt-v2": "tgt"})
    assert only.table.index.tolist() == ["tgt"]
    # normal approximation without replicates
    b2 = Leaderboard(table=before.table, info=before.info)
    normal = compare(b2, after, rename={"tgt-v2": "tgt"}, models=["tgt"])
    assert normal.method == "normal"
    nrow = normal.table.loc["tgt"].to_dict()
    assert nrow["change_lower"] < nrow["change"] < nrow["change_upper"]


def test_compare_validation_and_scale_warning() -> None:
    before, after = _boards(5)
    with pytest.raises(ValidationError, match="not on both"):
        compare(before, after, models=["tgt"])
    with pytest.raises(ValidationError, match="two Leaderboard"):
        compare(before, after.table)  # type: ignore[arg-type]
    x = rank(simulate_battles({"p": 1000, "q": 1100}, 500, rng=0), ci="none")
    y = rank(simulate_battles({"p": 1000, "q": 1100, "r": 900}, 500, rng=1), ci="none")
    assert isinstance(x, Leaderboard) and isinstance(y, Leaderboard)
    with pytest.warns(DataWarning, match="different scales"):
        compare(x, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compare(x, x)
