"""Battle log reading, validation (clear errors), vocabularies, writers and aggregation."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import wizardarena as wa
from wizardarena.battles import Outcome


def _df(**cols: object) -> pd.DataFrame:
    base = {"model_a": ["x", "y", "x"], "model_b": ["y", "z", "z"],
            "winner": ["model_a", "tie", "model_b"]}
    base.update(cols)  # type: ignore[arg-type]
    return pd.DataFrame(base)


def test_unknown_winner_label_names_row_value_and_expectation() -> None:
    df = _df(winner=["model_a", "modle_a", "model_b"])
    with pytest.raises(wa.ValidationError) as err:
        wa.read_battles(df)
    msg = str(err.value)
    assert "row 1" in msg and "'modle_a'" in msg and "tie (bothbad)" in msg


def test_missing_columns_are_named() -> None:
    with pytest.raises(wa.ValidationError, match=r"missing required column\(s\) \['winner'\]"):
        wa.read_battles(pd.DataFrame({"model_a": ["x"], "model_b": ["y"]}))


@pytest.mark.parametrize("bad", [None, np.nan])
def test_missing_model_names(bad: object) -> None:
    df = _df(model_b=["y", bad, "z"])
    with pytest.raises(wa.ValidationError, match=r"'model_b' has missing .* row 1"):
        wa.read_battles(df)


def test_empty_model_name() -> None:
    with pytest.raises(wa.ValidationError, match=r"empty model names at row 2"):
        wa.read_battles(_df(model_a=["x", "y", "  "]))


def test_self_battle() -> None:
    with pytest.raises(wa.ValidationError, match=r"cannot battle itself.*row 2: 'z'"):
        wa.read_battles(_df(model_a=["x", "y", "z"]))


@pytest.mark.parametrize("w", [-1.0, np.nan, np.inf])
def test_bad_weights(w: float) -> None:
    with pytest.raises(wa.ValidationError, match=r"'weight' must hold finite non-negative.*row 1"):
        wa.read_battles(_df(weight=[1.0, w, 2.0]))


def test_empty_log() -> None:
    with pytest.raises(wa.ValidationError, match="empty"):
        wa.read_battles(pd.DataFrame({"model_a": [], "model_b": [], "winner": []}))


def test_non_text_model_names() -> None:
    with pytest.raises(wa.ValidationError, match="model_a"):
        wa.read_battles(_df(model_a=[1, 2, 3]))


def test_unknown_vocabulary() -> None:
    with pytest.raises(wa.ValidationError, match="outcomes must be one of"):
        wa.read_battles(_df(), outcomes="guess")


def test_ab_vocabulary() -> None:
    log = wa.read_battles(_df(winner=["A", "tie", "B"]), outcomes="ab")
    assert log.outcome.tolist() == [Outcome.A, Outcome.TIE, Outcome.B]
    with pytest.raises(wa.ValidationError, match="row 0: 'model_a'"):
        wa.read_battles(_df(), outcomes="ab")


def test_numeric_vocabulary_is_exact() -> None:
    log = wa.read_battles(_df(winner=[1, 0.5, 0]), outcomes="numeric")
    assert log.outcome.tolist() == [Outcome.A, Outcome.TIE, Outcome.B]
    with pytest.raises(wa.ValidationError, match=r"1, 0 or 0.5.*row 1: 0.7"):
        wa.read_battles(_df(winner=[1, 0.7, 0]), outcomes="numeric")
    with pytest.raises(wa.ValidationError, match="must be numeric"):
        wa.read_battles(_df(), outcomes="numeric")


def test_arena_hard_labels_and_strong_weight() -> None:
    df = _df(winner=["A>>B", "[[A=B]]", "B>A"])
    log = wa.read_battles(df, outcomes="arena-hard", strong_weight=3)
    assert log.outcome.tolist() == [Outcome.A, Outcome.TIE, Outcome.B]
    assert log.weight is not None and log.weight.tolist() == [3.0, 1.0, 1.0]
    assert wa.read_battles(df, outcomes="arena-hard").weight is None  # default weight 1
    with pytest.raises(wa.ValidationError, match="A>>B"):
        wa.read_battles(_df(winner=["A>>B", "A>>>B", "B>A"]), outcomes="arena-hard")


def test_arena_hard_strong_weight_equals_repeating_rows() -> None:
    df = pd.DataFrame({"model_a": ["x", "x", "y", "z", "y"], "model_b": ["y", "z", "z", "x", "x"],
                       "winner": ["A>>B", "A>B", "B>>A", "A=B", "A>B"]})
    weighted = wa.rank(df, outcomes="arena-hard", strong_weight=3, ci="none")
    strong = df["winner"].str.contains(">>")
    repeated = pd.concat([df, df[strong], df[strong]], ignore_index=True)
    plain = wa.rank(repeated, outcomes="arena-hard", ci="none")
    pd.testing.assert_series_equal(weighted.table["rating"].sort_index(),
                                   plain.table["rating"].sort_index(), atol=1e-9)


def test_left_right_vocabulary() -> None:
    df = pd.DataFrame({"left": ["x", "y"], "right": ["y", "x"], "winner": ["left", "tie"],
                       "prompt": [1, 2]})
    log = wa.read_battles(df, outcomes="left-right")
    assert log.models == ("x", "y")
    assert log.outcome.tolist() == [Outcome.A, Outcome.TIE]
    assert log.extra is not None and list(log.extra.columns) == ["prompt"]


def test_llmfao_real_file(shared_data: Path) -> None:
    log = wa.read_battles(shared_data / "llmfao" / "crowd-comparisons.csv", outcomes="left-right")
    assert log.n_battles == 8931
    assert log.n_models == 59


def test_arena_hard_real_battle_log(shared_data: Path) -> None:
    path = shared_data / "arena_hard" / "battles_judge-gpt-4-1106-preview_baseline-gpt-4-0314.jsonl"
    board = wa.rank(path, ci="none", anchor={"gpt-4-0314": 1000})
    assert board.info.n_battles == 14536
    assert board.table.loc["gpt-4-0314", "rating"] == 1000


def test_roundtrip_all_formats(tmp_path: Path) -> None:
    df = wa.simulate_battles({"a": 1000, "b": 1100, "c": 900}, 200, tie_rate=0.2, prompts=20,
                             rng=0)
    log = wa.read_battles(df)
    for suffix, writer in [(".parquet", log.to_parquet), (".jsonl", log.to_jsonl),
                           (".csv", log.to_csv)]:
        path = tmp_path / f"log{suffix}"
        writer(path)
        back = wa.read_battles(path)
        assert back.models == log.models
        np.testing.assert_array_equal(back.a, log.a)
        np.testing.assert_array_equal(back.outcome, log.outcome)
        assert back.column("question_id").astype(str).tolist() == df["question_id"].tolist()
    (tmp_path / "clean.json").write_text(json.dumps(df.to_dict(orient="records")))
    assert wa.read_battles(tmp_path / "clean.json").n_battles == 200
    table = pa.Table.from_pandas(df)
    assert wa.read_battles(table).n_battles == 200
    assert wa.read_battles(df.to_dict(orient="records")).n_battles == 200


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(wa.ValidationError, match="not found"):
        wa.read_battles(tmp_path / "nope.parquet")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(wa.ValidationError, match="cannot tell the format"):
        wa.read_battles(tmp_path / "x.txt")
    (tmp_path / "obj.json").write_text('{"a": 1}')
    with pytest.raises(wa.ValidationError, match="JSON list"):
        wa.read_battles(tmp_path / "obj.json")
    with pytest.raises(wa.ValidationError, match="one dict per battle"):
        wa.read_battles([{"model_a": "x", "model_b": "y", "winner": "tie"}, 3])  # type: ignore[list-item]


def test_failed_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = wa.read_battles(_df())
    target = tmp_path / "out.parquet"
    log.to_parquet(target)
    before = target.read_bytes()

    def boom(self: object, *a: object, **k: object) -> None:
        Path(str(a[0])).write_bytes(b"partial")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", boom)
    with pytest.raises(OSError, match="disk full"):
        log.to_parquet(target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]


def test_counts_match_groupby() -> None:
    df = wa.simulate_battles({f"m{k}": 1000 + 30 * k for k in range(7)}, 3000, tie_rate=0.2,
                             prompts=40, rng=4)
    df.loc[df.index % 7 == 0, "winner"] = "tie (bothbad)"
    log = wa.read_battles(df)
    for group in (None, "question_id"):
        c = log.counts(group=group)
        got = pd.DataFrame({"a": np.asarray(log.models)[c.a], "b": np.asarray(log.models)[c.b],
                            "w": np.asarray(wa.WINNER_LABELS)[c.outcome], "n": c.count})
        keys = ["model_a", "model_b", "winner"]
        if group:
            got["q"] = pd.factorize(log.column("question_id"))[1][c.group]
            keys = [*keys, "question_id"]
        ref = df.groupby(keys).size().reset_index(name="n")
        got = got.rename(columns={"a": "model_a", "b": "model_b", "w": "winner",
                                  "q": "question_id"})
        merged = ref.merge(got, on=keys, how="outer", suffixes=("_ref", "_got"))
        assert merged["n_ref"].notna().all() and merged["n_got"].notna().all()
        assert (merged["n_ref"] == merged["n_got"]).all()
        assert c.n_battles == 3000


def test_weighted_counts_keep_weights_apart() -> None:
    df = _df(weight=[1.0, 2.0, 2.0])
    df = pd.concat([df, df.iloc[[0]].assign(weight=3.0)], ignore_index=True)
    c = wa.read_battles(df).counts()
    assert sorted(zip(c.weight.tolist(), c.count.tolist())) == [(1.0, 1), (2.0, 1), (2.0, 1),
                                                                (3.0, 1)]


def test_prompt_unit_needs_question_ids() -> None:
    df = _df(question_id=["q1", None, "q2"])
    with pytest.raises(wa.ValidationError, match=r"'question_id' has missing values at row 1"):
        wa.rank(df, unit="prompt", rounds=10, rng=0)
    with pytest.raises(wa.ValidationError, match="no column 'question_id'"):
        wa.rank(_df(), unit="prompt", rounds=10, rng=0)


# ----------------------------------------------------------------------------- hints
def test_prompt_unit_without_question_id_says_how_to_name_the_column() -> None:
    log = wa.simulate_battles({"a": 1100, "b": 1000, "c": 900}, 600, prompts=20, rng=0)
    llmfao_like = log.rename(columns={"question_id": "prompt"})
    with pytest.raises(wa.ValidationError) as info:
        wa.rank(llmfao_like, unit="prompt", rounds=20, rng=0)
    msg = str(info.value)
    assert "needs a prompt id column" in msg and "no column 'question_id'" in msg
    assert "cluster='prompt'" in msg and "its column 'prompt' looks like one" in msg
    cli = info.value.render({"cluster": "--cluster-column", "unit": "--unit"})
    assert "--cluster-column prompt" in cli and "cluster=" not in cli
    # cluster= names the column: the same board as renaming it to question_id
    named = wa.rank(llmfao_like, unit="prompt", cluster="prompt", rounds=50, rng=3)
    renamed = wa.rank(log, unit="prompt", rounds=50, rng=3)
    assert np.allclose(named.table[["rating", "lower", "upper"]],
                       renamed.table[["rating", "lower", "upper"]])
    with pytest.raises(wa.ValidationError, match="no effect with unit='battle'"):
        wa.rank(log, cluster="question_id", rounds=20, rng=0)


def test_anchor_not_in_the_log_lists_the_closest_names() -> None:
    log = wa.simulate_battles({"mixtral-8x7b-instruct-v0.1": 1114, "gpt-4-0613": 1160,
                               "llama-2-70b-chat": 1080}, 600, rng=0)
    with pytest.raises(wa.ValidationError) as info:
        wa.rank(log, anchor={"Mixtral-8x7B-Instruct": 1114}, rounds=10, rng=0)
    assert "closest names in the log: ['mixtral-8x7b-instruct-v0.1']" in str(info.value)
    with pytest.raises(wa.ValidationError, match=r"closest names in the log: \['gpt-4-0613'\]"):
        wa.rank(log, anchor={"gpt4-0613": 1160}, rounds=10, rng=0)


@pytest.mark.parametrize(
    ("winner", "outcomes", "hint"),
    [
        (["A", "tie", "B"], "fastchat", "these are the labels of outcomes='ab'"),
        (["A>B", "A=B", "B>>A"], "fastchat", "these are the labels of outcomes='arena-hard'"),
        (["left", "tie", "right"], "fastchat", "these are the labels of outcomes='left-right'"),
        (["model_a", "tie", "model_b"], "ab", "these are the labels of outcomes='fastchat'"),
        (["model-a", "Tie", "model-b"], "fastchat",
         "replace {'Tie': 'tie', 'model-a': 'model_a', 'model-b': 'model_b'} first"),
        ([1.0, 0.5, 0.0], "fastchat", "these are the scores of outcomes='numeric'"),
        ([1, 0, 2], "fastchat", "1/2 look like the position of the winner"),
        ([1, 2, 2], "numeric", "1/2 look like the position of the winner"),
        (["model_a", "tie", "model_b"], "numeric", "these are the labels of outcomes='fastchat'"),
    ],
)
def test_winner_in_another_vocabulary_names_it(winner: list[object], outcomes: str,
                                               hint: str) -> None:
    with pytest.raises(wa.ValidationError) as info:
        wa.read_battles(_df(winner=winner), outcomes=outcomes)
    assert hint in str(info.value)
    if "outcomes=" in hint:
        vocab = hint.split("outcomes=")[1].split("'")[1]
        assert f"--outcomes {vocab}" in info.value.render({"outcomes": "--outcomes"})


def test_missing_columns_another_layout_uses_are_named() -> None:
    crowd = pd.DataFrame({"left": ["x"], "right": ["y"], "winner": ["left"]})
    with pytest.raises(wa.ValidationError, match=r"llmfao layout\): pass outcomes='left-right'"):
        wa.read_battles(crowd)
    with pytest.raises(wa.ValidationError, match="has model_a/model_b: pass outcomes='fastchat'"):
        wa.read_battles(_df(), outcomes="left-right")
    renamed = _df().rename(columns={"model_a": "model_1", "model_b": "model_2",
                                    "winner": "verdict"})
    with pytest.raises(wa.ValidationError) as info:
        wa.read_battles(renamed)
    assert "rename its columns 'model_1'/'model_2' to 'model_a'/'model_b'" in str(info.value)
    assert "rename its column 'verdict' to 'winner'" in str(info.value)


# ----------------------------------------------------------------------------- names
def test_names_differing_by_case_or_spaces_raise_listing_each_group() -> None:
    df = pd.DataFrame({"model_a": ["GPT-4", "gpt-4 ", "claude", "Claude", "llama"],
                       "model_b": ["llama", "llama", "llama", "GPT-4", "GPT-4"],
                       "winner": ["model_a"] * 5})
    with pytest.raises(wa.ValidationError) as info:
        wa.read_battles(df)
    msg = str(info.value)
    assert "differ only by case or surrounding spaces" in msg
    assert "['Claude' (1 row), 'claude' (1 row)]" in msg
    assert "['GPT-4' (3 rows), 'gpt-4 ' (1 row)]" in msg
    assert "normalize_names=True" in msg
    assert "--normalize-names" in info.value.render({"normalize_names": "--normalize-names"})
    with pytest.warns(wa.DataWarning, match=r"'GPT-4' <- \['GPT-4', 'gpt-4 '\]"):
        log = wa.read_battles(df, normalize_names=True)
    assert set(log.models) == {"GPT-4", "llama", "Claude"} or set(log.models) == {
        "GPT-4", "llama", "claude"}
    assert log.record().loc["GPT-4", "n_battles"] == 4
    # merged names that met each other become a self-battle, which is refused
    with pytest.raises(wa.ValidationError, match="cannot battle itself"), pytest.warns(
            wa.DataWarning):
        wa.read_battles(pd.DataFrame({"model_a": ["a", "A"], "model_b": ["A", "b"],
                                      "winner": ["tie", "tie"]}), normalize_names=True)
    with pytest.warns(wa.DataWarning), warnings.catch_warnings():
        warnings.simplefilter("ignore", wa.RidgeWarning)  # 'Claude' is undefeated here
        board = wa.rank(df, normalize_names=True, ci="none")
    assert set(board.models) == set(log.models)
