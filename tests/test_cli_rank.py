"""The `wizardarena rank` and `wizardarena simulate` commands, run through the real entry point."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from wizardarena.cli import main


def test_rank_markdown_with_anchor(fixtures_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["rank", str(fixtures_dir / "ties.csv"), "--bootstrap", "100", "--ci",
                 "bootstrap", "--unit", "battle", "--anchor", "gamma=1114", "--format", "md",
                 "--seed", "0"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.startswith("| model | rating | lower | upper | rank |")
    assert "| gamma | 1114 | 1114 | 1114 |" in out
    assert "95% bootstrap CI (battle, 100 rounds)" in out


def test_rank_json_and_out_file(fixtures_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "board.json"
    assert main(["rank", str(fixtures_dir / "unbalanced.csv"), "--ci", "sandwich", "--unit",
                 "prompt", "--format", "json", "--out", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["info"]["ci"] == "sandwich" and data["info"]["unit"] == "prompt"
    assert next(m["model"] for m in data["models"]) == "m1"


def test_rank_warns_about_ridge_on_stderr(fixtures_dir: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rank", str(fixtures_dir / "undefeated.csv"), "--ci", "none"]) == 0
    err = capsys.readouterr().err
    assert "warning:" in err and "champ (undefeated)" in err


def test_rank_bad_input_exits_2_with_message(tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("model_a,model_b,winner\nx,y,model_a\nx,y,modle_b\n")
    assert main(["rank", str(bad)]) == 2  # bad input (ValidationError): exit 2
    err = capsys.readouterr().err
    assert "wizardarena rank: error:" in err and "row 1: 'modle_b'" in err


def test_simulate_then_rank_by_category_free(tmp_path: Path) -> None:
    log = tmp_path / "sim.parquet"
    truth = tmp_path / "truth.json"
    assert main(["simulate", "--models", "4", "--battles", "2000", "--prompts", "50",
                 "--out", str(log), "--truth", str(truth)]) == 0
    assert len(json.loads(truth.read_text())) == 4
    assert main(["rank", str(log), "--unit", "prompt", "--bootstrap", "50", "--seed", "1",
                 "--format", "csv", "--out", str(tmp_path / "b.csv")]) == 0
    assert (tmp_path / "b.csv").read_text().startswith("model,rating,lower,upper,rank")


def test_console_script_help_lists_commands() -> None:
    res = subprocess.run([sys.executable, "-m", "wizardarena.cli", "--help"],
                         capture_output=True, text=True, check=True)
    for cmd in ("demo", "rank", "simulate"):
        assert cmd in res.stdout


def test_rank_style_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from wizardarena.sim import simulate_style_battles

    log = simulate_style_battles({"a": {"skill": 1100.0}, "b": {"skill": 1000.0, "verbosity": 1.0},
                                  "c": {"skill": 950.0, "markdown": 1.0}}, 3000,
                                 style_bias={"tokens": 1.0}, rng=0)
    path = tmp_path / "style.parquet"
    log.to_parquet(path)
    assert main(["rank", str(path), "--style", "--ci", "sandwich", "--format", "md"]) == 0
    out = capsys.readouterr().out
    assert "Style coefficients" in out and "| tokens |" in out
