"""The simulated arena server and the arena CLI subcommands (answer, battle, demo)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from wizardarena.cli import main
from wizardarena.endpoints import Client
from wizardarena.exceptions import HTTPStatusError, ValidationError
from wizardarena.sim import Faults, SimArena, SimModel, hashed_embedding


def rater(messages: list[dict]) -> str:
    return f"difficulty 7 for {len(messages)} message(s)"


def test_embeddings_and_extra_models() -> None:
    with SimArena({"m": 1000.0}, extra_models={"rater": rater}, rng=0) as sim:
        with Client(sim.base_url, api_key_env=None) as c:
            X = c.embed(["the cat sat on the mat", "the cat sat on a mat",
                         "quantum chromodynamics lecture"], model="emb", batch_size=2)
            r = c.chat([{"role": "user", "content": "rate"}], model="rater")
            with pytest.raises(HTTPStatusError) as info:
                c.chat([{"role": "user", "content": "x"}], model="nope")
    assert X.shape == (3, 256)
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    assert X[0] @ X[1] > 0.7 > X[0] @ X[2]
    np.testing.assert_allclose(X[2], hashed_embedding("quantum chromodynamics lecture"),
                               atol=1e-5)
    assert r.text == "difficulty 7 for 1 message(s)"
    assert info.value.status_code == 404


def test_style_traits_change_length_and_markdown() -> None:
    models = {"terse": SimModel(1000, verbosity=-1.0), "verbose": SimModel(1000, verbosity=2.0,
                                                                          markdown=1.0)}
    with SimArena(models, rng=0) as sim, Client(sim.base_url, api_key_env=None) as c:
        msgs = [[{"role": "user", "content": f"q{i}"}] for i in range(10)]
        terse = [r.text for r in c.chat_many(msgs, model="terse")]
        verbose = [r.text for r in c.chat_many(msgs, model="verbose")]
    assert np.mean([len(t) for t in verbose]) > 4 * np.mean([len(t) for t in terse])
    assert all("## " in t and "**" in t for t in verbose)
    assert not any("## " in t for t in terse)


def test_sim_validation_and_process_mode() -> None:
    with pytest.raises(ValidationError, match="models"):
        SimArena({"m": "strong"})  # type: ignore[dict-item]
    with pytest.raises(ValidationError, match="sum"):
        Faults(rate_429=0.6, rate_500=0.6)
    with SimArena({"m": 1000.0}, rng=0, process=True, latency=0.01) as sim:
        with Client(sim.base_url, model="m", api_key_env=None) as c:
            a = c.chat([{"role": "user", "content": "hello"}]).text
        stats = sim.stats()
    with SimArena({"m": 1000.0}, rng=0) as sim2, Client(sim2.base_url, model="m",
                                                        api_key_env=None) as c:
        b = c.chat([{"role": "user", "content": "hello"}]).text
    assert a == b  # same seed, same content: same answer in thread and process mode
    assert stats.requests["requests"].sum() == 1


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


class _TTY(io.StringIO):
    def isatty(self) -> bool:  # what a user's terminal says
        return True


def test_cli_answer_and_battle(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                               monkeypatch: pytest.MonkeyPatch) -> None:
    prompts = tmp_path / "prompts.jsonl"
    _write_jsonl(prompts, [{"question_id": f"q{i}", "prompt": f"Explain {i}"} for i in range(6)])
    with SimArena({"m1": 1200.0, "m2": 1000.0, "m3": 1100.0}, rng=0) as sim:
        for m in ("m1", "m2", "m3"):
            code = main(["answer", "--prompts", str(prompts), "--model-url", sim.base_url,
                         "--model", m, "--api-key-env", "WA_UNSET_KEY", "--quiet",
                         "--out", str(tmp_path / "answers" / f"{m}.jsonl")])
            assert code == 0
        out = tmp_path / "battles.parquet"
        args = ["battle", "--prompts", str(prompts), "--answers", str(tmp_path / "answers"),
                "--judge-url", sim.base_url, "--judge-model", sim.judge_model,
                "--template", "arena-hard", "--store", str(tmp_path / "s.sqlite"),
                "--out", str(out), "--api-key-env", "WA_UNSET_KEY", "--price-input", "1",
                "--price-output", "2"]
        terminal = _TTY()
        with monkeypatch.context() as mp:
            mp.setattr(sys, "stderr", terminal)
            assert main(args) == 0
        first = capsys.readouterr()
        assert main(args) == 0
        second = capsys.readouterr()
    b = pd.read_parquet(out)
    assert len(b) == 6 * 3 * 2
    assert {"model_a", "model_b", "winner", "game", "verdict", "template_hash"} <= set(b.columns)
    assert "36 judged now" in first.out and "$" in first.out
    bar = terminal.getvalue()  # the tqdm bar on a terminal, with the judge's cost
    assert "36/36" in bar and "cost=~$" in bar and "ok=36" in bar
    assert "36 already stored, 0 judged now" in second.out
    assert "judge" not in second.err  # stderr is not a terminal here: no bar


def test_cli_demo_runs_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--prompts", "8", "--rounds", "100"]) == 0
    out = capsys.readouterr().out
    assert "Spearman(true, fitted)" in out and "wizard-70b" in out
    assert "first-slot win rate" in out


def test_oversized_and_endless_bodies_are_streamed_as_a_bad_server_sends_them() -> None:
    import httpx

    chat = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    with SimArena({"m": 1000.0}, faults=Faults(rate_huge_body=1.0, huge_body_bytes=3 << 20),
                  rng=0) as sim, httpx.Client() as c:
        with c.stream("POST", f"{sim.base_url}/chat/completions", json=chat) as r:
            assert r.status_code == 200 and r.headers["content-length"] == str(3 << 20)
            body = b"".join(r.iter_bytes())
        assert len(body) == 3 << 20 and body.startswith(b'{"choices"')
        assert json.loads(body)["choices"][0]["message"]["content"] == "a" * (len(body) - 64)
    with SimArena({"m": 1000.0}, faults=Faults(rate_endless_body=1.0), rng=0) as sim, \
            httpx.Client() as c:
        with c.stream("POST", f"{sim.base_url}/chat/completions", json=chat) as r:
            assert r.headers["transfer-encoding"] == "chunked"
            read = 0
            for chunk in r.iter_bytes():
                read += len(chunk)
                if read > 8 << 20:  # it does not end: the client has to hang up
                    break
        assert read > 8 << 20
        assert sim.stats().faults == {"endless_body": 1}


def test_a_cpu_bound_embeddings_server_reports_its_compute() -> None:
    import httpx

    with SimArena({"m": 1000.0}, embed_seconds_per_text=0.002, embed_seconds_per_request=0.02,
                  embed_cpu=True, process=True, rng=0) as sim, httpx.Client(timeout=60) as c:
        before = sim.stats().cpu_seconds
        for i in range(4):
            r = c.post(f"{sim.base_url}/embeddings",
                       json={"model": "e", "input": [f"text {i} {k}" for k in range(25)]})
            assert r.status_code == 200 and len(r.json()["data"]) == 25
        used = sim.stats().cpu_seconds - before
    assert used >= 0.9 * 4 * (0.02 + 25 * 0.002)  # the compute was spent as CPU time
