"""Battles on Ray (``engine="ray"``): judge actors over real HTTP against the simulated arena,
the driver alone writing the store; an actor killed mid-run loses and duplicates nothing."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from wizardarena.arena.judges import Judge
from wizardarena.arena.runner import Progress, run_arena
from wizardarena.arena.store import JudgmentStore
from wizardarena.cli import main
from wizardarena.exceptions import EndpointError, MissingExtraError, ValidationError
from wizardarena.ray import check_engine, import_ray
from wizardarena.sim import Faults, SimArena

MODELS = {"m-a": 1250.0, "m-b": 1150.0, "m-c": 1050.0, "m-d": 1000.0}
KEY = ["question_id", "model_a", "model_b", "game", "turn"]
SECRET = "sk-wizardarena-ray-SECRET-93c1e"


def _prompts(n: int) -> list[dict[str, str]]:
    return [{"question_id": f"q{i:03d}", "prompt": f"Question {i}: explain topic {i}."}
            for i in range(n)]


def _answers(prompts: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    # the simulated judge reads each answer's quality from the marker
    return {m: {p["question_id"]: f"Answer of {m}.\n⟦sim q={s:.1f} n=12⟧" for p in prompts}
            for m, s in MODELS.items()}


def _actor_pids() -> list[int]:
    """Process ids of the judge actors (Ray names an actor's process ``ray::<class>``)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(b"ray::JudgeActor"):
                out.append(int(d.name))
    return out


def test_ray_engine_judges_what_the_local_engine_judges(tmp_path: Path,
                                                         ray_runtime: Any) -> None:
    prompts = _prompts(15)
    with SimArena(MODELS, rng=11) as sim:
        judge = Judge(sim.base_url, sim.judge_model, api_key_env=None)
        local = run_arena(_answers(prompts), prompts, judge, store=tmp_path / "l.sqlite",
                          concurrency=8)
        seen: list[Progress] = []
        r = run_arena(_answers(prompts), prompts, judge, store=tmp_path / "r.sqlite",
                      concurrency=4, engine="ray", workers=2, progress=seen.append)
        again = run_arena(_answers(prompts), prompts, judge, store=tmp_path / "r.sqlite",
                          engine="ray", workers=2)
        counts = sim.stats().for_model(sim.judge_model)
    n = len(prompts) * 6 * 2
    assert r.n_scheduled == n and r.n_ok == n and r.n_errors == 0 and r.n_failed == 0
    assert seen[-1].done == n and r.requests == n and r.prompt_tokens == local.prompt_tokens
    assert again.n_skipped == n and again.n_ok == 0  # a rerun resumes, as locally
    assert (counts["requests"] == 2).all()  # each key once per engine: nothing repeated
    cols = [*KEY, "winner", "verdict", "score_a", "score_b"]
    got = r.battles.sort_values(KEY)[cols].reset_index(drop=True)
    ref = local.battles.sort_values(KEY)[cols].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, ref)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds actors in /proc")
def test_killing_an_actor_mid_run_loses_and_duplicates_nothing(tmp_path: Path,
                                                               ray_runtime: Any) -> None:
    prompts = _prompts(60)
    n = len(prompts) * 6 * 2  # 720 judgments
    concurrency = 8
    killed: list[int] = []

    def kill_one(p: Progress) -> None:
        if not killed and p.done >= 0.3 * p.total:
            pid = _actor_pids()[0]
            os.kill(pid, signal.SIGKILL)  # the actor's process, as the OOM killer would
            killed.append(pid)

    store = tmp_path / "s.sqlite"
    with SimArena(MODELS, rng=12, latency=0.05) as sim:
        judge = Judge(sim.base_url, sim.judge_model, api_key_env=None)
        r = run_arena(_answers(prompts), prompts, judge, store=store, concurrency=concurrency,
                      engine="ray", workers=2, progress=kill_one)
        counts = sim.stats().for_model(sim.judge_model)
    assert killed and not Path(f"/proc/{killed[0]}").exists()
    assert (r.n_ok, r.n_failed, r.n_errors) == (n, 0, 0), r.summary()  # 0 lost
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        rows = db.execute("SELECT question_id, model_a, model_b, game, turn FROM judgments "
                          "WHERE status = 'ok'").fetchall()
    assert len(rows) == len(set(rows)) == n  # 0 duplicated, every scheduled key stored
    assert set(r.battles.set_index(KEY).index) == set(rows)
    # only what the killed actor held was asked again: its requests in flight and the
    # finished judgments of chunks it had not returned (at most 2 x concurrency queued)
    assert len(counts) == n and (counts["requests"] <= 2).all()
    assert (counts["requests"] == 2).sum() <= 2 * concurrency


