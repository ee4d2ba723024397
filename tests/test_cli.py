"""The command line around the library: ``python -m wizardarena``, help texts that show every
choice and default, argument validation, and errors that speak in flags, not keywords."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

import wizardarena as wa
from wizardarena.cli import build_parser, main
from wizardarena.cli._common import HelpFormatter, option_names, relay_warnings

#: the commands whose options this issue documents (answer/battle are the arena's)
DOCUMENTED = ("demo", "rank", "simulate", "testset", "agree", "flywheel")


def _subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _help_block(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    formatter = HelpFormatter(parser.prog)
    formatter.add_argument(action)
    return formatter.format_help()


def test_python_dash_m_wizardarena(fixtures_dir: Path) -> None:
    res = subprocess.run([sys.executable, "-m", "wizardarena", "--help"],
                         capture_output=True, text=True, check=True)
    assert res.stdout.startswith("usage: wizardarena")
    res = subprocess.run([sys.executable, "-m", "wizardarena", "rank",
                          str(fixtures_dir / "ties.csv"), "--ci", "none", "--format", "csv"],
                         capture_output=True, text=True, check=True)
    assert res.stdout.startswith("model,rating")


def test_every_subcommand_has_a_description() -> None:
    for name, parser in _subparsers().items():
        assert parser.description, name


@pytest.mark.parametrize("command", sorted(_subparsers()))
def test_every_option_shows_its_choices_and_default(command: str) -> None:
    parser = _subparsers()[command]
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        block = _help_block(parser, action)
        if command in DOCUMENTED:
            assert action.help, f"{command} {action.option_strings[0]} has no help text"
        for choice in action.choices or ():
            assert str(choice) in block, (command, action.option_strings, choice)
        default = action.default
        if default not in (None, False, [], argparse.SUPPRESS):
            assert "default" in block, (command, action.option_strings, block)
            if not isinstance(default, bool) and "default:" in block:
                assert str(default) in block.replace("\n", " ").replace("  ", ""), block


def test_rank_help_shows_ci_ties_point_format_defaults() -> None:
    text = _subparsers()["rank"].format_help()
    flat = " ".join(text.split())
    for flag, default in (("--ci", "bootstrap"), ("--ties", "half"),
                          ("--point", "mle for bt, order for elo"), ("--format", "table")):
        start = flat.rindex(flag + " {")
        block = flat[start:start + 400]
        assert f"(default: {default})" in block, (flag, block)
    per_cluster = " ".join(_subparsers()["testset"].format_help().split())
    assert "--per-cluster PER_CLUSTER diverse prompts per cluster" in per_cluster
    assert "--diverse is given) (default: 2)" in per_cluster


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--prompts", "0"], "argument --prompts: must be between 2 and 80; got 0"),
        (["demo", "--prompts", "200"], "argument --prompts: must be between 2 and 80; got 200"),
        (["demo", "--battles", "10"], "argument --battles: must be between 84 and 3360; got 10"),
        (["demo", "--rounds", "0"], "argument --rounds: must be >= 1; got 0"),
        (["demo", "--position-bias", "nan"], "argument --position-bias: must be a finite"),
        (["simulate", "--models", "1", "--out", "x.csv"], "argument --models: must be >= 2"),
    ],
)
def test_arguments_are_validated_not_clamped(argv: list[str], message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2  # a usage error: argparse's message, no traceback
    assert message in capsys.readouterr().err


def test_option_names_prefer_the_long_option_named_like_its_destination() -> None:
    flags = option_names(_subparsers()["agree"])
    assert flags["rounds"] == "--rounds" and flags["alias"] == "--alias"
    assert flags["ref_columns"] == "--ref-columns" and flags["battles"] == "battles"


# ----------------------------------------------------------------------------- messages
def _err(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) != 0
    return capsys.readouterr().err


def test_errors_name_flags_on_the_command_line(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    log = wa.simulate_battles({"a": 1100, "b": 1000, "c": 900}, 300, prompts=10, rng=0)
    ab = tmp_path / "ab.csv"
    log.assign(winner=log["winner"].map({"model_a": "A", "model_b": "B", "tie": "tie"})).to_csv(
        ab, index=False)
    err = _err(["rank", str(ab)], capsys)
    assert "wizardarena rank: error:" in err and "these are the labels of --outcomes ab" in err
    assert "outcomes=" not in err
    assert main(["rank", str(ab), "--outcomes", "ab", "--ci", "none"]) == 0
    capsys.readouterr()

    llmfao_like = tmp_path / "prompt.csv"
    log.rename(columns={"question_id": "prompt"}).to_csv(llmfao_like, index=False)
    err = _err(["rank", str(llmfao_like), "--unit", "prompt", "--rounds", "20"], capsys)
    assert "--cluster-column prompt" in err and "cluster=" not in err
    assert main(["rank", str(llmfao_like), "--unit", "prompt", "--cluster-column", "prompt",
                 "--rounds", "20", "--seed", "0", "--format", "csv"]) == 0
    capsys.readouterr()

    cased = tmp_path / "cased.csv"
    log.assign(model_a=log["model_a"].where(log.index % 2 == 0, log["model_a"].str.upper())
               ).to_csv(cased, index=False)
    err = _err(["rank", str(cased), "--ci", "none"], capsys)
    assert "--normalize-names" in err and "normalize_names" not in err
    assert main(["rank", str(cased), "--ci", "none", "--normalize-names"]) == 0
    assert "merged model names" in capsys.readouterr().err

    err = _err(["rank", str(ab), "--outcomes", "ab", "--anchor", "A=1000", "--ci", "none"],
               capsys)
    assert "--anchor A=1000 names a model that is not in the battle log" in err
    assert "closest names in the log: ['a']" in err


def test_testset_and_flywheel_errors_say_flags(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "prompts.jsonl"
    src.write_text('{"question_id": "q1", "prompt": "Explain recursion to a child."}\n')
    err = _err(["testset", str(src), "--out", str(tmp_path / "ts.jsonl"), "--hard", "5"], capsys)
    assert "--hard 5 needs a difficulty scorer: --difficulty llm|criteria|battles" in err
    assert "LLMDifficulty" not in err

    battles = tmp_path / "battles.csv"
    pd.DataFrame({"question_id": ["q1", "q1"], "model_a": ["me", "them"],
                  "model_b": ["them", "me"], "winner": ["model_b", "model_a"], "game": [0, 1]}
                 ).to_csv(battles, index=False)
    answers = tmp_path / "answers.jsonl"
    answers.write_text("".join(json.dumps({"model": m, "question_id": "q1", "answer": m}) + "\n"
                               for m in ("me", "them")))
    err = _err(["flywheel", str(battles), "--answers", str(answers), "--target", "me",
                "--margin-source", "winner", "--sft-margin", "1", "--dpo-margin", "1",
                "--out", str(tmp_path / "data")], capsys)
    assert "the prompts are unknown: pass --prompts FILE" in err and "prompts=" not in err


def test_agree_aliases_ambiguity_and_ref_columns(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    truth = {"gpt-4": 1200.0, "claude-1": 1150.0, "vicuna-13b": 1050.0, "llama-13b": 950.0}
    log = wa.simulate_battles(truth, 3000, rng=1)
    battles = tmp_path / "battles.csv"
    log.replace({"gpt-4": "GPT 4"}).to_csv(battles, index=False)
    ref = tmp_path / "board.csv"
    pd.DataFrame({"Model": ["gpt-4-0314", "gpt-4-0613", "claude-1", "vicuna-13b", "llama-13b"],
                  "score": [1190.0, 1160.0, 1150.0, 1040.0, 960.0]}).to_csv(ref, index=False)
    base = ["agree", str(battles), "--reference", str(ref), "--rounds", "50", "--seed", "0",
            "--format", "md"]
    cols = [*base, "--ref-columns", "model=Model,rating=score"]
    # the table is read through --ref-columns; 'GPT 4' is ambiguous and the error says so
    # in flags, all at once
    err = _err(cols, capsys)
    assert "'GPT 4' -> ['gpt-4-0314', 'gpt-4-0613']" in err
    assert "--alias 'GPT 4=gpt-4-0314'" in err and "--ambiguous report" in err
    assert "aliases=" not in err
    err = _err(base, capsys)
    assert "--ref-columns model=Model,rating=score" in err and "columns=" not in err
    # report mode leaves it out and lists it
    assert main([*cols, "--ambiguous", "report"]) == 0
    out = capsys.readouterr().out
    assert "GPT 4 (ambiguous: gpt-4-0314, gpt-4-0613;" in out
    # an aliases file settles it; --alias overrides the file
    aliases = tmp_path / "aliases.csv"
    aliases.write_text("our_name,reference_name\nGPT 4,gpt-4-0613\n")
    assert main([*cols, "--aliases", str(aliases)]) == 0
    assert "| GPT 4 | gpt-4-0613 | alias |" in capsys.readouterr().out
    assert main([*cols, "--aliases", str(aliases), "--alias", "GPT 4=gpt-4-0314"]) == 0
    assert "| GPT 4 | gpt-4-0314 | alias |" in capsys.readouterr().out
    err = _err([*base, "--ref-columns", "model=Model,elo=score"], capsys)
    assert "--ref-columns: 'elo' is not one of" in err


def test_agree_with_the_arena_hard_board_as_published(shared_data: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    ah = shared_data / "arena_hard"
    code = main(["agree", str(ah / "battles_judge-gpt-4-1106-preview_baseline-gpt-4-0314.jsonl"),
                 "--reference", str(ah / "arena_hard_leaderboard_20240731.csv"), "--ci",
                 "none", "--format", "md", "--out", str(tmp_path / "r.md")])
    assert code == 0, capsys.readouterr().err
    text = (tmp_path / "r.md").read_text()
    assert "arena-hard, category full, snapshot 2024-07-31, 60 models, 95% intervals" in text
    assert "| gpt-4-0613 | gpt-4-0613 | exact |" in text


def test_relay_warnings_prints_after_the_block(capsys: pytest.CaptureFixture[str]) -> None:
    with relay_warnings() as notes:
        warnings.warn("first", UserWarning, stacklevel=1)
        warnings.warn("first", UserWarning, stacklevel=1)  # repeats are kept ("always")
        assert notes == [] and capsys.readouterr().err == ""  # nothing until the block ends
    assert notes == ["first", "first"]
    assert capsys.readouterr().err == "warning: first\nwarning: first\n"
    found = "x"
    with relay_warnings(rewrite=lambda m: f"{m} {found}" if m == "b" else m) as notes:
        warnings.warn("a", UserWarning, stacklevel=1)
        warnings.warn("b", UserWarning, stacklevel=1)
        found = "after"  # the rewrite runs after the block and sees what it computed
    assert notes == ["a", "b after"]
    assert capsys.readouterr().err == "warning: a\nwarning: b after\n"
    with pytest.raises(ValueError), relay_warnings() as notes:  # a failed call prints nothing
        warnings.warn("lost", UserWarning, stacklevel=1)
        raise ValueError
    assert notes == [] and capsys.readouterr().err == ""
