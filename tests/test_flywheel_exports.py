"""Flywheel exports that are never silently empty or wrong (issue 16).

Zero rows warn with the reason (in CLI flags on the command line); missing answers can be
skipped and counted; empty or identical pairs are dropped and counted; the teacher of a
prompt is chosen by margin and rating, never by name; every round has the same schema.
"""

from __future__ import annotations

import io
import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.json as paj
import pyarrow.parquet as pq
import pytest
from test_flywheel import PROMPTS, T, designed_answers, designed_log

from wizardarena.api import rank
from wizardarena.cli import main
from wizardarena.exceptions import DataWarning, RidgeWarning, ValidationError
from wizardarena.flywheel import Flywheel, TrainingData, export_schema

# --------------------------------------------------------------------------- zero rows


def test_single_order_log_warns_that_both_orders_are_required() -> None:
    one_order = designed_log().query("game == 0")
    fw = Flywheel(T, prompts=PROMPTS)
    with pytest.warns(DataWarning) as rec:
        sft = fw.sft(one_order, designed_answers(), margin=3.0)
    assert len(sft) == 0
    msg = str(rec[0].message)
    assert "no SFT examples exported from 6 games" in msg
    assert "all 6 (prompt, opponent) group(s) were judged in one order only" in msg
    assert "require_both_orders=False" in msg
    assert msg == sft.stats.why_empty()
    # the advice works
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        kept = Flywheel(T, prompts=PROMPTS, require_both_orders=False).sft(
            one_order, designed_answers(), margin=3.0)
    assert len(kept) > 0
    # both obstacles at once: the structural one is named even before the margin step
    with pytest.warns(DataWarning) as rec:
        Flywheel(T, prompts=PROMPTS, margin_source="winner").sft(one_order, designed_answers())
    msg = str(rec[0].message)
    assert "require_both_orders=False" in msg and "margin_source='winner' gives" in msg


def test_winner_margins_can_never_reach_a_margin_above_one() -> None:
    fw = Flywheel(T, prompts=PROMPTS, margin_source="winner")
    with pytest.warns(DataWarning, match=r"margin_source='winner' gives margins of at most 1, "
                      r"so margin=3 can never be reached \(pass margin=1"):
        sft = fw.sft(designed_log(), designed_answers())  # default margin 3
    assert len(sft) == 0 and sft.stats.summary["below_margin"] == 3
    with pytest.warns(DataWarning, match="margin=2 can never be reached"):
        fw.preference_pairs(designed_log(), designed_answers())  # default margin 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(fw.sft(designed_log(), designed_answers(), margin=1.0)) == 2


