"""Battle logs beyond memory: a partitioned Parquet dataset read batch by batch into counts
gives exactly the counts, and so the ratings, of the same log read into memory."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wizardarena as wa
from wizardarena.battles import BattleLog, read_battles
from wizardarena.battles.streams import dataset_files, is_dataset, read_counts
from wizardarena.exceptions import DataWarning, ValidationError

TRUTH = {"alpha": 1100, "beta": 1000, "gamma": 950, "delta": 900}


def _log(n: int = 6000, rng: int = 0, **kw: Any) -> pd.DataFrame:
    return wa.simulate_battles(TRUTH, n, prompts=120, rng=rng, **kw)


def _write(frame: pd.DataFrame, where: Path, parts: int = 4, row_group: int = 700,
           nested: bool = True) -> Path:
    """``frame`` as ``parts`` Parquet files (in sorted path order = row order)."""
    where.mkdir(parents=True, exist_ok=True)
    bounds = np.linspace(0, len(frame), parts + 1).astype(int)
    for k in range(parts):
        sub = where / (f"day={k:02d}" if nested else ".")
        sub.mkdir(exist_ok=True)
        frame.iloc[bounds[k]:bounds[k + 1]].to_parquet(sub / f"part-{k:03d}.parquet",
                                                     index=False, row_group_size=row_group)
    return where


def _same_counts(streamed: Any, log: BattleLog, group: str | None) -> None:
    a, b = streamed.counts(group=group), log.counts(group=group)
    assert a.models == b.models and a.n_groups == b.n_groups
    for field in ("a", "b", "outcome", "weight", "count"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    if group is None:
        assert a.group is None and b.group is None
    else:
        np.testing.assert_array_equal(a.group, b.group)


@pytest.mark.parametrize("options", [
    {}, {"unit": "prompt"}, {"ci": "sandwich", "unit": "prompt"}, {"ties": "davidson"},
    {"ties": "drop", "ci": "none"}, {"anchor": {"beta": 1050}}, {"point": "median"},
    {"position": True, "unit": "prompt"},
])
def test_streamed_ranking_equals_the_in_memory_one(tmp_path: Path,
                                                   options: dict[str, Any]) -> None:
    frame = _log(first_slot=60, tie_rate=0.15)
    d = _write(frame, tmp_path / "log")
    mem = wa.rank(frame, rng=3, rounds=300, **options)
    for source in (d, str(d / "*" / "*.parquet")):
        board = wa.rank(source, rng=3, rounds=300, **options)
        pd.testing.assert_frame_equal(board.table, mem.table)
        assert board.info == mem.info
        if options.get("position"):
            assert board.position is not None and mem.position is not None
            pd.testing.assert_series_equal(board.position, mem.position)
            p, q = board.position_bias, mem.position_bias
            assert p is not None and q is not None
            assert p.first_slot_win_rate == q.first_slot_win_rate
            assert p.n_decisive == q.n_decisive
            assert np.isnan(p.position_consistency)  # needs each prompt's verdicts together


@settings(max_examples=25)
@given(st.integers(1, 6), st.integers(7, 3000), st.integers(0, 10_000),
       st.booleans(), st.booleans())
def test_counts_do_not_depend_on_files_batches_or_order_of_merging(
        parts: int, batch: int, seed: int, weighted: bool, grouped: bool) -> None:
    import tempfile

    rng = np.random.default_rng(seed)
    frame = _log(n=int(rng.integers(20, 2500)), rng=seed, tie_rate=0.2)
    if weighted:
        frame["weight"] = rng.choice([0.5, 1.0, 3.0], size=len(frame))
    with tempfile.TemporaryDirectory() as tmp:
        d = _write(frame, Path(tmp), parts=parts, row_group=int(rng.integers(5, 900)))
        group = "question_id" if grouped else None
        streamed = read_counts(d, group=group, batch_rows=batch)
    log = read_battles(frame)
    assert streamed.n_battles == log.n_battles
    _same_counts(streamed, log, group)
    if grouped:
        _same_counts(streamed, log, None)  # collapsed over prompts, as BattleLog.counts


def test_other_vocabularies_weights_and_prompt_columns(tmp_path: Path) -> None:
    frame = _log(tie_rate=0.2)
    labels = {"model_a": "A>B", "model_b": "B>A", "tie": "A=B", "tie (bothbad)": "A=B"}
    ah = frame.assign(winner=frame["winner"].map(labels))
    ah.loc[ah.index[::7], "winner"] = "A>>B"
    ah.loc[ah.index[3::11], "winner"] = "B>>A"
    d = _write(ah, tmp_path / "ah")
    kw = {"outcomes": "arena-hard", "strong_weight": 3.0, "rng": 0, "rounds": 100}
    pd.testing.assert_frame_equal(wa.rank(d, **kw).table, wa.rank(ah, **kw).table)
    # llmfao's layout: left/right names, the prompt in column "prompt"
    lr = frame.rename(columns={"model_a": "left", "model_b": "right",
                               "question_id": "prompt"})
    lr["winner"] = lr["winner"].map({"model_a": "left", "model_b": "right", "tie": "tie",
                                     "tie (bothbad)": "tie"})
    d2 = _write(lr, tmp_path / "lr")
    kw = {"outcomes": "left-right", "unit": "prompt", "cluster": "prompt", "rng": 1,
          "rounds": 100}
    pd.testing.assert_frame_equal(wa.rank(d2, **kw).table, wa.rank(lr, **kw).table)


def test_a_real_judge_log_split_into_files(tmp_path: Path, shared_data: Path) -> None:
    frame = pd.read_json(shared_data / "arena_hard" /
                         "battles_judge-gpt-4-1106-preview_baseline-gpt-4-0314.jsonl",
                         lines=True, dtype=False)
    frame["question_id"] = frame["question_id"].astype(str)
    d = _write(frame, tmp_path / "ah", parts=7, row_group=1000)
    for unit in ("battle", "prompt"):
        kw = {"unit": unit, "rng": 0, "rounds": 200}
        pd.testing.assert_frame_equal(wa.rank(d, **kw).table, wa.rank(frame, **kw).table)


def test_errors_name_the_file_and_rows(tmp_path: Path) -> None:
    frame = _log(n=900)
    frame.loc[612, "winner"] = "modle_a"
    d = _write(frame, tmp_path / "bad", parts=3, row_group=100)  # rows 600.. in part 2
    with pytest.raises(ValidationError) as info:
        wa.rank(d, ci="none")
    msg = str(info.value)
    assert "part-002.parquet, rows 0..99 (row numbers below count from 0)" in msg
    assert "row 12: 'modle_a'" in msg and "column 'winner' must be one of" in msg
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValidationError, match="matches no Parquet file"):
        wa.rank(empty)
    (d / "notes.csv").write_text("x\n")
    with pytest.raises(ValidationError, match=r"files that are not Parquet \(\['notes.csv'\]"):
        wa.rank(d)
    zero = _write(frame.iloc[:0], tmp_path / "zero", parts=2)
    with pytest.raises(ValidationError, match="battle log is empty"):
        wa.rank(zero)
    two = tmp_path / "two"
    _write(frame.iloc[:300], two, parts=1)
    frame.iloc[300:600].drop(columns="question_id").to_parquet(two / "x.parquet", index=False)
    with pytest.raises(ValidationError, match=r"x.parquet has no column\(s\) \['question_id'\]"):
        wa.rank(two, unit="prompt")
    good = _write(_log(n=300), tmp_path / "good", parts=2)
    for kw, what in (({"method": "elo"}, "online Elo"), ({"by": "question_id"}, "by="),
                     ({"style": True}, "style=True"), ({"unit": "prompt", "cluster": "nope"},
                                                       "no column 'nope'")):
        with pytest.raises(ValidationError, match=what):
            wa.rank(good, **kw)


def test_a_column_only_some_files_have_is_neither_dropped_nor_half_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # weights in the second file only: refused before any row is read (they used to be
    # dropped silently when the first file had none)
    frame = _log(n=600)
    d = tmp_path / "w"
    d.mkdir()
    frame.iloc[:300].to_parquet(d / "a.parquet", index=False)
    frame.iloc[300:].assign(weight=2.0).to_parquet(d / "b.parquet", index=False)
    import wizardarena.battles.streams as bs

    def no_reading(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("rows were read before the columns were checked")

    monkeypatch.setattr(bs, "_batches", no_reading)
    with pytest.raises(ValidationError, match=r"a.parquet has no column\(s\) \['weight'\]"):
        wa.rank(d, ci="none")
    # what needs every battle is refused before reading too
    with pytest.raises(ValidationError, match="online Elo needs every battle"):
        wa.rank(d, method="elo")


def test_names_differing_by_case_across_files(tmp_path: Path) -> None:
    frame = _log(n=1200)
    late = frame.index >= 900
    frame.loc[late & (frame["model_a"] == "alpha"), "model_a"] = "Alpha "
    d = _write(frame, tmp_path / "case", parts=4)  # the variant only in the last file
    with pytest.raises(ValidationError, match=r"differ only by case.*'Alpha '.*'alpha'"):
        wa.rank(d, ci="none")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        board = wa.rank(d, normalize_names=True, rng=0, rounds=100)
        mem = wa.rank(frame, normalize_names=True, rng=0, rounds=100)
    assert any(issubclass(w.category, DataWarning) for w in seen)
    pd.testing.assert_frame_equal(board.table, mem.table)
    assert "Alpha " not in board.table.index


def test_what_is_a_dataset(tmp_path: Path) -> None:
    d = _write(_log(n=100), tmp_path / "x", parts=2)
    assert is_dataset(d) and is_dataset(str(d)) and is_dataset("logs/*.parquet")
    assert not is_dataset(str(next(d.rglob("*.parquet")))) and not is_dataset(_log(n=10))
    files = dataset_files(d)
    assert files == sorted(files) and len(files) == 2


def test_engine_ray_counts_on_ray_data(tmp_path: Path, ray_runtime: Any) -> None:
    frame = _log(first_slot=40)
    d = _write(frame, tmp_path / "log", parts=3, row_group=500)
    for kw in ({}, {"unit": "prompt"}, {"position": True}):
        mem = wa.rank(frame, rng=5, rounds=200, **kw)
        board = wa.rank(d, rng=5, rounds=200, engine="ray", **kw)
        pd.testing.assert_frame_equal(board.table, mem.table)
    one = next(d.rglob("*.parquet"))  # one file is a dataset of one file on Ray
    pd.testing.assert_frame_equal(
        wa.rank(one, engine="ray", ci="none").table, wa.rank(one, ci="none").table)
    bad = frame.copy()
    bad.loc[1234, "winner"] = "draw"
    d2 = _write(bad, tmp_path / "bad", parts=3, row_group=500)
    with pytest.raises(ValidationError, match=r"rows 1000..1499 .*row 234: 'draw'"):
        wa.rank(d2, engine="ray", ci="none")
    with pytest.raises(ValidationError, match="an in-memory log"):
        wa.rank(frame, engine="ray")


def test_cli_rank_reads_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    ray_runtime: Any) -> None:
    from wizardarena.cli import main

    frame = _log()
    d = _write(frame, tmp_path / "log")
    assert main(["rank", str(d), "--seed", "0", "--rounds", "100", "--format", "csv"]) == 0
    streamed = capsys.readouterr().out
    assert main(["rank", str(d), "--seed", "0", "--rounds", "100", "--format", "csv",
                 "--ray"]) == 0
    on_ray = capsys.readouterr().out
    frame.to_parquet(tmp_path / "one.parquet", index=False)
    assert main(["rank", str(tmp_path / "one.parquet"), "--seed", "0", "--rounds", "100",
                 "--format", "csv"]) == 0
    assert streamed == on_ray == capsys.readouterr().out


def test_engine_ray_reads_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         ray_runtime: Any) -> None:
    # the workers' working directory is the one Ray started in, not the driver's now
    frame = _log(n=2000)
    _write(frame, tmp_path / "log", parts=2, row_group=500)
    monkeypatch.chdir(tmp_path)
    for source in ("log", "log/*/*.parquet"):
        pd.testing.assert_frame_equal(wa.rank(source, engine="ray", ci="none").table,
                                      wa.rank(frame, ci="none").table)
