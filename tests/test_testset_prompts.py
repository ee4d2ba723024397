"""Prompt loading and normalisation (wizardarena.testset.prompts)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wizardarena.exceptions import ValidationError
from wizardarena.testset.prompts import example_prompts, normalize_prompts, read_prompts


def test_list_of_strings_gets_positional_ids() -> None:
    df = normalize_prompts(["hello there", "second prompt"])
    assert df.index.tolist() == ["p000000", "p000001"]
    assert df.index.name == "prompt_id"
    assert df["turns"].tolist() == [["hello there"], ["second prompt"]]
    assert df["text"].tolist() == ["hello there", "second prompt"]


def test_messages_and_text_modes() -> None:
    conv = [
        {"role": "system", "content": "be nice"},
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "an answer"},
        {"role": "user", "content": "follow up"},
    ]
    first = normalize_prompts([conv])
    assert first["turns"].iloc[0] == ["first question", "follow up"]
    assert first["text"].iloc[0] == "first question"
    both = normalize_prompts([conv], text="all_user")
    assert both["text"].iloc[0] == "first question\n\nfollow up"


def test_list_of_turns_and_records() -> None:
    df = normalize_prompts([["a b c", "d e f"], ["g"]])
    assert df["turns"].tolist() == [["a b c", "d e f"], ["g"]]
    rec = normalize_prompts(
        [{"question_id": 7, "prompt": "x y z", "category": "c1"}, {"question_id": 8, "prompt": "u"}]
    )
    assert rec.index.tolist() == ["7", "8"]
    assert "category" in rec.columns


def test_passthrough_clash_is_renamed_not_dropped() -> None:
    df = normalize_prompts(pd.DataFrame({"prompt": ["a", "b"], "cluster": ["x", "y"]}))
    assert df["input_cluster"].tolist() == ["x", "y"]
    again = normalize_prompts(df.assign(cluster=[1, 2]))
    assert again["input_cluster"].tolist() == ["x", "y"]
    assert again["input_input_cluster"].tolist() == [1, 2]


def test_canonical_frame_round_trips() -> None:
    df = example_prompts()
    again = normalize_prompts(df)
    pd.testing.assert_frame_equal(df, again)


@pytest.mark.parametrize(
    ("prompts", "match"),
    [
        (pd.DataFrame({"prompt": ["a", None]}), "missing prompts at rows \\[1\\]"),
        (pd.DataFrame({"id": [1, 1], "prompt": ["a", "b"]}), "unique; rows \\[1\\]"),
        (pd.DataFrame({"other": ["a"]}), "no prompt column"),
        ([[{"role": "assistant", "content": "x"}]], "no user message"),
        ([[{"role": "robot", "content": "x"}]], "role 'robot'"),
        (["ok", 3], "rows \\[1\\]"),
        (42, "got int"),
    ],
)
def test_invalid_inputs_raise(prompts: object, match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        normalize_prompts(prompts)  # type: ignore[arg-type]


def test_unknown_text_mode_raises() -> None:
    with pytest.raises(ValidationError, match="text must be one of"):
        normalize_prompts(["a"], text="last_user")


def test_readers_round_trip(tmp_path: Path) -> None:
    rows = [
        {"uid": "a1", "prompt": "what is a monad", "cat": "x"},
        {"uid": "b2", "prompt": "write a haiku", "cat": "y"},
    ]
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    js = tmp_path / "p.json"
    js.write_text(json.dumps(rows), encoding="utf-8")
    csv = tmp_path / "p.csv"
    pd.DataFrame(rows).to_csv(csv, index=False)
    pq = tmp_path / "p.parquet"
    pd.DataFrame(rows).to_parquet(pq)
    for path in (jsonl, js, csv, pq):
        df = normalize_prompts(path)
        assert df.index.tolist() == ["a1", "b2"], path
        assert df["text"].tolist() == ["what is a monad", "write a haiku"], path
    (tmp_path / "p.txt").write_text("x", encoding="utf-8")
    with pytest.raises(ValidationError, match="unknown format"):
        read_prompts(tmp_path / "p.txt")
    with pytest.raises(ValidationError, match="does not exist"):
        read_prompts(tmp_path / "missing.jsonl")


def test_csv_turns_json_column(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    pd.DataFrame({"turns": [json.dumps(["q1", "q2"])]}).to_csv(path, index=False)
    df = normalize_prompts(path)
    assert df["turns"].iloc[0] == ["q1", "q2"]


def test_example_prompts_shape() -> None:
    df = example_prompts()
    assert len(df) == 300
    assert df["topic"].nunique() == 30
    assert df.index.is_unique
    assert np.all(df["text"].str.len() > 10)
