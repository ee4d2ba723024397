"""Arena throughput, client CPU per judgment, memory, and how fast a dead endpoint stops a run.

The simulated server runs in a separate process (it does not share the client's CPU/GIL)
with a fixed latency per request (default 100 ms). For each size the arena runs in a fresh
child process (so memory figures are independent) and reports wall time, judgments/s,
process CPU time of the client per judgment, and peak RSS. ``--closed-port`` also times a
run against a loopback port where nothing listens, from the call to the error the circuit
breaker raises (default breaker: 10 s), in a fresh child process.

The client is httpx's own transport (httpcore); the header printed shows the versions and
whether ``sniffio`` and ``h2`` are installed (both change httpcore's cost per request).

Usage::

    python benchmarks/bench_arena.py                         # 10k and 50k judgments
    python benchmarks/bench_arena.py --sizes 10000 200000 --closed-port
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

N_MODELS = 16  # 120 pairs x 2 orders = 240 judgments per prompt


def work(n: int) -> tuple[list[dict[str, str]], dict[str, dict[str, str]]]:
    """Prompts and answers of ``N_MODELS`` models for at least ``n`` judgments (both
    orders): short fixed answers with sim markers (answer generation is not what is
    measured). Shared with ``bench_ray.py``."""
    n_prompts = -(-n // (N_MODELS * (N_MODELS - 1)))
    prompts = [{"question_id": f"q{i}", "prompt": f"Question {i}: explain topic {i % 97}."}
               for i in range(n_prompts)]
    answers = {f"m{k:02d}": {p["question_id"]: f"Answer of m{k:02d} to {p['question_id']}.\n"
                             f"⟦sim q={1000 + 10 * k + (i % 7)}.0 n=40⟧"
                             for i, p in enumerate(prompts)} for k in range(N_MODELS)}
    return prompts, answers


def child(base_url: str, judge_model: str, n: int, concurrency: int, store: str) -> dict:
    from wizardarena.arena.judges import Judge
    from wizardarena.arena.runner import run_arena

    prompts, answers = work(n)
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


def closed_port(concurrency: int, store: str) -> dict:
    """Seconds from calling run_arena on a closed port to the breaker's error."""
    from wizardarena.arena.judges import Judge
    from wizardarena.arena.runner import run_arena
    from wizardarena.exceptions import EndpointUnreachableError
    from wizardarena.sim import closed_port_url

    prompts = [{"question_id": f"q{i}", "prompt": f"Question {i}"} for i in range(100)]
    answers = {m: {p["question_id"]: f"answer {m}" for p in prompts} for m in "abcd"}
    judge = Judge(closed_port_url(), "judge", api_key_env=None)
    t0 = time.perf_counter()
    try:
        run_arena(answers, prompts, judge, store=store, concurrency=concurrency)
    except EndpointUnreachableError as exc:
        return {"seconds": time.perf_counter() - t0, "error": str(exc)[:160]}
    return {"seconds": time.perf_counter() - t0, "error": "no error raised"}


def versions() -> str:
    out = []
    for name in ("httpx", "httpcore", "anyio", "sniffio", "h2"):
        try:
            out.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            out.append(f"{name} (not installed)")
    return ", ".join(out)


def machine() -> str:
    cpu = subprocess.run("lscpu | sed -n 's/^Model name: *//p'", shell=True,
                         capture_output=True, text=True).stdout.strip()
    load = os.getloadavg()
    return (f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {cpu}, "
            f"{os.cpu_count()} cores, load {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="*", default=[10_000, 50_000])
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--closed-port", action="store_true",
                    help="also time a run against a closed port (circuit breaker)")
    ap.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    ap.add_argument("--closed-child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        base_url, judge_model, n, store = args.child
        print(json.dumps(child(base_url, judge_model, int(n), args.concurrency, store)))
        return
    if args.closed_child:
        print(json.dumps(closed_port(args.concurrency, args.closed_child)))
        return
    from wizardarena.sim import SimArena

    print(f"{machine()}\n{sys.version.split()[0]}; {versions()}\n")

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
    print(f"finished {machine()}\n")
    ideal = args.concurrency / args.latency if args.latency else float("nan")
    print(f"latency {args.latency * 1000:.0f} ms, concurrency {args.concurrency} "
          f"(ideal {ideal:.0f} judgments/s)\n")
    print("| judgments | wall s | judgments/s | % of ideal | client CPU ms/judgment "
          "| peak RSS MiB | errors |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['n']:,} | {r['wall']:.1f} | {r['rate']:.0f} | {100 * r['rate'] / ideal:.0f}% "
              f"| {r['cpu_ms']:.3f} | {r['peak_rss_mib']:.0f} | {r['errors']} |")

    if args.closed_port:
        with tempfile.TemporaryDirectory() as tmp:
            out = subprocess.run(
                [sys.executable, __file__, "--concurrency", str(args.concurrency),
                 "--closed-child", str(Path(tmp) / "closed.sqlite")],
                capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"\nclosed port, concurrency {args.concurrency}: the run stopped after "
              f"{r['seconds']:.1f} s: {r['error']}")


if __name__ == "__main__":
    main()
