"""One progress protocol: Progress events from every long-running entry point, one tqdm
renderer, clean output where nobody watches, and no hand-drawn bars in the CLI."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

import wizardarena as wa
from wizardarena.arena.generate import generate_answers
from wizardarena.cli import main
from wizardarena.flywheel import Flywheel
from wizardarena.progress import Progress, ProgressBar, progress_callback
from wizardarena.sim import SimArena
from wizardarena.testset import build_testset, decontaminate, example_prompts

ROOT = Path(__file__).resolve().parents[1]


class TTY(io.StringIO):
    """A stream that says it is a terminal (what a user's stderr is)."""

    def isatty(self) -> bool:
        return True


def _events() -> tuple[list[Progress], Any]:
    events: list[Progress] = []
    return events, events.append


# ----------------------------------------------------------------------------- the event
def test_progress_event_counters_rate_and_finished() -> None:
    p = Progress("judge", 3, 10, unit="judgment", ok=2, failed=1, errors=0, prompt_tokens=100,
                 completion_tokens=20, elapsed=2.0)
    assert p.counters() == {"ok": 2, "failed": 1, "errors": 0, "tokens": 120}
    assert p.rate == pytest.approx(1.5) and not p.finished
    q = Progress("embed", 5, 5)
    assert q.counters() == {} and q.finished and q.rate == 0.0
    assert not Progress("x", 5, None).finished
    with pytest.raises(AttributeError):
        p.done = 4  # type: ignore[misc]  # frozen
    assert wa.Progress is Progress and wa.arena.Progress is Progress  # one protocol


# ----------------------------------------------------------------------------- the renderer
def test_bar_draws_one_bar_per_stage_with_counters() -> None:
    out = TTY()
    with ProgressBar(file=out, mininterval=0) as bar:
        for k in range(1, 4):
            bar(Progress("judge", k, 3, unit="judgment", ok=k, failed=0, errors=0,
                         prompt_tokens=10 * k, completion_tokens=k))
        bar(Progress("embed", 1, 2, unit="prompt"))
    text = out.getvalue()
    assert "judge" in text and "3/3" in text and "ok=3" in text and "tokens=33" in text
    assert "embed" in text and "1/2" in text  # the unfinished stage was closed at exit
    assert bar._bar is None


def test_bar_is_silent_when_stderr_is_not_a_terminal() -> None:
    out = io.StringIO()  # a log file, a pipe, CI
    with ProgressBar(file=out, mininterval=0) as bar:
        for k in range(1, 4):
            bar(Progress("judge", k, 3))
    assert out.getvalue() == ""
    forced = io.StringIO()
    with ProgressBar(file=forced, disable=False, mininterval=0) as bar:
        bar(Progress("judge", 3, 3))
    assert "3/3" in forced.getvalue()


def test_quick_bootstrap_draws_nothing_but_other_stages_draw_at_once() -> None:
    out = TTY()
    with ProgressBar(file=out, mininterval=0) as bar:
        bar(Progress("bootstrap", 500, 1000, unit="round"))
        bar(Progress("bootstrap", 1000, 1000, unit="round"))
    assert out.getvalue() == ""  # finished within STAGE_DELAYS["bootstrap"] = 1 s
    with ProgressBar(file=out, mininterval=0) as bar:
        bar(Progress("cluster", 0, 1))
    assert "cluster" in out.getvalue()


def test_extra_postfix_fields() -> None:
    out = TTY()
    with ProgressBar(file=out, mininterval=0, extra=lambda p: {"cost": f"${p.done}"}) as bar:
        bar(Progress("judge", 2, 2))
    assert "cost=$2" in out.getvalue()


def test_progress_keyword_is_checked() -> None:
    with progress_callback(False) as cb:
        assert cb is None
    with progress_callback(None) as cb:
        assert cb is None
    with progress_callback(True) as cb:
        assert isinstance(cb, ProgressBar)
    with pytest.raises(wa.ValidationError, match="got int"), progress_callback(3):  # type: ignore[arg-type]
        pass
    with pytest.raises(wa.ValidationError, match=r"taking 3 arguments.*lambda p"):
        with progress_callback(lambda stage, done, total: None):  # type: ignore[arg-type]
            pass
    log = wa.simulate_battles({"a": 1100, "b": 1000}, 200, rng=0)
    with pytest.raises(wa.ValidationError, match=r"one wizardarena\.Progress event"):
        wa.rank(log, rounds=10, rng=0, progress=lambda done, total, errors: None)


# ----------------------------------------------------------------------------- producers
def test_rank_reports_bootstrap_rounds() -> None:
    log = wa.simulate_battles({"a": 1100, "b": 1000, "c": 900}, 3000, rng=0)
    events, cb = _events()
    board = wa.rank(log, rounds=300, rng=1, progress=cb)
    assert {e.stage for e in events} == {"bootstrap"}
    done = [e.done for e in events]
    assert done == sorted(done) and done[-1] == 300 and events[-1].total == 300
    assert events[-1].unit == "round"
    again = wa.rank(log, rounds=300, rng=1, progress=False)
    assert again.table.equals(board.table)  # progress never changes a result
    none, cb2 = _events()
    wa.rank(log, ci="sandwich", progress=cb2)
    assert none == []  # no bootstrap, no events


def test_rank_by_category_reports_each_bootstrap() -> None:
    log = wa.simulate_battles({"a": 1100, "b": 1000, "c": 900}, 2000, rng=0)
    log["category"] = ["x", "y"] * 1000
    events, cb = _events()
    wa.rank(log, rounds=100, by="category", rng=0, progress=cb)
    assert [e.done for e in events if e.finished] == [100, 100]


def test_arena_and_answers_report_their_counters(tmp_path: Path) -> None:
    prompts = [{"question_id": f"q{i}", "prompt": f"Question {i}: explain topic {i}."}
               for i in range(4)]
    with SimArena({"m-a": 1100.0, "m-b": 1000.0}, rng=0) as sim:
        answers = {}
        for model in ("m-a", "m-b"):
            events, cb = _events()
            frame = generate_answers(prompts, base_url=sim.base_url, model=model,
                                     api_key_env=None, progress=cb)
            answers[model] = frame
            assert [e.stage for e in events] == ["answer"] * 4
            assert events[-1].done == events[-1].total == 4 and events[-1].ok == 4
            assert events[-1].failed == 0 and events[-1].completion_tokens > 0
        judge = wa.Judge(sim.base_url, sim.judge_model, api_key_env=None)
        events, cb = _events()
        board = wa.rank(pd.concat(list(answers.values())), prompts=prompts, judge=judge,
                        store=tmp_path / "s.sqlite", rounds=200, rng=0, progress=cb)
    stages = [e.stage for e in events]
    assert stages[:8] == ["judge"] * 8 and stages[-1] == "bootstrap"
    last = [e for e in events if e.stage == "judge"][-1]
    assert (last.done, last.total, last.ok, last.failed, last.errors) == (8, 8, 8, 0, 0)
    assert last.prompt_tokens > 0 and last.elapsed is not None and last.elapsed > 0
    assert list(board.table.index) != []


def test_testset_decontaminate_and_flywheel_report_stages() -> None:
    prompts = example_prompts()
    events, cb = _events()
    ts = build_testset(prompts, n_clusters=5, per_cluster=1, rng=0, progress=cb)
    assert {"load", "clean", "embed", "cluster", "diverse"} <= {e.stage for e in events}
    events, cb = _events()
    decontaminate(prompts.iloc[:20], ts, progress=cb)
    assert [e.done for e in events] == [0, 1, 2, 3]

    from test_flywheel import PROMPTS, T, designed_answers, designed_log

    events, cb = _events()
    other = pd.DataFrame({"question_id": ["e0", "e1"],
                          "prompt": ["How do I bake sourdough bread at home?",
                                     "Name three rivers that flow through Germany."]})
    fw = Flywheel(T, prompts=PROMPTS, eval_prompts=other)
    fw.sft(designed_log(), designed_answers(), margin=3.0, progress=cb)
    fly = [e.done for e in events if e.stage == "flywheel"]
    assert fly == [0, 1, 2, 3, 4]
    assert "decontaminate" in {e.stage for e in events}  # the guard's own stage


def test_progress_false_never_builds_a_bar(monkeypatch: pytest.MonkeyPatch) -> None:
    def boom(self: ProgressBar, event: Progress) -> None:
        raise AssertionError("a bar was drawn")

    monkeypatch.setattr(ProgressBar, "__call__", boom)
    log = wa.simulate_battles({"a": 1100, "b": 1000}, 300, rng=0)
    wa.rank(log, rounds=50, rng=0, progress=False)
    build_testset(example_prompts(), n_clusters=3, per_cluster=1, rng=0, progress=False)
    with pytest.raises(AssertionError, match="a bar was drawn"):
        wa.rank(log, rounds=50, rng=0)  # the default is a bar


# ----------------------------------------------------------------------------- command line
def test_cli_draws_tqdm_bars_on_a_terminal_and_nothing_when_quiet(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    err = TTY()
    monkeypatch.setattr(sys, "stderr", err)
    assert main(["demo", "--prompts", "2", "--rounds", "50"]) == 0
    drawn = err.getvalue()
    assert re.search(r"judge: 100%\|.*\| 84/84", drawn), drawn[-500:]
    assert "ok=84" in drawn
    quiet = TTY()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert main(["demo", "--prompts", "2", "--rounds", "50", "--quiet"]) == 0
    assert quiet.getvalue() == ""
    assert "Spearman" in capsys.readouterr().out


def test_every_long_command_has_quiet() -> None:
    from wizardarena.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    for name in ("demo", "rank", "answer", "battle", "testset", "agree", "flywheel", "gate"):
        opts = {o for a in sub.choices[name]._actions for o in a.option_strings}
        assert "--quiet" in opts, name


def test_no_hand_drawn_bars_in_the_cli() -> None:
    """The issue's check: ``grep -rn "\\\\r" wizardarena/cli`` finds nothing."""
    for f in sorted((ROOT / "wizardarena" / "cli").glob("*.py")):
        text = f.read_text(encoding="utf-8")
        assert "\\r" not in text and "\r" not in text, f.name


def test_tqdm_is_a_core_dependency() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    deps = text.split("dependencies = [", 1)[1].split("]", 1)[0]
    assert '"tqdm' in deps
