"""`wizardarena gate`: exit codes 0 / 1 / 2 and the Markdown summary, from the command line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from wizardarena.cli import main
from wizardarena.testing import fixture_log

AH = fixture_log("arena-hard")
LOG = str(AH.path)
FAST = ["--bootstrap", "300"]


def gate(*args: str) -> int:
    return main(["gate", *args])


def test_pass_writes_the_summary_everywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    step = tmp_path / "step_summary.md"
    step.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    out = tmp_path / "comment.md"
    code = gate(LOG, "--outcomes", "arena-hard", "--model", "gpt-4-turbo-2024-04-09",
                "--not-worse-than", "gpt-4-0314", "--margin", "10", "--better-than",
                "vicuna-13b", "--rank-at-most", "2", "--summary", str(out), *FAST)
    printed = capsys.readouterr().out
    assert code == 0
    text = out.read_text()
    assert text.startswith("### wizardarena gate: ✅ passed")
    assert printed.strip() == text.strip()
    assert step.read_text() == "earlier step\n" + text  # appended, not overwritten
    assert "| ✅ | gpt-4-turbo-2024-04-09 not worse than gpt-4-0314 (margin 10) |" in text
    assert "| ✅ | gpt-4-turbo-2024-04-09 better than vicuna-13b |" in text
    assert "| ✅ | gpt-4-turbo-2024-04-09 rank ≤ 2 | rank 1 |" in text
    assert "95% bootstrap CI (prompt, 300 rounds), seed 0" in text  # prompt unit by default
    assert "<details>" in text and "| model | rating | lower | upper |" in text
    assert "detects a regression of" in text


def test_fail_exits_1_with_the_reason(tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.md"
    code = gate(LOG, "--outcomes", "arena-hard", "--model", "vicuna-13b", "--not-worse-than",
                "gpt-4-0314", "--margin", "10", "--better-than", "llama-2-70b-chat",
                "--summary", str(out), *FAST)
    assert code == 1
    text = out.read_text()
    assert text.startswith("### wizardarena gate: ❌ failed")
    assert "| ❌ | vicuna-13b not worse than gpt-4-0314 (margin 10) |" in text
    assert "P(worse by > 10) = 1.000" in text
    assert "'vicuna-13b' is worse than 'gpt-4-0314' by more than 10 Elo points" in text
    assert "'vicuna-13b' is not rated above 'llama-2-70b-chat'" in text


def test_a_close_call_says_how_many_battles_would_settle_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    code = gate(LOG, "--outcomes", "arena-hard", "--model", "claude-3-opus-20240229",
                "--better-than", "gpt-4-turbo-2024-04-09", *FAST)
    out = capsys.readouterr().out
    assert code == 1 and "to settle:   about" in out and "1/√battles" in out


@pytest.mark.parametrize("args, message", [
    (["missing.csv", "--model", "a", "--better-than", "b"], "battle log file not found"),
    ([LOG, "--outcomes", "arena-hard", "--model", "gpt-4", "--better-than", "vicuna-13b"],
     "model 'gpt-4' is not in the battle log; the closest names are ['gpt-4-0314'"),
    ([LOG, "--outcomes", "arena-hard", "--model", "vicuna-13b"], "nothing to check"),
    ([LOG, "--model", "vicuna-13b", "--better-than", "gpt-4-0314"],
     "labels of --outcomes arena-hard"),  # Arena-Hard labels read as FastChat, in flags
    ([LOG, "--outcomes", "arena-hard", "--model", "vicuna-13b", "--better-than",
      "vicuna-13b"], "cannot be checked against itself"),
    ([LOG, "--outcomes", "arena-hard", "--model", "vicuna-13b", "--better-than",
      "gpt-4-0314", "--ci", "none"], "ci='none'"),
    ([LOG, "--outcomes", "arena-hard", "--model", "vicuna-13b", "--not-worse-than",
      "gpt-4-0314", "--margin", "-5"], "--margin must be ≥ 0"),
])
def test_unusable_input_exits_2(args: list[str], message: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.md"
    assert gate(*args, "--summary", str(out), *FAST) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert out.read_text().startswith("### wizardarena gate: ⚠️ unusable input")


def test_undetermined_comparison_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(fixture_log("disconnected").path)
    assert gate(path, "--model", "a", "--not-worse-than", "island-1", *FAST) == 2
    captured = capsys.readouterr()
    assert "### wizardarena gate: ⚠️ cannot decide" in captured.out
    assert "island-1: disconnected" in captured.out
    assert "warning:" in captured.err and "island-1 (disconnected)" in captured.err
    champ = str(fixture_log("undefeated").path)
    assert gate(champ, "--model", "champ", "--rank-at-most", "1", *FAST) == 2
    out = capsys.readouterr().out
    assert "| ⚠️ | champ rank ≤ 1 | no rank |" in out and "(undefeated)" in out


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert gate(LOG, "--better-than", "x") == 2  # no --model: a usage error
    assert "--model" in capsys.readouterr().err


@pytest.mark.parametrize("option, value", [("--margin", "nan"), ("--margin", "inf"),
                                           ("--level", "nan"), ("--level", "inf"),
                                           ("--margin", "ten")])
def test_non_finite_margin_or_level_is_a_usage_error(option: str, value: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    # rejected by argparse, naming the option, before the log is read or ratings are fitted
    assert gate(LOG, "--outcomes", "arena-hard", "--model", "vicuna-13b", "--not-worse-than",
                "gpt-4-0314", option, value, *FAST) == 2
    captured = capsys.readouterr()
    expected = "expected a number" if value == "ten" else "must be a finite number"
    assert f"argument {option}: {expected}; got '{value}'" in captured.err
    assert "usage: wizardarena gate" in captured.err and captured.out == ""


def test_unit_defaults_to_battle_without_prompt_ids(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "no_prompts.csv"
    pd.read_csv(fixture_log("ties").path).drop(columns="question_id").to_csv(log, index=False)
    assert gate(str(log), "--model", "alpha", "--better-than", "delta", *FAST) == 0
    assert "95% bootstrap CI (battle, 300 rounds)" in capsys.readouterr().out
    assert gate(str(log), "--model", "alpha", "--better-than", "delta", "--unit", "prompt",
                *FAST) == 2  # asked for prompts, the log has none
    assert "needs a prompt id column" in capsys.readouterr().err
    ties = str(fixture_log("ties").path)  # has question_id, but online Elo resamples battles
    assert gate(ties, "--model", "alpha", "--better-than", "delta", "--method", "elo",
                *FAST) == 0
    assert "95% bootstrap CI (battle, 300 rounds)" in capsys.readouterr().out


def test_reruns_agree(capsys: pytest.CaptureFixture[str]) -> None:
    args = [LOG, "--outcomes", "arena-hard", "--model", "mixtral-8x7b-instruct-v0.1",
            "--not-worse-than", "llama-2-70b-chat", *FAST]
    texts = []
    for _ in range(2):
        assert gate(*args) == 0
        texts.append(capsys.readouterr().out)
    assert texts[0] == texts[1]


def test_exit_codes_of_the_installed_command(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "wizardarena.cli", "gate", LOG, "--outcomes", "arena-hard",
           "--model", "vicuna-13b", "--bootstrap", "100"]
    runs = [subprocess.run(cmd + extra, capture_output=True, text=True) for extra in
            (["--rank-at-most", "6"], ["--rank-at-most", "4"], ["--better-than", "nobody"])]
    assert [r.returncode for r in runs] == [0, 1, 2]
    assert "rank 5 > 4" in runs[1].stdout


def test_real_arena_hard_log(shared_data: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A fine-tuned Qwen2.5-72B checkpoint against its base model, judged by GPT-4: not worse
    (passes), not shown better (fails); a newer Tower checkpoint is worse than the older."""
    log = str(shared_data / "arena_hard" /
              "battles_judge-gpt-4-1106-preview_baseline-gpt-4-0314.jsonl")
    ours = "__mnt__cephfs-nvme__nunomg__bsc_ckpts__qwen-2p5-72b-Blocks-v4-250225"
    base = "Qwen__Qwen2.5-72B-Instruct"
    assert gate(log, "--model", ours, "--not-worse-than", base, "--margin", "10") == 0
    assert gate(log, "--model", ours, "--better-than", base) == 1
    out = capsys.readouterr().out
    assert "to settle:   about" in out
    assert gate(log, "--model", "Widn__Tower-3.1-sugarloaf-250119", "--not-worse-than",
                "Widn__Tower-3.0-vesuvius-241001", "--margin", "10") == 1