def test_cli_says_why_in_its_own_flags(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    designed_log().query("game == 0").to_json(tmp_path / "one.jsonl", orient="records",
                                               lines=True)
    designed_log().to_json(tmp_path / "both.jsonl", orient="records", lines=True)
    designed_answers().to_json(tmp_path / "answers.jsonl", orient="records", lines=True)
    PROMPTS.to_json(tmp_path / "prompts.jsonl", orient="records", lines=True)
    common = ["--answers", str(tmp_path / "answers.jsonl"), "--prompts",
              str(tmp_path / "prompts.jsonl"), "--target", T, "--out", str(tmp_path / "out")]
    assert main(["flywheel", str(tmp_path / "one.jsonl"), *common]) == 0
    err = capsys.readouterr().err
    assert "warning: sft: no SFT examples exported" in err
    assert "warning: dpo: no preference examples exported" in err
    assert "pass --allow-single-order" in err and "require_both_orders" not in err
    assert "Why:" in (tmp_path / "out" / "flywheel_stats.md").read_text(encoding="utf-8")
    assert main(["flywheel", str(tmp_path / "both.jsonl"), *common,
                 "--margin-source", "winner"]) == 0
    err = capsys.readouterr().err
    assert ("--margin-source winner gives margins of at most 1, so --sft-margin 3 can never "
            "be reached (pass --sft-margin 1") in err
    assert "so --dpo-margin 2 can never be reached" in err
    assert "margin_source=" not in err and "margin=" not in err


# --------------------------------------------------------------------------- missing answers


def test_missing_answers_raise_by_default_and_are_skipped_and_counted_on_request() -> None:
    no_o1 = designed_answers(models=(T, "o2", "o3"))
    with pytest.raises(ValidationError, match=r"no answer for 1 selected .* missing='skip'"):
        Flywheel(T, prompts=PROMPTS).sft(designed_log(), no_o1, margin=3.0)
    sft = Flywheel(T, prompts=PROMPTS, missing="skip").sft(designed_log(), no_o1, margin=3.0)
    # q0 was lost to o1 (by 4) and o2 (by 3); o1's answer is missing, so o2 teaches
    assert sft.frame[["question_id", "opponent"]].values.tolist() == [["q0", "o2"]]
    s = sft.stats.summary
    assert s["missing_answer"] == 1 and s["dropped_per_prompt"] == 0 and s["exported"] == 1
    # one missing answer of the target no longer stops the whole DPO export
    ans = designed_answers()
    no_tgt_q1 = ans[~((ans["model"] == T) & (ans["question_id"] == "q1"))]
    with pytest.raises(ValidationError, match="no answer for 1 selected"):
        Flywheel(T, prompts=PROMPTS).preference_pairs(designed_log(), no_tgt_q1, margin=2.0)
    dpo = Flywheel(T, prompts=PROMPTS, missing="skip").preference_pairs(
        designed_log(), no_tgt_q1, margin=2.0)
    assert dpo.frame["question_id"].tolist() == ["q0"]
    assert dpo.stats.summary["missing_answer"] == 1
    assert dpo.stats.settings["missing"] == "skip"
    with pytest.raises(ValidationError, match="missing must be one of"):
        Flywheel(T, missing="ignore")


def test_skipping_everything_warns_with_the_count() -> None:
    only_target = designed_answers(models=(T,))
    fw = Flywheel(T, prompts=PROMPTS, missing="skip")
    with pytest.warns(DataWarning, match=r"2 selected group\(s\) lack an answer and were "
                      r"skipped \(missing='skip'\)"):
        assert len(fw.sft(designed_log(), only_target, margin=3.0)) == 0


def test_answers_with_too_few_turns_count_as_missing_when_skipping() -> None:
    prompts = PROMPTS.assign(turns=[["first?", f"second {i}?"] for i in range(5)]).drop(
        columns="prompt")
    ans = designed_answers()
    ans["answer"] = [[f"{a} (1)", f"{a} (2)"] for a in ans["answer"]]
    ans.loc[(ans["model"] == "o1") & (ans["question_id"] == "q0"), "answer"] = pd.Series(
        [["only one turn"]], index=ans.index[(ans["model"] == "o1")
                                             & (ans["question_id"] == "q0")])
    with pytest.raises(ValidationError, match="2 user turn"):
        Flywheel(T, prompts=prompts).sft(designed_log(), ans, margin=3.0)
    sft = Flywheel(T, prompts=prompts, missing="skip").sft(designed_log(), ans, margin=3.0)
    assert sft.frame["opponent"].tolist() == ["o2"]
    assert sft.stats.summary["missing_answer"] == 1


# --------------------------------------------------------------------------- degenerate pairs


def _set(ans: pd.DataFrame, model: str, q: str, text: str) -> pd.DataFrame:
    out = ans.copy()
    out.loc[(out["model"] == model) & (out["question_id"] == q), "answer"] = text
    return out


def test_empty_chosen_and_identical_pairs_are_dropped_and_counted() -> None:
    ans = _set(designed_answers(), "o1", "q0", "  \n")  # o1's winning answer to q0 is blank
    ans = _set(ans, T, "q1", "answer of o1 to q1")  # the target's answer equals the chosen one
    fw = Flywheel(T, prompts=PROMPTS)
    dpo = fw.preference_pairs(designed_log(), ans, margin=2.0)
    # q0 falls back to o2 (margin 3); q1 (only o1) is an identical pair
    assert dpo.frame[["question_id", "opponent"]].values.tolist() == [["q0", "o2"]]
    s = dpo.stats.summary
    assert s["empty_chosen"] == 1 and s["identical_pair"] == 1 and s["exported"] == 1
    parts = ["missing_answer", "empty_chosen", "identical_pair", "dropped_per_prompt",
             "decontaminated", "exported"]
    assert s["selected"] == sum(int(s[k]) for k in parts)
    for r in dpo.records():
        assert r["chosen"][0]["content"].strip()
        assert r["chosen"] != r["rejected"]
    sft = fw.sft(designed_log(), ans, margin=3.0)
    assert sft.frame["opponent"].tolist() == ["o2"]
    assert sft.stats.summary["empty_chosen"] == 1
    # the same answer (surrounding white space aside) is identical; plain strings too
    plain = Flywheel(T, prompts=PROMPTS, conversational=False, opponents=["o1"])
    with pytest.warns(DataWarning, match=r"chosen and rejected are the same text in 2"):
        same = plain.preference_pairs(
            designed_log(), _set(_set(designed_answers(), T, "q0", " answer of o1 to q0\n"),
                                 T, "q1", "answer of o1 to q1"), margin=2.0)
    assert len(same) == 0


# --------------------------------------------------------------------------- the teacher


def teacher_log(n_prompts: int = 30) -> pd.DataFrame:
    """The target loses every prompt to three opponents by the same margin (both orders).

    Opponents play each other too: "beta-strong" > "gamma-mid" > "Alpha-weak", whose name
    sorts first (a capital).
    """
    rows: list[dict[str, Any]] = []
    for i in range(n_prompts):
        q = f"q{i:02d}"
        for opp in ("Alpha-weak", "beta-strong", "gamma-mid"):
            rows += [{"question_id": q, "model_a": T, "model_b": opp, "winner": "model_b",
                      "game": 0},
                     {"question_id": q, "model_a": opp, "model_b": T, "winner": "model_a",
                      "game": 1}]
        for strong, weak, share in (("beta-strong", "gamma-mid", 0.8),
                                    ("gamma-mid", "Alpha-weak", 0.8),
                                    ("beta-strong", "Alpha-weak", 0.9)):
            win = strong if (i * 7 % 10) / 10 < share else weak
            rows.append({"question_id": q, "model_a": strong, "model_b": weak,
                         "winner": "model_a" if win == strong else "model_b", "game": 0})
    return pd.DataFrame(rows)


def teacher_answers(log: pd.DataFrame) -> pd.DataFrame:
    models = sorted(set(log["model_a"]) | set(log["model_b"]))
    return pd.DataFrame([{"question_id": q, "model": m, "answer": f"answer of {m} to {q}"}
                         for q in sorted(set(log["question_id"])) for m in models])


def teacher_prompts(log: pd.DataFrame) -> pd.DataFrame:
    qs = sorted(set(log["question_id"]))
    return pd.DataFrame({"question_id": qs, "prompt": [f"Explain topic {q}." for q in qs]})


def test_best_teacher_is_the_strongest_not_the_first_name() -> None:
    log = teacher_log()
    fw = Flywheel(T, prompts=teacher_prompts(log), margin_source="winner")
    sft = fw.sft(log, teacher_answers(log), margin=1.0)
    assert len(sft) == 30
    assert set(sft.frame["opponent"]) == {"beta-strong"}  # not "Alpha-weak"
    with pytest.warns(RidgeWarning, match="tgt"):  # winless; the flywheel does not repeat it
        board = rank(log, ci="none")
    ratings = sft.stats.by_opponent["rating"]
    assert ratings.to_dict() == pytest.approx(
        board.table["rating"].reindex(ratings.index).to_dict())
    assert ratings["beta-strong"] > ratings["gamma-mid"] > ratings["Alpha-weak"]
    by_board = Flywheel(T, prompts=teacher_prompts(log), margin_source="winner",
                        ratings=board).sft(log, teacher_answers(log), margin=1.0)
    assert set(by_board.frame["opponent"]) == {"beta-strong"}
    # a board passed by the user decides instead
    mine = {"Alpha-weak": 1300.0, "beta-strong": 900.0, "gamma-mid": 1000.0, T: 800.0}
    by_mine = Flywheel(T, prompts=teacher_prompts(log), margin_source="winner",
                       ratings=mine).sft(log, teacher_answers(log), margin=1.0)
    assert set(by_mine.frame["opponent"]) == {"Alpha-weak"}
    with pytest.raises(ValidationError, match=r"no rating for opponents \['gamma-mid'\]"):
        Flywheel(T, prompts=teacher_prompts(log), margin_source="winner",
                 ratings={"Alpha-weak": 1.0, "beta-strong": 2.0}).sft(
            log, teacher_answers(log), margin=1.0)
    with pytest.raises(ValidationError, match="ratings must be finite"):
        Flywheel(T, ratings={"a": float("nan")})


def test_teacher_margin_first_or_rating_first() -> None:
    log = teacher_log(4)
    log["score_a"] = np.where(log["winner"] == "model_a", 8.0, 4.0)
    log["score_b"] = np.where(log["winner"] == "model_a", 4.0, 8.0)
    # on q00, gamma-mid beats the target by 6 in both orders (others by 4)
    on_q0 = (log["question_id"] == "q00") & ((log["model_a"] == "gamma-mid")
                                             | (log["model_b"] == "gamma-mid"))
    vs_t = on_q0 & ((log["model_a"] == T) | (log["model_b"] == T))
    log.loc[vs_t, ["score_a", "score_b"]] = np.where(
        log.loc[vs_t, ["model_a"]].to_numpy() == T, [[2.0, 8.0]], [[8.0, 2.0]])
    ans, prompts = teacher_answers(log), teacher_prompts(log)
    by_margin = Flywheel(T, prompts=prompts).sft(log, ans, margin=3.0)
    assert by_margin.frame.set_index("question_id")["opponent"].to_dict() == {
        "q00": "gamma-mid", "q01": "beta-strong", "q02": "beta-strong", "q03": "beta-strong"}
    by_rating = Flywheel(T, prompts=prompts, teacher="rating").sft(log, ans, margin=3.0)
    assert set(by_rating.frame["opponent"]) == {"beta-strong"}
    assert by_rating.stats.settings["teacher"] == "rating"


def test_exact_ties_are_broken_by_a_stable_hash_not_by_name() -> None:
    log = teacher_log(40)
    ans, prompts = teacher_answers(log), teacher_prompts(log)
    equal = {"Alpha-weak": 1000.0, "beta-strong": 1000.0, "gamma-mid": 1000.0, T: 900.0}
    fw = Flywheel(T, prompts=prompts, margin_source="winner", ratings=equal)
    first = fw.sft(log, ans, margin=1.0).frame.set_index("question_id")["opponent"]
    counts = first.value_counts()
    assert set(counts.index) == {"Alpha-weak", "beta-strong", "gamma-mid"}
    assert counts.max() < 25  # spread over the three, none takes (nearly) all
    # the same call gives the same choice; the order of the log's rows does not matter
    shuffled = log.sample(frac=1.0, random_state=np.random.default_rng(1))
    again = fw.sft(shuffled, ans, margin=1.0).frame.set_index("question_id")["opponent"]
    pd.testing.assert_series_equal(first, again)


# --------------------------------------------------------------------------- schema


def _rounds(tmp: Path, suffix: str) -> tuple[TrainingData, TrainingData, list[str]]:
    """Round 1 with subset / difficulty / category columns, round 2 without any."""
    r1 = Flywheel(T, prompts=PROMPTS).sft(designed_log(), designed_answers(), margin=2.0)
    bare_log = designed_log().drop(columns="category")
    r2 = Flywheel(T, prompts=PROMPTS[["question_id", "prompt"]]).round(2).sft(
        bare_log, designed_answers(), margin=2.0)
    files = []
    for i, data in ((1, r1), (2, r2)):
        path = tmp / f"round{i}.{suffix}"
        (data.to_jsonl if suffix == "jsonl" else data.to_parquet)(path)
        files.append(str(path))
    return r1, r2, files


def test_rounds_with_and_without_difficulty_have_one_schema(tmp_path: Path) -> None:
    r1, r2, files = _rounds(tmp_path, "jsonl")
    assert r1.frame["difficulty"].notna().all() and r2.frame["difficulty"].isna().all()
    assert (r2.frame["category"] == "").all() and (r2.frame["subset"] == "").all()
    schema = export_schema("sft")
    assert r1.schema == r2.schema == schema
    for f in files:  # pyarrow's JSON reader is what datasets' JSON loader runs
        assert paj.read_json(f).schema == schema
    line = Path(files[1]).read_text(encoding="utf-8").splitlines()[0]
    assert '"difficulty": NaN' in line and '"category": ""' in line
    assert math.isnan(json.loads(line)["difficulty"])
    _, _, pfiles = _rounds(tmp_path, "parquet")
    for f in pfiles:
        assert pq.read_schema(f).remove_metadata() == schema
    # preference pairs, conversational or plain, keep one schema too
    for conv in (True, False):
        fw = Flywheel(T, prompts=PROMPTS, conversational=conv)
        a = fw.preference_pairs(designed_log(), designed_answers(), margin=2.0)
        b = Flywheel(T, prompts=PROMPTS[["question_id", "prompt"]],
                     conversational=conv).preference_pairs(
            designed_log().drop(columns="category"), designed_answers(), margin=2.0)
        for data in (a, b):
            buf = io.BytesIO("".join(json.dumps(r) + "\n" for r in data.records()).encode())
            assert paj.read_json(buf).schema == export_schema("preference", conv)
    # an empty export still has the schema in Parquet
    with pytest.warns(DataWarning):
        empty = Flywheel(T, prompts=PROMPTS).sft(designed_log(), designed_answers(),
                                                 margin=9.0)
    empty.to_parquet(tmp_path / "empty.parquet")
    assert pq.read_schema(tmp_path / "empty.parquet").remove_metadata() == schema
    assert pa.Table.from_pandas(empty.frame, preserve_index=False).num_rows == 0


def test_rounds_load_together_with_datasets(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    datasets = pytest.importorskip("datasets")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _, _, files = _rounds(tmp_path, "jsonl")
    for order in (files, files[::-1]):
        ds = datasets.load_dataset("json", data_files=order, split="train",
                                   cache_dir=str(tmp_path / "cache"))
        assert ds.num_rows == 4
        assert ds.features["difficulty"].dtype == "float64"
        assert ds.features["category"].dtype == "string"
        assert sorted(ds["round"]) == [1, 1, 2, 2]


# --------------------------------------------------------------------------- real data


def arena_hard_both_orders(path: Path) -> pd.DataFrame:
    """An Arena-Hard battle file as one row per judged game, in the order it was shown.

    Arena-Hard writes both games of a (question, model) pair with the baseline as
    ``model_a``: game 1 (the baseline shown first) before game 2 (the model shown first,
    its verdict mirrored back), a strong verdict (``A>>B``) three times. Each game is
    rebuilt with its true slots and its verdict label; an ambiguous group of four equal
    rows (strong + weak, either order) gives the same margins either way.
    """
    log = pd.read_json(path, lines=True, dtype={"question_id": str})
    mirror = {"model_a": "model_b", "model_b": "model_a", "tie": "tie"}
    rows = []
    for (q, a, b), g in log.groupby(["question_id", "model_a", "model_b"], sort=False):
        w = g["winner"].tolist()
        if len(w) == 2:
            games = [(w[0], 1), (w[1], 1)]
        elif len(w) == 6:
            games = [(w[0], 3), (w[3], 3)]
        elif len(w) == 4:
            games = [(w[0], 3), (w[3], 1)] if w[0] == w[1] == w[2] else [(w[0], 1), (w[1], 3)]
        else:
            raise AssertionError(f"{q}, {b}: {len(w)} rows")
        for game, (win, strength) in enumerate(games):
            first, second = (a, b) if game == 0 else (b, a)
            shown = win if game == 0 else mirror[win]
            label = {"model_a": "A>B", "model_b": "B>A", "tie": "A=B"}[shown]
            if strength == 3:
                label = label.replace(">", ">>")
            rows.append({"question_id": q, "model_a": first, "model_b": second,
                         "winner": shown, "game": game, "verdict": f"[[{label}]]"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def arena_hard() -> dict[str, Any]:
    from conftest import SHARED_DATA

    d = SHARED_DATA / "arena_hard"
    if not d.is_dir():
        pytest.skip("../shared/data is not present")
    from wizardarena.arena.answers import answers_frame

    answers = answers_frame({m: d / f"{m}.jsonl"
                             for m in ("gpt-4-0314", "gpt-4-0613", "gpt-3.5-turbo-0125")})
    prompts = pd.read_json(d / "v0.1_question.jsonl", lines=True).rename(
        columns={"uid": "question_id"})
    log = arena_hard_both_orders(
        d / "battles_judge-gpt-4-1106-preview_baseline-gpt-4-0314.jsonl")
    return {"log": log, "answers": answers, "prompts": prompts}


def test_real_arena_hard_log_rebuilt_in_both_orders(arena_hard: dict[str, Any]) -> None:
    log = arena_hard["log"]
    assert len(log) == 9984 and set(log["game"]) == {0, 1}
    assert (log.groupby("game")["model_a"].apply(lambda s: (s == "gpt-4-0314").mean())
            .to_dict() == {0: 1.0, 1: 0.0})
    fw = Flywheel("gpt-3.5-turbo-0125", prompts=arena_hard["prompts"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sft = fw.sft(log, arena_hard["answers"], margin=3.0)
    s = sft.stats.summary
    assert s["groups"] == 500 and s["single_order"] == 0
    assert len(sft) == s["selected"] == 58  # gpt-4-0314 won B>>A / A>>B in both orders
    assert set(sft.frame["opponent"]) == {"gpt-4-0314"}


def test_real_arena_hard_missing_answers_are_skipped(arena_hard: dict[str, Any]) -> None:
    """gpt-4-0314 against all ten: only two opponents' answers are public."""
    log, ans, prompts = arena_hard["log"], arena_hard["answers"], arena_hard["prompts"]
    with pytest.raises(ValidationError, match="no answer for 211 selected"):
        Flywheel("gpt-4-0314", prompts=prompts).preference_pairs(log, ans, margin=3.0)
    dpo = Flywheel("gpt-4-0314", prompts=prompts, missing="skip").preference_pairs(
        log, ans, margin=3.0)
    s = dpo.stats.summary
    assert s["selected"] == 227 and s["missing_answer"] == 211 and len(dpo) == 16
    assert set(dpo.frame["opponent"]) == {"gpt-4-0613", "gpt-3.5-turbo-0125"}


def test_real_arena_hard_teacher_does_not_depend_on_names(arena_hard: dict[str, Any]) -> None:
    log, prompts = arena_hard["log"], arena_hard["prompts"]
    models = sorted(set(log["model_a"]) | set(log["model_b"]))
    # aliases that reverse the name order ("Nexusflow__..." sorts first, becomes last)
    alias = {m: f"m{len(models) - i:02d}" for i, m in enumerate(models)}
    renamed = log.assign(model_a=log["model_a"].map(alias), model_b=log["model_b"].map(alias))
    picks = []
    for lg, names in ((log, {m: m for m in models}), (renamed, alias)):
        ans = pd.DataFrame([{"question_id": q, "model": names[m], "answer": f"{m} on {q}"}
                            for q in prompts["question_id"] for m in models])
        sft = Flywheel(names["gpt-4-0314"], prompts=prompts, margin_source="winner").sft(
            lg, ans, margin=1.0)
        back = {v: k for k, v in names.items()}
        picks.append(sft.frame.set_index("question_id")["opponent"].map(back))
    pd.testing.assert_series_equal(picks[0], picks[1])
    assert len(picks[0]) == 446
    top = picks[0].value_counts()
    assert top.head(3).to_dict() == {  # as docs/flywheel.md reports
        "Nexusflow__Athene-V2-Chat": 337,
        "__mnt__cephfs-nvme__nunomg__bsc_ckpts__qwen-2p5-72b-Blocks-v4-250225": 51,
        "Qwen__Qwen2.5-72B-Instruct": 26}
    # every teacher is the highest-rated opponent that beat the target on that prompt
    board = rank(log, ci="none").table["rating"]
    t = "gpt-4-0314"
    won = log[((log["model_a"] == t) & (log["winner"] == "model_b"))
              | ((log["model_b"] == t) & (log["winner"] == "model_a"))]
    winners = won.assign(opp=np.where(won["model_a"] == t, won["model_b"], won["model_a"]))
    n_lost = winners.groupby(["question_id", "opp"]).size()
    lost_both = n_lost[n_lost == 2].reset_index()  # lost in both orders: selected
    best = lost_both["opp"].map(board).groupby(lost_both["question_id"]).max()
    assert picks[0].map(board).to_dict() == pytest.approx(best.reindex(picks[0].index).to_dict())
