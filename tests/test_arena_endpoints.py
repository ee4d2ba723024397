"""A judge with several base URLs: the load is spread, a dead server is left out, and the run
stops only when no server answers. Real HTTP against simulated servers on loopback."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from wizardarena.arena.judges import Judge
from wizardarena.arena.runner import run_arena
from wizardarena.cli import main
from wizardarena.endpoints import AsyncClient, run_sync
from wizardarena.exceptions import EndpointUnreachableError, ValidationError
from wizardarena.sim import SimArena, closed_port_url

MODELS = {"m-a": 1200.0, "m-b": 1100.0, "m-c": 1000.0}
PROMPTS = [{"question_id": f"q{i}", "prompt": f"Question {i}: explain topic {i}."}
           for i in range(20)]
N = len(PROMPTS) * 3 * 2  # prompts x pairs x orders


def _answers() -> dict[str, dict[str, str]]:
    return {m: {p["question_id"]: f"Answer of {m} to {p['question_id']}." for p in PROMPTS}
            for m in MODELS}


def _served(sim: SimArena) -> int:
    return int(sim.stats().for_model(sim.judge_model)["served"].sum())


def test_two_servers_share_the_load_and_give_the_same_verdicts(tmp_path: Path) -> None:
    with SimArena(MODELS, rng=5, latency=0.02) as one, \
            SimArena(MODELS, rng=5, latency=0.02) as two:
        judge = Judge([one.base_url, two.base_url], one.judge_model, api_key_env=None)
        r = run_arena(_answers(), PROMPTS, judge, store=tmp_path / "s.sqlite", concurrency=8)
        a, b = _served(one), _served(two)
        alone = run_arena(_answers(), PROMPTS, Judge(one.base_url, one.judge_model,
                                                     api_key_env=None),
                          store=tmp_path / "one.sqlite", concurrency=8)
    assert r.n_ok == N and r.n_errors == 0 and a + b == N
    assert min(a, b) >= 0.35 * N  # balanced: equal servers get about half each
    key = ["question_id", "model_a", "model_b", "game", "turn"]
    got = r.battles.sort_values(key).reset_index(drop=True)
    ref = alone.battles.sort_values(key).reset_index(drop=True)
    assert (got[[*key, "winner", "verdict"]] == ref[[*key, "winner", "verdict"]]).all().all()


def test_the_faster_server_gets_more_requests(tmp_path: Path) -> None:
    with SimArena(MODELS, rng=6, latency=0.005) as fast, \
            SimArena(MODELS, rng=6, latency=0.1) as slow:
        judge = Judge([slow.base_url, fast.base_url], fast.judge_model, api_key_env=None)
        r = run_arena(_answers(), PROMPTS, judge, store=tmp_path / "s.sqlite", concurrency=8)
        f, s = _served(fast), _served(slow)
    assert r.n_ok == N and f + s == N
    assert f > 3 * s  # fewest in flight: the fast server frees its slots sooner


def test_a_dead_server_is_left_out_and_the_run_completes(tmp_path: Path) -> None:
    dead = closed_port_url()
    with SimArena(MODELS, rng=7, latency=0.01) as live:
        judge = Judge([dead, live.base_url], live.judge_model, api_key_env=None,
                      breaker_seconds=0.5, max_retries=6)
        t0 = time.perf_counter()
        r = run_arena(_answers(), PROMPTS, judge, store=tmp_path / "s.sqlite", concurrency=8)
        wall = time.perf_counter() - t0
        served = _served(live)
    assert r.n_ok == N and r.n_errors == 0 and served == N
    assert r.requests > N  # the refused attempts, retried on the live server
    assert wall < 15


def test_the_run_stops_when_no_server_answers(tmp_path: Path) -> None:
    urls = [closed_port_url(), closed_port_url()]
    judge = Judge(urls, "judge", api_key_env=None, breaker_seconds=0.5)
    t0 = time.perf_counter()
    with pytest.raises(EndpointUnreachableError) as info:
        run_arena(_answers(), PROMPTS, judge, store=tmp_path / "s.sqlite", concurrency=8)
    assert time.perf_counter() - t0 < 10
    msg = str(info.value)
    assert "none of the 2 endpoints can be reached" in msg
    assert all(u in msg for u in urls) and "--breaker-seconds" in msg


def test_base_url_lists_are_validated() -> None:
    with pytest.raises(ValidationError, match="more than once"):
        Judge(["http://a:1/v1", "http://a:1/v1/"], "j")
    with pytest.raises(ValidationError, match="non-empty list"):
        AsyncClient([], model="j")
    with pytest.raises(ValidationError, match="http"):
        Judge(["http://a:1/v1", "ftp://b/v1"], "j")
    with pytest.raises(ValidationError, match=r"^base_url \(--judge-url\) must be an http"):
        Judge("localhost:8000/v1", "j")  # the Judge's messages name its own CLI flag
    with pytest.raises(ValidationError, match=r"\(--judge-url / --model-url\)"):
        AsyncClient("localhost:8000/v1")
    j = Judge(("http://a:1/v1", "http://b:2/v1"), "j")
    assert j.base_url == "http://a:1/v1" and j.base_urls == ("http://a:1/v1", "http://b:2/v1")
    assert "http://b:2/v1" in repr(j)
    c = AsyncClient(["http://u:secret@a:1/v1", "http://b:2/v1"], model="j")
    assert "secret" not in repr(c) and c.base_urls[1] == "http://b:2/v1"
    run_sync(c.aclose())


def test_cli_takes_several_judge_urls(tmp_path: Path) -> None:
    import json

    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps(p) + "\n" for p in PROMPTS))
    adir = tmp_path / "answers"
    adir.mkdir()
    for m, ans in _answers().items():
        (adir / f"{m}.jsonl").write_text("".join(
            json.dumps({"model": m, "question_id": q, "answer": a}) + "\n"
            for q, a in ans.items()))
    with SimArena(MODELS, rng=8) as one, SimArena(MODELS, rng=8) as two:
        code = main(["battle", "--prompts", str(prompts), "--answers", str(adir),
                     "--judge-url", one.base_url, two.base_url, "--judge-model",
                     one.judge_model, "--api-key-env", "WA_UNSET", "--store",
                     str(tmp_path / "s.sqlite"), "--quiet", "--concurrency", "4"])
        a, b = _served(one), _served(two)
    assert code == 0 and a + b == N and a > 0 and b > 0
