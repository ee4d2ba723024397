"""The committed fixtures are what scripts/make_fixtures.py writes, and behave as labelled."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

import wizardarena as wa

ROOT = Path(__file__).resolve().parents[1]


def test_fixtures_regenerate_identically(tmp_path: Path, fixtures_dir: Path) -> None:
    script = ROOT / "scripts" / "make_fixtures.py"
    spec = importlib.util.spec_from_file_location("make_fixtures", script)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(tmp_path)
    for path in sorted(tmp_path.iterdir()):
        assert path.read_bytes() == (fixtures_dir / path.name).read_bytes(), path.name


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
