"""A/B of the structural redesign (issue 20): the same figures for two source trees, side by
side in one run, interleaved A B A B so that the machine's drift hits both.

Usage::

    git worktree add /tmp/before <commit>            # the code before the change
    python benchmarks/gen_logs.py                     # once: the synthetic logs
    python benchmarks/bench_house.py --before /tmp/before --after . [--cases rank style ...]

Each figure runs in a fresh subprocess with ``PYTHONPATH`` set to the tree it measures (its
own ``benchmarks/`` scripts for the test set and the arena):

``rank``     ``wa.rank`` with 1000 bootstrap rounds on ``_work/small.parquet`` (1M battles x
             20 models) and ``_work/large.parquet`` (3M x 130), from an in-memory DataFrame
             and from the Parquet file; min and median of 3 calls after a warm-up call.
``style``    ``wa.rank(style=True)`` with 1000 rounds on 1M battles x 20 models x 4 features
             (the data of ``bench_style.py``), one call.
``testset``  ``build_testset`` on 6,000 prompts (``bench_testset.py --speed 6000``).
``arena``    ``run_arena`` on 10,000 judgments at concurrency 64 against the simulated
             arena with 100 ms latency (``bench_arena.py --sizes 10000``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

RANK = """
import json, time, pandas as pd, wizardarena as wa
out = {}
for name in ("small", "large"):
    path = f"{work}/{name}.parquet"
    df = pd.read_parquet(path)
    for how, src in (("DataFrame", df), ("Parquet", path)):
        wa.rank(src, rounds=1000, rng=0, progress=False)
        times = []
        for rep in range(3):
            t0 = time.perf_counter()
            wa.rank(src, rounds=1000, rng=rep, progress=False)
            times.append(time.perf_counter() - t0)
        out[f"{name} {how}"] = times
print(json.dumps(out))
"""

STYLE = """
import json, time, wizardarena as wa
from wizardarena.sim import simulate_style_battles
models = {f"m{k:02d}": {"skill": 1000 + 15 * k, "verbosity": (k % 5 - 2) * 0.4,
                        "markdown": (k % 3) * 0.3} for k in range(20)}
log = simulate_style_battles(models, 1_000_000, style_bias={"tokens": 1.5, "bold": 0.5}, rng=0)
t0 = time.perf_counter()
wa.rank(log, style=True, standardize="zscore", l2=float(len(log)), rounds=1000, rng=0,
        progress=False)
print(json.dumps({"style 1000 rounds": [time.perf_counter() - t0]}))
"""


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree), "WIZARDARENA_NO_PROGRESS": "1"}


def _output(tree: Path, *args: str) -> str:
    """What ``python ARGS`` prints, run in ``tree`` with its code first on the path."""
    done = subprocess.run([sys.executable, *args], cwd=tree, env=_env(tree),
                          capture_output=True, text=True, timeout=3600)
    if done.returncode:
        raise RuntimeError(done.stderr[-2000:])
    return done.stdout


def _python(tree: Path, code: str) -> dict[str, list[float]]:
    return json.loads(_output(tree, "-c", code).strip().splitlines()[-1])


def _testset(tree: Path) -> dict[str, list[float]]:
    out = _output(tree, "benchmarks/bench_testset.py", "--speed", "6000")
    row = json.loads(out.strip().splitlines()[-1])
    return {"testset 6k: seconds": [float(row["total_s"])],
            "testset 6k: peak RSS MiB": [float(row["peak_rss_mib"])],
            "testset 6k: kept": [float(row["kept"])]}


def _arena(tree: Path) -> dict[str, list[float]]:
    out = _output(tree, "benchmarks/bench_arena.py", "--sizes", "10000")
    rows = [line for line in out.splitlines() if re.match(r"^\| [\d,]+ \|", line)]
    cells = [c.strip() for c in rows[-1].strip("|").split("|")]
    return {"arena c64: judgments/s": [float(cells[2].replace(",", ""))],
            "arena c64: client CPU ms/judgment": [float(cells[4])],
            "arena c64: peak RSS MiB": [float(cells[5])]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, required=True)
    ap.add_argument("--after", type=Path, default=HERE.parent)
    ap.add_argument("--cases", nargs="*", default=["rank", "style", "testset", "arena"])
    ap.add_argument("--pairs", type=int, default=2, help="A/B pairs of each case")
    args = ap.parse_args()
    work = str(HERE / "_work")
    cases = {
        "rank": lambda tree: _python(tree, RANK.replace("{work}", work)),
        "style": lambda tree: _python(tree, STYLE),
        "testset": _testset,
        "arena": _arena,
    }
    results: dict[str, dict[str, list[float]]] = {"before": {}, "after": {}}
    load0 = os.getloadavg()[0]
    t0 = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for case in args.cases:
        for _ in range(args.pairs):
            for side, tree in (("before", args.before), ("after", args.after)):
                for key, values in cases[case](tree.resolve()).items():
                    results[side].setdefault(key, []).extend(values)
                print(f"{case} {side} done (load {os.getloadavg()[0]:.2f})", file=sys.stderr)
    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in cpu.splitlines()
                  if line.startswith("Model name")), "?")
    print(f"{t0} → {time.strftime('%H:%M UTC', time.gmtime())}, `{model}`, "
          f"{os.cpu_count()} cores, load {load0:.2f} → {os.getloadavg()[0]:.2f}\n")
    print("| figure | before (min / median) | after (min / median) | after / before (median) |")
    print("|---|---:|---:|---:|")
    for key in results["before"]:
        b, a = results["before"][key], results["after"].get(key, [])
        if not a:
            continue
        mb, ma = statistics.median(b), statistics.median(a)
        print(f"| {key} | {min(b):.3f} / {mb:.3f} | {min(a):.3f} / {ma:.3f} | "
              f"{ma / mb:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
