"""What progress reporting costs: the renderer per event, and whole calls with and without it.

Run: ``python benchmarks/bench_progress.py``

Measures, best of 9 repeats:

- the cost of one event in :class:`wizardarena.progress.ProgressBar` (a drawn tqdm bar into
  a null stream, mininterval as shipped), for the arena's stage (counters in the postfix) and
  the bootstrap's (none), next to a plain ``list.append`` callback;
- ``wa.rank`` with 1000 bootstrap rounds on a 50-model, 100k-battle log with
  ``progress=False`` / ``True`` (the default: no bar outside a terminal) / a drawn bar;
- ``run_arena`` on the simulated arena (4 models, 40 prompts, 480 judgments) with
  ``progress=False`` and with a drawn bar.

Prints a markdown table; the figures are in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import datetime
import io
import os
import subprocess
import tempfile
import time
from pathlib import Path

import wizardarena as wa
from wizardarena.progress import Progress, ProgressBar


def best(fn: object, repeats: int = 9) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - t0)
    return min(times)


def per_event(n: int = 20_000) -> dict[str, float]:
    judge = [Progress("judge", k, n, unit="judgment", ok=k, failed=0, errors=0,
                      prompt_tokens=300 * k, completion_tokens=40 * k, elapsed=k / 1000)
             for k in range(1, n + 1)]
    boot = [Progress("bootstrap", k, n, unit="round") for k in range(1, n + 1)]

    def drawn(events: list[Progress]) -> None:
        with ProgressBar(file=io.StringIO(), disable=False) as bar:
            for e in events:
                bar(e)

    def silent(events: list[Progress]) -> None:  # the default outside a terminal
        with ProgressBar(file=io.StringIO()) as bar:
            for e in events:
                bar(e)

    def listed(events: list[Progress]) -> None:
        out: list[Progress] = []
        for e in events:
            out.append(e)

    return {
        "ProgressBar, drawn, judge events (µs/event)": best(lambda: drawn(judge)) / n * 1e6,
        "ProgressBar, drawn, bootstrap events (µs/event)": best(lambda: drawn(boot)) / n * 1e6,
        "ProgressBar, not a terminal (µs/event)": best(lambda: silent(judge)) / n * 1e6,
        "list.append callback (µs/event)": best(lambda: listed(judge)) / n * 1e6,
    }


def rank_calls() -> dict[str, float]:
    truth = {f"m{k:02d}": 1300.0 - 12.0 * k for k in range(50)}
    log = wa.simulate_battles(truth, 100_000, rng=0)
    drawn = lambda: wa.rank(log, rng=0, progress=ProgressBar(file=io.StringIO(),  # noqa: E731
                                                             disable=False, delay=0))
    return {
        "rank, 100k battles, 1000 rounds, progress=False (s)":
            best(lambda: wa.rank(log, rng=0, progress=False)),
        "rank, progress=True, not a terminal (s)": best(lambda: wa.rank(log, rng=0)),
        "rank, a drawn bar (s)": best(drawn),
    }


def arena_calls() -> dict[str, float]:
    models = {"a": 1200.0, "b": 1100.0, "c": 1000.0, "d": 900.0}
    prompts = [{"question_id": f"q{i}", "prompt": f"Question {i}"} for i in range(40)]
    out: dict[str, float] = {}
    with wa.SimArena(models, rng=0) as sim, tempfile.TemporaryDirectory() as tmp:
        with wa.Client(sim.base_url, api_key_env=None) as client:
            answers = {m: {p["question_id"]: r.text for p, r in zip(prompts, client.chat_many(
                [[{"role": "user", "content": p["prompt"]}] for p in prompts], model=m))}
                for m in models}
        judge = wa.Judge(sim.base_url, sim.judge_model, api_key_env=None)
        runs = {"run_arena, 480 judgments, progress=False (s)": False}
        for label, progress in [*runs.items(), ("run_arena, a drawn bar (s)", None)]:
            times = []
            for k in range(9):
                store = Path(tmp) / f"{label[:20]}-{k}.sqlite"
                bar = ProgressBar(file=io.StringIO(), disable=False) if progress is None \
                    else progress
                t0 = time.perf_counter()
                wa.run_arena(answers, prompts, judge, store=store, progress=bar)
                times.append(time.perf_counter() - t0)
            out[label] = min(times)
    return out


def main() -> None:
    cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p' | head -n 1"],
                         capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()
    print(f"{datetime.date.today()}, {cpu}, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
    print("| measurement | value |\n|---|---:|")
    for part in (per_event(), rank_calls(), arena_calls()):
        for k, v in part.items():
            print(f"| {k} | {v:.3f} |")


if __name__ == "__main__":
    main()
