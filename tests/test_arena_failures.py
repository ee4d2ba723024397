"""The arena against endpoints that fail the way real ones do, over real HTTP on loopback.

One bad request never blocks a run, keys never persist, dead endpoints fail fast, and
httpx's own transport (proxies from the environment) carries the requests.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from wizardarena.arena.generate import AnswerFile, generate_answers
from wizardarena.arena.judges import Judge
from wizardarena.arena.runner import SYSTEMATIC_REJECTIONS, run_arena
from wizardarena.arena.store import JudgmentStore
from wizardarena.cli import main
from wizardarena.endpoints import (
    AsyncClient,
    CircuitBreaker,
    Client,
    FailureClass,
    RequestContext,
    Scrubber,
    classify_response,
    h2_available,
)
from wizardarena.exceptions import (
    EndpointError,
    EndpointUnreachableError,
    IncompleteAnswersError,
    ValidationError,
)
from wizardarena.sim import Faults, SimArena, closed_port_url

MODELS = {"m-a": 1200.0, "m-b": 1100.0, "m-c": 1000.0}
PROMPTS = [{"question_id": f"q{i}", "prompt": f"Question {i}: explain topic {i}."}
           for i in range(6)]
N = len(PROMPTS) * 3 * 2  # prompts x pairs x orders
SECRET = "sk-live-wizardarena-ECHOED-5f1e9c"
LONG = "word " * 12_000  # ~15k tokens at 4 characters a token


def _answers(long_for: tuple[str, str] | None = None) -> dict[str, dict[str, str]]:
    out = {m: {p["question_id"]: f"Answer of {m} to {p['question_id']}." for p in PROMPTS}
           for m in MODELS}
    if long_for is not None:
        model, qid = long_for
        out[model][qid] = LONG
    return out


def _judge_requests(sim: SimArena) -> int:
    return int(sim.stats().for_model(sim.judge_model)["requests"].sum())


# -- a scripted HTTP server (for statuses the simulated arena has no reason to send) -------
class Scripted:
    """A loopback HTTP/1.1 server answering every request with ``reply(method, path)`` ->
    ``(status, headers, body bytes)``; records the request lines."""

    def __init__(self, reply: Callable[[str, str], tuple[int, dict[str, str], bytes]]) -> None:
        seen: list[str] = []
        self.seen = seen

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _any(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                if n:
                    self.rfile.read(n)
                seen.append(f"{self.command} {self.path}")
                status, headers, body = reply(self.command, self.path)
                self.send_response(status)
                for k, v in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _any

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Scripted:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def _json(status: int, body: Any, **headers: str) -> Callable[[str, str],
                                                             tuple[int, dict[str, str], bytes]]:
    return lambda method, path: (status, dict(headers), json.dumps(body).encode())


COMPLETION = {"id": "x", "object": "chat.completion", "model": "m", "choices": [
    {"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1}}


# -- permanent failures: one bad request never blocks a run ---------------------------------
@pytest.mark.parametrize("dialect", ["vllm", "openai"])
def test_context_length_400_is_stored_and_the_run_goes_on(tmp_path: Path, dialect: str) -> None:
    store = tmp_path / "s.sqlite"
    answers = _answers(long_for=("m-a", "q3"))  # one over-long answer
    with SimArena(MODELS, rng=0, max_context=8192, dialect=dialect) as sim:
        judge = Judge(sim.base_url, sim.judge_model, template="arena-hard", api_key_env=None)
        r = run_arena(answers, PROMPTS, judge, store=store, concurrency=8)
        first = _judge_requests(sim)
        again = run_arena(answers, PROMPTS, judge, store=store)
        assert _judge_requests(sim) == first  # the rerun repeats nothing, failures included
        retried = run_arena(answers, PROMPTS, judge, store=store, retry_failed=True)
        assert _judge_requests(sim) == first + 4  # --retry-failed asks exactly those again
    # q3 with m-a's answer: pairs (m-a, m-b) and (m-a, m-c), both orders
    assert r.n_rejected == r.n_failed == 4 and r.n_ok == N - 4 and r.n_errors == 0
    assert len(r.battles) == N - 4 and "q3" in set(r.battles["question_id"])
    f = r.failed
    assert set(f["question_id"]) == {"q3"} and (f["reason"] ==
                                               "HTTP 400 context_length_exceeded").all()
    assert f["error"].str.contains("maximum context length is 8192 tokens").all()
    summary = r.failure_summary()
    assert list(summary.index) == ["HTTP 400 context_length_exceeded"]
    assert summary.loc["HTTP 400 context_length_exceeded", "count"] == 4
    expected = {f"q3 {a} vs {b} (game {g}, turn 1)" for a, b, g in [
        ("m-a", "m-b", 0), ("m-b", "m-a", 1), ("m-a", "m-c", 0), ("m-c", "m-a", 1)]}
    keys = summary.iloc[0]["first_keys"]
    assert len(keys) == 3 and set(keys) <= expected
    assert again.n_skipped == N and again.requests == 0
    assert retried.n_failed == 4 and retried.n_skipped == N - 4


def test_every_rejected_request_means_a_setting_is_wrong(tmp_path: Path) -> None:
    with SimArena(MODELS, rng=0, max_context=100) as sim:  # judge max_tokens 1024 > 100
        judge = Judge(sim.base_url, sim.judge_model, api_key_env=None)
        with pytest.raises(EndpointError, match="--retry-failed") as info:
            run_arena(_answers(), PROMPTS, judge, store=tmp_path / "s.sqlite", concurrency=4)
        asked = _judge_requests(sim)
    assert "first 20 requests" in str(info.value) and "max_tokens" in str(info.value)
    # the 4 workers may each have a request in flight, or one more sent before the cancel
    assert SYSTEMATIC_REJECTIONS <= asked <= SYSTEMATIC_REJECTIONS + 2 * 4
    with JudgmentStore(tmp_path / "s.sqlite") as st:
        assert SYSTEMATIC_REJECTIONS <= st.count(status="failed") <= asked  # in flight: lost


# -- transient failures: retried ------------------------------------------------------------
def test_200_without_choices_or_with_an_error_object_is_retried(tmp_path: Path) -> None:
    faults = Faults(rate_error_200=0.15, rate_no_choices=0.15, retry_after=0.01)
    with SimArena(MODELS, rng=1, faults=faults) as sim:
        judge = Judge(sim.base_url, sim.judge_model, api_key_env=None, max_retries=10)
        r = run_arena(_answers(), PROMPTS, judge, store=tmp_path / "s.sqlite")
        stats = sim.stats()
    injected = stats.faults.get("error_200", 0) + stats.faults.get("no_choices", 0)
    assert injected > 0.1 * N and stats.faults.get("error_200") and stats.faults.get("no_choices")
    assert r.n_ok == N and r.n_errors == 0 and r.n_failed == 0
    assert r.retries >= injected


# -- fatal failures: the run stops at once, with one message --------------------------------
def test_auth_failure_stops_at_once_naming_status_url_and_fix(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WA_KEY", "sk-wrong-key-0000000000")
    with SimArena(MODELS, rng=0, api_key="sk-right-key-1111111111", dialect="openai") as sim:
        judge = Judge(sim.base_url, sim.judge_model, api_key_env="WA_KEY")
        with pytest.raises(EndpointError) as info:
            run_arena(_answers(), PROMPTS, judge, store=tmp_path / "s.sqlite", concurrency=4)
        assert sim.stats().faults["401"] <= 4  # the requests in flight, no retries
        no_key = Judge(sim.base_url, sim.judge_model, api_key_env="WA_UNSET_VARIABLE")
        with pytest.raises(EndpointError) as unset:
            run_arena(_answers(), PROMPTS, no_key, store=tmp_path / "s.sqlite")
    msg = str(info.value)
    assert info.value.status_code == 401 and msg.startswith("HTTP 401 from http://127.0.0.1")
    assert "/v1/chat/completions" in msg and "Incorrect API key provided: sk-wr" in msg
    assert "sk-wrong-key-0000000000" not in msg  # OpenAI masks it; so do we, anyway
    assert "WA_KEY" in msg and "--api-key-env" in msg and "Likely fix" in msg
    assert "WA_UNSET_VARIABLE is not set" in str(unset.value)


def test_unknown_model_and_wrong_base_url_are_fatal(tmp_path: Path) -> None:
    with SimArena(MODELS, rng=0) as sim:
        bad_model = Judge(sim.base_url, "no-such-judge", api_key_env=None)
        with pytest.raises(EndpointError) as model:
            run_arena(_answers(), PROMPTS, bad_model, store=tmp_path / "a.sqlite")
        root = sim.base_url.removesuffix("/v1")  # forgot /v1
        with pytest.raises(EndpointError) as path:
            run_arena(_answers(), PROMPTS, Judge(root, sim.judge_model, api_key_env=None),
                      store=tmp_path / "b.sqlite")
        assert sim.stats().faults["404"] <= 2 * 32  # at most the first wave in flight
    assert model.value.status_code == 404 and "no-such-judge" in str(model.value)
    assert "--judge-model" in str(model.value)
    assert path.value.status_code == 404 and "including /v1" in str(path.value)


@pytest.mark.parametrize(("reply", "status", "fix"), [
    (_json(403, {"error": {"message": "Project does not have access to model"}}), 403,
     "no access"),
    (_json(429, {"error": {"message": "You exceeded your current quota", "type":
                           "insufficient_quota", "code": "insufficient_quota"}}), 429, "billing"),
    (_json(308, {}, Location="https://api.example.test/v1/chat/completions"), 308,
     "use that address as base_url"),
    (lambda m, p: (200, {"Content-Type": "text/html"}, b"<!doctype html><title>Web UI</title>"),
     200, "not an OpenAI-compatible API"),
])
def test_other_fatal_answers(reply: Any, status: int, fix: str) -> None:
    with Scripted(reply) as srv, Client(srv.url + "/v1", model="m", api_key_env=None,
                                        backoff=0.001) as c:
        with pytest.raises(EndpointError, match=fix) as info:
            c.chat([{"role": "user", "content": "hi"}])
        assert len(srv.seen) == 1  # not retried
    assert info.value.status_code == status


def test_closed_port_trips_the_breaker(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    url = closed_port_url()
    judge = Judge(url, "judge", api_key_env=None, breaker_seconds=1.0)
    t0 = time.monotonic()
    with pytest.raises(EndpointUnreachableError, match=r"no connection to http://127\.0\.0\.1"):
        run_arena(_answers(), PROMPTS, judge, store=tmp_path / "s.sqlite")
    assert time.monotonic() - t0 < 60  # (the 10 s default is measured in bench_arena.py)
    prompts = tmp_path / "p.jsonl"
    prompts.write_text("".join(json.dumps(p) + "\n" for p in PROMPTS))
    code = main(["answer", "--prompts", str(prompts), "--model-url", url, "--model", "m",
                 "--api-key-env", "WA_UNSET", "--breaker-seconds", "0.5", "--max-retries", "3",
                 "--timeout", "5", "--quiet", "--out", str(tmp_path / "a.jsonl")])
    err = capsys.readouterr().err
    assert code == 1 and err.count("error:") == 1 and "Traceback" not in err
    assert "wizardarena answer: error: no connection to" in err and "--breaker-seconds" in err


def test_breaker_opens_only_after_a_streak_of_the_given_length() -> None:
    now = [0.0]
    b = CircuitBreaker(10.0, clock=lambda: now[0])
    assert not b.record_failure() and b.cap_delay(30.0) == pytest.approx(10.05)
    now[0] = 5.0
    assert not b.record_failure()
    b.record_response()  # the endpoint answered: the streak is over
    now[0] = 12.0
    assert not b.record_failure() and not b.record_failure()
    now[0] = 22.0
    assert b.record_failure()  # 3 failures spanning 10 s
    assert not CircuitBreaker(None).enabled and CircuitBreaker(None).cap_delay(3.0) == 3.0


# -- secrets --------------------------------------------------------------------------------
def test_echoed_key_is_scrubbed_from_everything(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("WA_SIM_KEY", SECRET)
    caplog.set_level(logging.DEBUG)
    faults = Faults(rate_500=0.1, rate_malformed=0.1, rate_error_200=0.1, rate_no_choices=0.1,
                    rate_unparseable=0.1, retry_after=0.01)
    prompts = tmp_path / "prompts.jsonl"
    prompts.write_text("".join(json.dumps(p) + "\n" for p in PROMPTS))
    adir = tmp_path / "answers"
    with SimArena(MODELS, rng=2, faults=faults, api_key=SECRET, echo_key=True,
                  max_context=4096, dialect="openai") as sim:
        for m in MODELS:
            assert main(["answer", "--prompts", str(prompts), "--model-url", sim.base_url,
                         "--model", m, "--api-key-env", "WA_SIM_KEY", "--max-retries", "10",
                         "--out", str(adir / f"{m}.jsonl")]) == 0
        long = adir / "m-a.jsonl"  # one over-long answer: a rejected judgment, echoed too
        recs = [json.loads(line) for line in long.read_text().splitlines()]
        recs[0]["turns"] = [LONG]
        long.write_text("".join(json.dumps(r) + "\n" for r in recs))
        args = ["battle", "--prompts", str(prompts), "--answers", str(adir), "--judge-url",
                sim.base_url, "--judge-model", sim.judge_model, "--api-key-env", "WA_SIM_KEY",
                "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "b.parquet"),
                "--max-retries", "10"]
        assert main(args) == 0
        judge = Judge(sim.base_url, sim.judge_model, api_key_env="WA_SIM_KEY", max_retries=10)
        r = run_arena(str(adir), str(prompts), judge, store=tmp_path / "s.sqlite",
                      retry_failed=True)
        with Client(sim.base_url, model="m-a", api_key_env="WA_SIM_KEY",
                    max_retries=10) as c:
            text = c.chat([{"role": "user", "content": "echo please"}]).text
        assert "[Authorization: ***]" in text
        with pytest.raises(EndpointError) as model:
            run_arena(str(adir), str(prompts), Judge(sim.base_url, "nope",
                                                     api_key_env="WA_SIM_KEY"),
                      store=tmp_path / "s2.sqlite")
        monkeypatch.setenv("WA_WRONG", SECRET + "-wrong")
        with pytest.raises(EndpointError) as auth:
            run_arena(str(adir), str(prompts), Judge(sim.base_url, sim.judge_model,
                                                     api_key_env="WA_WRONG"),
                      store=tmp_path / "s3.sqlite")
        assert main([*args[:-2], "--model-url"]) == 2  # a usage error
        stats = sim.stats()
    assert stats.faults.get("malformed") and stats.faults.get("error_200")
    assert stats.faults.get("context_length") and stats.faults.get("unparseable")
    printed = capsys.readouterr()
    texts = [printed.out, printed.err, caplog.text, str(model.value), repr(model.value),
             str(auth.value), repr(r), r.failed.to_string(), r.battles.to_string(),
             str(r.errors)]
    for t in texts:
        assert SECRET not in t
    assert "[Authorization: ***]" in str(model.value)  # the echo was there, and scrubbed
    # the end-of-run report: failures by reason, with the first keys and the server's words
    assert "failed judgments in the store by reason" in printed.err
    assert "HTTP 400 context_length_exceeded: 4 — first: q" in printed.err
    assert "maximum context length is 4096 tokens" in printed.err
    assert (r.failed["reason"] == "HTTP 400 context_length_exceeded").any()
    for f in [*tmp_path.rglob("*")]:
        if f.is_file():
            assert SECRET.encode() not in f.read_bytes(), f.name


def test_scrubber_forms() -> None:
    s = Scrubber(["  sk-abc\"def/123\n"], headers={"X-Api-Key": "azure-key-42",
                                                  "Authorization": "Bearer tok-9999"})
    text = 'a sk-abc"def/123 b sk-abc\\"def/123 c azure-key-42 d tok-9999 e'
    assert s(text) == "a *** b *** c *** d *** e"
    assert s.bytes(text.encode()) == b"a *** b *** c *** d *** e"
    assert s.url("https://user:pw@h.test/v1?api_key=zz&v=1") == \
        "https://user:***@h.test/v1?api_key=***&v=1"
    assert Scrubber(["abc"])("abc") == "abc"  # too short to be a secret


# -- answers: nothing lost ------------------------------------------------------------------
def test_answers_are_kept_as_they_arrive_and_a_rerun_asks_only_for_missing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prompts = [*PROMPTS, {"question_id": "long", "prompt": LONG}]
    out = tmp_path / "answers" / "m-a.jsonl"
    faults = Faults(rate_error_200=0.2, retry_after=0.01)
    with SimArena(MODELS, rng=3, faults=faults, max_context=8192) as sim:
        with pytest.raises(IncompleteAnswersError) as info:
            generate_answers(prompts, base_url=sim.base_url, model="m-a", api_key_env=None,
                             out=out, store=tmp_path / "s.sqlite", max_retries=10)
        first = sim.stats().for_model("m-a")
    e = info.value
    assert len(e.answers) == len(PROMPTS) and list(e.failures["question_id"]) == ["long"]
    assert e.failures["reason"].iloc[0] == "HTTP 400 context_length_exceeded"
    assert "1 of 7 prompts have no answer" in str(e) and "rerun asks only" in str(e)
    lines = out.read_text().splitlines()
    assert len(lines) == len(PROMPTS) and {json.loads(x)["question_id"] for x in lines} == \
        {p["question_id"] for p in PROMPTS}
    assert (first["served"] <= 1).all() and first["served"].sum() == len(PROMPTS)
    # the rerun (the server now takes long prompts) asks only for the missing answer
    with SimArena(MODELS, rng=3) as sim2:
        frame = generate_answers(prompts, base_url=sim2.base_url, model="m-a",
                                 api_key_env=None, out=out, store=tmp_path / "s.sqlite")
        again = sim2.stats().for_model("m-a")
    assert len(again) == 1 and list(frame["question_id"]) == [p["question_id"] for p in prompts]
    assert len(out.read_text().splitlines()) == len(prompts)
    with JudgmentStore(tmp_path / "s.sqlite") as st:
        assert len(st.answers("m-a")) == len(prompts)


def test_answer_cli_keeps_what_succeeded(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    prompts = tmp_path / "p.jsonl"
    rows = [*PROMPTS, {"question_id": "long", "prompt": LONG}]
    prompts.write_text("".join(json.dumps(p) + "\n" for p in rows))
    out = tmp_path / "a.jsonl"
    with SimArena(MODELS, rng=4, max_context=8192, dialect="openai") as sim:
        code = main(["answer", "--prompts", str(prompts), "--model-url", sim.base_url,
                     "--model", "m-b", "--api-key-env", "WA_UNSET", "--quiet", "--out",
                     str(out)])
    err = capsys.readouterr().err
    assert code == 1 and "wizardarena answer: error: 1 of 7 prompts have no answer" in err
    assert "HTTP 400 context_length_exceeded: 1 (long;" in err and "Traceback" not in err
    assert len(out.read_text().splitlines()) == len(PROMPTS)


def test_answer_file_drops_a_line_cut_short_by_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(json.dumps({"model": "m", "question_id": "q1", "turns": ["one"],
                                "answer": "one"}) + "\n" + json.dumps({"model": "x",
                    "question_id": "q9", "turns": ["x"], "answer": "x"}) + "\n"
                    + '{"model": "m", "question_id": "q2", "tu')
    f = AnswerFile(path, "m")
    try:
        assert f.done == {"q1": ["one"]}
        f.append("q2", ["two"])
    finally:
        f.close()
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    assert [r["question_id"] for r in recs] == ["q1", "q9", "q2"]
    path.write_text("not json\n")
    with pytest.raises(ValidationError, match="line 1 is not an answer record"):
        AnswerFile(path, "m")


# -- the CLI: clear errors, right exit codes, no half-made files ----------------------------
def test_cli_input_errors_exit_2_and_create_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = tmp_path / "s.sqlite"
    ans = tmp_path / "answers"
    ans.mkdir()
    (ans / "m.jsonl").write_text(json.dumps({"model": "m", "question_id": "q0",
                                             "answer": "a"}) + "\n")
    base = ["battle", "--answers", str(ans), "--judge-url", "http://127.0.0.1:9/v1",
            "--judge-model", "j", "--store", str(store)]
    assert main([*base, "--prompts", str(tmp_path / "missing.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "wizardarena battle: error:" in err and "missing.jsonl does not exist" in err
    assert "Traceback" not in err and not store.exists()
    assert main([*base, "--prompts", str(tmp_path / "x.jsonl"), "--max-retries", "-1"]) == 2
    assert "--max-retries" in capsys.readouterr().err and not store.exists()
    assert main([*base, "--prompts", str(tmp_path), "--timeout", "0"]) == 2
    assert "--timeout" in capsys.readouterr().err
    assert main(["battle", "--no-such-flag"]) == 2
    assert "wizardarena battle: error:" in capsys.readouterr().err
    out = tmp_path / "out" / "a.jsonl"
    assert main(["answer", "--prompts", str(tmp_path / "missing.jsonl"), "--model-url",
                 "http://127.0.0.1:9/v1", "--model", "m", "--out", str(out)]) == 2
    assert "does not exist" in capsys.readouterr().err and not out.parent.exists()
    good = tmp_path / "p.jsonl"
    good.write_text(json.dumps(PROMPTS[0]) + "\n")
    assert main(["answer", "--prompts", str(good), "--model-url", "localhost:9",
                 "--model", "m", "--out", str(out)]) == 2
    assert "base_url" in capsys.readouterr().err and not out.parent.exists()


def test_store_of_schema_1_is_upgraded(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        INSERT INTO meta VALUES ('schema', '1');
        CREATE TABLE judgments (question_id TEXT NOT NULL, model_a TEXT NOT NULL,
            model_b TEXT NOT NULL, game INTEGER NOT NULL, turn INTEGER NOT NULL,
            judge TEXT NOT NULL, template_hash TEXT NOT NULL, template TEXT NOT NULL,
            category TEXT, status TEXT NOT NULL, winner TEXT, verdict TEXT, score_a REAL,
            score_b REAL, raw TEXT, error TEXT, prompt_tokens INTEGER NOT NULL DEFAULT 0,
            completion_tokens INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 1,
            tstamp REAL NOT NULL,
            PRIMARY KEY (question_id, model_a, model_b, game, turn, judge, template_hash)
        ) WITHOUT ROWID;
        INSERT INTO judgments VALUES ('q1', 'a', 'b', 0, 1, 'j', 'h', 't', NULL, 'failed',
            NULL, NULL, NULL, NULL, 'no verdict here', 'no [[A]]', 0, 0, 1, 1.0);
    """)
    db.commit()
    db.close()
    with JudgmentStore(path) as st:
        f = st.failed()
        assert list(f["reason"]) == ["unparseable verdict"]
        assert st.failure_summary().loc["unparseable verdict", "count"] == 1
    with JudgmentStore(path) as st:  # opening again changes nothing
        assert len(st.failed()) == 1


