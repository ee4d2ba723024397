"""Bounded responses: a body over ``max_response_bytes`` is cut, closed and retried."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wizardarena.arena.judges import Judge
from wizardarena.cli import main
from wizardarena.endpoints import DEFAULT_MAX_RESPONSE_BYTES, AsyncClient, Client, run_sync
from wizardarena.exceptions import ClientError, ValidationError
from wizardarena.sim import Faults, SimArena

CHAT = [{"role": "user", "content": "hi"}]
ROOT = Path(__file__).resolve().parents[1]


def test_a_huge_body_is_cut_at_the_cap_and_retried() -> None:
    faults = Faults(rate_huge_body=0.4, huge_body_bytes=4 << 20)
    with SimArena({"m": 1000.0}, faults=faults, rng=3) as sim:
        async def go() -> list[str]:
            async with AsyncClient(sim.base_url, model="m", api_key_env=None, backoff=0.001,
                                   max_retries=20, max_response_bytes=1 << 20) as c:
                out = [(await c.chat(CHAT, seed=i)).text for i in range(20)]
                assert c.stats.retries >= sim.stats().faults["huge_body"] > 0
                return out

        texts = run_sync(go())
    assert len(texts) == 20 and all(len(t) < 1 << 20 for t in texts)


def test_a_body_over_the_cap_every_time_fails_as_transient_naming_the_cap() -> None:
    faults = Faults(rate_huge_body=1.0, huge_body_bytes=2 << 20)
    with SimArena({"m": 1000.0}, faults=faults, rng=0) as sim, \
            Client(sim.base_url, model="m", api_key_env=None, backoff=0.001, max_retries=2,
                   max_response_bytes=1 << 20) as c:
        with pytest.raises(ClientError, match=r"response over 1 MiB|longer than "
                                              r"max_response_bytes \(1 MiB") as err:
            c.chat(CHAT)
        assert "after 3 attempt(s)" in str(err.value)
        assert c.stats.attempts == 3 and c.stats.failures == 1
        # under the cap, the same body is read whole
        with Client(sim.base_url, model="m", api_key_env=None,
                    max_response_bytes=4 << 20) as big:
            assert len(big.chat(CHAT).text) == (2 << 20) - 64


def test_an_endless_body_neither_hangs_nor_grows() -> None:
    with SimArena({"m": 1000.0}, faults=Faults(rate_endless_body=1.0), rng=0) as sim, \
            Client(sim.base_url, model="m", api_key_env=None, backoff=0.001, max_retries=1,
                   max_response_bytes=2 << 20, timeout=30.0) as c:
        t0 = time.perf_counter()
        with pytest.raises(ClientError, match="longer than max_response_bytes"):
            c.chat(CHAT)
        assert time.perf_counter() - t0 < 20.0
        assert c.stats.attempts == 2 and sim.stats().faults == {"endless_body": 2}


def test_max_response_bytes_is_validated_and_reaches_the_clients() -> None:
    for bad in (0, -1, 1.5, True, "1"):
        with pytest.raises(ValidationError, match="max_response_bytes"):
            AsyncClient("http://x/v1", max_response_bytes=bad)
        with pytest.raises(ValidationError, match="--max-response-bytes"):
            Judge("http://x/v1", "j", max_response_bytes=bad)
    judge = Judge("http://x/v1", "j", max_response_bytes=1234)
    assert judge.async_client().max_response_bytes == 1234
    assert AsyncClient("http://x/v1").max_response_bytes == DEFAULT_MAX_RESPONSE_BYTES


def test_battle_with_huge_bodies_counts_errors_and_stores_nothing(tmp_path: Path) -> None:
    answers = tmp_path / "answers.jsonl"
    prompts = tmp_path / "prompts.jsonl"
    with prompts.open("w") as f:
        for i in range(3):
            f.write(json.dumps({"question_id": f"q{i}", "prompt": f"Q{i}"}) + "\n")
    with answers.open("w") as f:
        for m in ("a", "b"):
            for i in range(3):
                f.write(json.dumps({"model": m, "question_id": f"q{i}", "answer": m}) + "\n")
    faults = Faults(rate_huge_body=1.0, huge_body_bytes=1 << 20)
    with SimArena({"a": 1000.0, "b": 1000.0}, faults=faults, rng=0) as sim:
        code = main(["battle", "--answers", str(answers), "--prompts", str(prompts),
                     "--judge-url", sim.base_url, "--judge-model", sim.judge_model,
                     "--store", str(tmp_path / "s.sqlite"), "--max-retries", "0",
                     "--max-response-bytes", "65536", "--quiet"])
        assert sim.stats().faults["huge_body"] == 6
    assert code != 0
    from wizardarena.arena.store import JudgmentStore

    with JudgmentStore(tmp_path / "s.sqlite") as st:
        assert st.count() == 0  # transient: nothing stored, a rerun asks again


@pytest.mark.parametrize("kind, size", [("huge", 200 << 20), ("endless", 0)])
def test_a_run_against_huge_bodies_keeps_memory_far_below_the_body(kind: str,
                                                                   size: int) -> None:
    # a clean environment: nothing an earlier test left in os.environ reaches the child
    env = {k: os.environ[k] for k in ("PATH", "HOME", "TMPDIR") if k in os.environ}
    env["PYTHONPATH"] = str(ROOT)
    out = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "rss_huge_bodies.py"), kind, str(size),
         "4"], capture_output=True, text=True, env=env, timeout=300, check=True)
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["n_errors"] == 16 and got["n_ok"] == 0
    # the run itself (4 requests in flight, a cap of 16 MiB) adds far less than one body
    assert got["peak_rss_mb"] - got["rss_before_run_mb"] < 150, got
    assert got["peak_rss_mb"] < 400, got
