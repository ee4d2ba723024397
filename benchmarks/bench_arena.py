"""Arena throughput, client CPU per judgment and memory, against the simulated arena.

The simulated server runs in a separate process (it does not share the client's CPU/GIL)
with a fixed latency per request (default 100 ms). For each size the arena runs in a fresh
child process (so memory figures are independent) and reports wall time, judgments/s,
process CPU time of the client per judgment, and peak RSS.

Usage::

    python benchmarks/bench_arena.py                    # 10k and 50k judgments
    python benchmarks/bench_arena.py --sizes 10000 200000
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_MODELS = 16  # 120 pairs x 2 orders = 240 judgments per prompt


def child(base_url: str, judge_model: str, n: int, concurrency: int, store: str) -> dict:
    from wizardarena.arena.judges import Judge
    from wizardarena.arena.runner import run_arena

    n_prompts = -(-n // (N_MODELS * (N_MODELS - 1)))
    prompts = [{"question_id": f"q{i}", "prompt": f"Question {i}: explain topic {i % 97}."}
               for i in range(n_prompts)]
    # short fixed answers with sim markers (answer generation is not what is measured)
    answers = {f"m{k:02d}": {p["question_id"]: f"Answer of m{k:02d} to {p['question_id']}.\n"
                             f"⟦sim q={1000 + 10 * k + (i % 7)}.0 n=40⟧"
                             for i, p in enumerate(prompts)} for k in range(N_MODELS)}
    judge = Judge(base_url, judge_model, template="arena-hard", api_key_env=None)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    ru0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.perf_counter()
    r = run_arena(answers, prompts, judge, store=store, concurrency=concurrency, load=False)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_SELF)
    done = r.n_ok + r.n_failed
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {"n": done, "errors": r.n_errors, "wall": wall, "rate": done / wall,
            "cpu_ms": 1000 * cpu / done,
            "user_ms": 1000 * (ru1.ru_utime - ru0.ru_utime) / done,
            "rss_before_mib": rss0 / 1024, "peak_rss_mib": ru1.ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000])
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        base_url, judge_model, n, store = args.child
        print(json.dumps(child(base_url, judge_model, int(n), args.concurrency, store)))
        return
    from wizardarena.sim.server import SimArena

    rows = []
    with SimArena({"unused": 1000.0}, rng=0, process=True, latency=args.latency) as sim, \
            tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            store = str(Path(tmp) / f"bench-{n}.sqlite")
            out = subprocess.run(
                [sys.executable, __file__, "--concurrency", str(args.concurrency), "--child",
                 sim.base_url, sim.judge_model, str(n), store],
                capture_output=True, text=True, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    ideal = args.concurrency / args.latency if args.latency else float("nan")
    print(f"latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency} "
          f"(ideal {ideal:.0f} judgments/s)\n")
    print("| judgments | wall s | judgments/s | % of ideal | client CPU ms/judgment "
          "| peak RSS MiB | errors |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['n']:,} | {r['wall']:.1f} | {r['rate']:.0f} | {100 * r['rate'] / ideal:.0f}% "
              f"| {r['cpu_ms']:.3f} | {r['peak_rss_mib']:.0f} | {r['errors']} |")


if __name__ == "__main__":
    main()