# -- httpx's own transport ------------------------------------------------------------------
def test_proxies_from_the_environment_are_used(monkeypatch: pytest.MonkeyPatch) -> None:
    with Scripted(_json(200, COMPLETION)) as proxy:
        monkeypatch.setenv("HTTP_PROXY", proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        with Client("http://arena.invalid/v1", model="m", api_key_env=None) as c:
            assert c.chat([{"role": "user", "content": "hi"}]).text == "hello"
    # the request went to the proxy, in absolute form, for the real host
    assert proxy.seen == ["POST http://arena.invalid/v1/chat/completions"]


def test_http2_follows_the_h2_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    assert AsyncClient("http://x.test/v1").http2 is h2_available()
    assert AsyncClient("http://x.test/v1", http2=False).http2 is False
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert AsyncClient("http://x.test/v1").http2 is False


def test_classification_of_2xx_bodies() -> None:
    ctx = RequestContext("chat/completions", "m")
    ok = json.dumps(COMPLETION).encode()
    assert classify_response(200, ok, {}, ctx)[1] is None
    for body, reason in [(b'{"error": {"message": "busy"}}', "200 with an error object"),
                         (b'{"choices": []}', "200 without choices"),
                         (b'{"choices": [{"message"', "truncated JSON")]:
        data, f = classify_response(200, body, {}, ctx)
        assert data is None and f is not None
        assert f.kind is FailureClass.TRANSIENT and f.reason == reason
    _, f = classify_response(400, b'{"detail": "bad"}', {}, ctx)
    assert f is not None and f.kind is FailureClass.PERMANENT and f.message == "bad"
    for status in (408, 409, 425, 429, 500, 502, 503):
        _, f = classify_response(status, b"{}", {"retry-after": "2"}, ctx)
        assert f is not None and f.kind is FailureClass.TRANSIENT and f.retry_after == 2.0


def test_mock_transport_still_works_for_unit_tests() -> None:
    def handler(req: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=COMPLETION)

    with Client("http://x.test/v1", model="m", api_key_env=None,
                transport=httpx.MockTransport(handler)) as c:
        assert c.chat([{"role": "user", "content": "x"}]).text == "hello"