def test_failure_classes_breaker_and_scrubbing_apply_on_ray(
        tmp_path: Path, ray_runtime: Any, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("WA_RAY_KEY", SECRET)
    prompts = _prompts(6)
    answers = _answers(prompts)
    answers["m-a"]["q003"] = "word " * 12_000  # too long for the context: a rejected request
    faults = Faults(rate_500=0.1, rate_unparseable=0.1, retry_after=0.01)
    with SimArena(MODELS, rng=13, faults=faults, api_key=SECRET, echo_key=True,
                  max_context=8192, dialect="openai") as sim:
        judge = Judge(sim.base_url, sim.judge_model, api_key_env="WA_RAY_KEY", max_retries=10)
        r = run_arena(answers, prompts, judge, store=tmp_path / "s.sqlite", engine="ray",
                      workers=2, concurrency=4)
        monkeypatch.setenv("WA_WRONG", "sk-wrong-key-000000000000")
        t0 = time.perf_counter()
        with pytest.raises(EndpointError) as auth:  # fatal: the client's own error
            run_arena(answers, prompts, Judge(sim.base_url, sim.judge_model,
                                              api_key_env="WA_WRONG"),
                      store=tmp_path / "s2.sqlite", engine="ray", workers=2)
        stopped = time.perf_counter() - t0
    n = len(prompts) * 6 * 2
    rejected = r.failed[r.failed["reason"] == "HTTP 400 context_length_exceeded"]
    assert set(rejected["question_id"]) == {"q003"} and len(rejected) == 6  # m-a x 3, 2 orders
    assert r.n_rejected == 6 and r.n_failed > 6 and r.n_ok + r.n_failed == n
    assert r.retries > 0 and r.n_errors == 0
    assert auth.value.status_code == 401 and "WA_WRONG" in str(auth.value) and stopped < 30
    for text in (repr(r), r.failed.to_string(), r.battles.to_string(), str(auth.value),
                 caplog.text):
        assert SECRET not in text
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f.name


def test_cli_battle_with_ray(tmp_path: Path, ray_runtime: Any) -> None:
    import json

    prompts = _prompts(5)
    pfile = tmp_path / "p.jsonl"
    pfile.write_text("".join(json.dumps(p) + "\n" for p in prompts))
    adir = tmp_path / "answers"
    adir.mkdir()
    for m, ans in _answers(prompts).items():
        (adir / f"{m}.jsonl").write_text("".join(
            json.dumps({"model": m, "question_id": q, "answer": a}) + "\n"
            for q, a in ans.items()))
    with SimArena(MODELS, rng=14) as sim:
        args = ["battle", "--prompts", str(pfile), "--answers", str(adir), "--judge-url",
                sim.base_url, "--judge-model", sim.judge_model, "--api-key-env", "WA_UNSET",
                "--store", str(tmp_path / "s.sqlite"), "--quiet", "--out",
                str(tmp_path / "b.parquet")]
        assert main([*args, "--ray-workers", "2"]) == 0  # --ray-workers implies --ray
    with JudgmentStore(tmp_path / "s.sqlite") as st:
        assert st.count(status="ok") == len(prompts) * 12
    assert len(pd.read_parquet(tmp_path / "b.parquet")) == len(prompts) * 12


def test_engine_options_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValidationError, match="engine must be one of"):
        check_engine("spark")
    with pytest.raises(ValidationError, match=r"workers=4 only applies on a Ray cluster"):
        check_engine("local", workers=4)
    with pytest.raises(ValidationError, match="workers must be an integer >= 1"):
        check_engine("ray", workers=0)
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the extra were not installed
    with pytest.raises(MissingExtraError, match=r"pip install 'wizardarena\[ray\]'"):
        import_ray("engine='ray'")


def test_cli_names_the_flag_of_a_ray_option() -> None:
    from wizardarena.cli import build_parser
    from wizardarena.cli._common import cli_message

    parser = build_parser()
    args = parser.parse_args(["battle", "--prompts", "p", "--answers", "a", "--judge-url",
                              "http://x/v1", "--judge-model", "j", "--store", "s"])
    with pytest.raises(ValidationError) as info:
        check_engine("local", workers=3)
    assert cli_message(info.value, parser, args) == \
        "--ray-workers 3 only applies on a Ray cluster; add --ray"
