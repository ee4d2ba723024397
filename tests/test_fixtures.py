"""The packaged named logs (wizardarena/data/logs) are what scripts/make_fixtures.py writes,
and behave as labelled."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

import wizardarena as wa
from wizardarena.testing import FIXTURE_LOGS, fixture_log

ROOT = Path(__file__).resolve().parents[1]


def test_fixtures_regenerate_identically(tmp_path: Path, fixtures_dir: Path) -> None:
    script = ROOT / "scripts" / "make_fixtures.py"
    spec = importlib.util.spec_from_file_location("make_fixtures", script)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(tmp_path)
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == sorted(p.name for p in fixtures_dir.iterdir())  # nothing stale shipped
    for name in written:
        assert (tmp_path / name).read_bytes() == (fixtures_dir / name).read_bytes(), name


def test_fixture_behaviour(fixtures_dir: Path) -> None:
    truth = json.loads((fixtures_dir / "truth.json").read_text())
    board = wa.rank(fixtures_dir / "ties.csv", rounds=200, unit="prompt", rng=0)
    assert board.table["ties"].sum() > 0.3 * board.table["n_battles"].sum()
    assert set(board.models) == set(truth["ties"])
    with pytest.warns(wa.RidgeWarning):
        und = wa.rank(fixtures_dir / "undefeated.csv", ci="none")
    assert und.info.ridge_models == {"champ": "undefeated"}
    assert und.table.index[0] == "champ"
    with pytest.warns(wa.RidgeWarning):
        dis = wa.rank(fixtures_dir / "disconnected.csv", ci="none")
    assert dis.info.ridge_models == {"island-1": "disconnected", "island-2": "disconnected"}
    unb = wa.rank(fixtures_dir / "unbalanced.csv", rounds=200, rng=0)
    counts = unb.table["n_battles"]
    assert counts.max() > 4 * counts.min()
    assert unb.table.index[0] == "m1"


def test_every_named_log_loads_with_its_truth() -> None:
    assert set(FIXTURE_LOGS) == {"ties", "unbalanced", "undefeated", "disconnected", "fastchat",
                                 "arena-hard"}
    for name in FIXTURE_LOGS:
        log = fixture_log(name)
        battles, truth = log
        assert log.path is not None and log.path.is_file() and log.name == name
        models = set(battles["model_a"]) | set(battles["model_b"])
        assert models == set(truth.index), name
        assert wa.read_battles(battles, outcomes=log.outcomes).n_battles == len(battles)
    with pytest.raises(wa.ValidationError, match="no fixture log named 'tie'"):
        fixture_log("tie")


def test_real_shaped_log_in_fastchat_and_arena_hard_formats() -> None:
    fc, ah = fixture_log("fastchat"), fixture_log("arena-hard")
    assert fc.path is not None and fc.path.suffix == ".json"  # a FastChat clean_battle list
    raw = json.loads(fc.path.read_text())
    assert isinstance(raw, list) and set(raw[0]) == {
        "question_id", "model_a", "model_b", "winner", "judge", "turn", "anony", "language",
        "tstamp"}
    assert {"tie (bothbad)", "tie", "model_a", "model_b"} == set(fc.battles["winner"])
    assert set(ah.battles["winner"]) == {"A>>B", "A>B", "A=B", "B>A", "B>>A"}
    assert ah.outcomes == "arena-hard"
    # Arena-Hard's design: every model against the baseline on every prompt, in both orders
    b = ah.battles
    assert ((b["model_a"] == "gpt-4-0314") == (b["game"] == 1)).all()
    assert ((b["model_b"] == "gpt-4-0314") == (b["game"] == 2)).all()
    assert b["question_id"].str.fullmatch("[0-9a-f]{32}").all()
    assert b.groupby(["question_id", "model_a", "model_b"]).size().max() == 1
    # the same games: the same board (strong verdicts weigh 1 by default)
    x = fc.rank(ci="none")
    y = ah.rank(ci="none")
    assert np.allclose(x.table["rating"], y.table.loc[x.table.index, "rating"], atol=1e-9)
    assert (x.table["n_battles"] == y.table.loc[x.table.index, "n_battles"]).all()
    z = ah.rank(ci="none", strong_weight=3)
    assert not np.allclose(x.table["rating"], z.table.loc[x.table.index, "rating"])
