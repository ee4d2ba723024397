"""Ratings benchmark: wizardarena vs the tools users would pick instead (issue 2).

Every case runs end to end from the Parquet file (read, encode, fit, intervals) in a fresh
subprocess, once per repetition; the child times the call (imports excluded) and reports its
own peak resident memory (``ru_maxrss``; for tools with a process pool, also the largest
worker's), and the point ratings, which are compared with an
independent, tightly converged MLE (:mod:`exact_mle`). Results accumulate in
``benchmarks/_work/results_rank.json`` (so peers can be added one at a time) and the table is
printed as markdown.

Usage::

    python benchmarks/gen_logs.py                    # once: write the synthetic logs
    python benchmarks/bench_rank.py                  # every case, 3 repetitions
    python benchmarks/bench_rank.py --cases ours.point ours.battle --logs small -r 5
    python benchmarks/bench_rank.py --table          # only print the table of stored results
    python benchmarks/bench_rank.py --list           # the case names

Peers that are far too slow at 1000 rounds on the large log run fewer rounds (the
``rounds`` of their case); the table extrapolates their time linearly to 1000 rounds and
says so.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / "_work"
STORE = WORK / "results_rank.json"
LOGS = ("small", "large")
LOG_LABEL = {"small": "1M battles × 20 models", "large": "3M battles × 130 models"}
FULL_ROUNDS = 1000


@dataclass(frozen=True)
class Case:
    """One benchmark case: a function ``module.func(path, *, rounds, seed) -> Series``.

    ``rounds`` maps a log name to the rounds actually run (bootstrap cases); 0 for point fits
    and sandwich. With fewer than 1000 rounds the time is extrapolated linearly: ``fixed +
    (measured − fixed) · 1000 / rounds``, where ``fixed`` is the median of the ``base`` case
    (the same tool's own point fit, which the bootstrap call also performs) or 0.
    """

    name: str
    label: str
    module: str
    func: str
    kind: str  # "point", "bootstrap" (battle unit), "prompt bootstrap", "sandwich"
    rounds: dict[str, int] = field(default_factory=lambda: {"small": 0, "large": 0})
    base: str = ""  # case whose time is the fixed (non-replicate) part, for extrapolation


def _boot(small: int = FULL_ROUNDS, large: int = FULL_ROUNDS) -> dict[str, int]:
    return {"small": small, "large": large}


CASES: dict[str, Case] = {
    c.name: c
    for c in [
        Case("ours.point", "wizardarena `rank(ci='none')`", "peers_ours", "point", "point"),
        Case("ours.battle", "wizardarena battle bootstrap", "peers_ours", "battle_bootstrap",
             "bootstrap", _boot()),
        Case("ours.prompt", "wizardarena prompt bootstrap", "peers_ours", "prompt_bootstrap",
             "prompt bootstrap", _boot()),
        Case("ours.sandwich", "wizardarena sandwich", "peers_ours", "sandwich", "sandwich"),
        Case("fastchat.point", "FastChat `compute_bt` (L-BFGS)", "peers_fastchat",
             "current_point", "point"),
        Case("fastchat.bootstrap", "FastChat `compute_bootstrap_bt` (L-BFGS, process pool)",
             "peers_fastchat", "current_bootstrap", "bootstrap", _boot(1000, 100),
             base="fastchat.point"),
        Case("fastchat_lr.point", "FastChat old `compute_mle_elo` (sklearn LR)",
             "peers_fastchat", "lr_point", "point"),
        Case("fastchat_lr.bootstrap", "FastChat old LR + row bootstrap", "peers_fastchat",
             "lr_bootstrap", "bootstrap", _boot(10, 3), base="fastchat_lr.point"),
        Case("arena_rank.sandwich", "arena-rank sandwich", "peers_libs", "arena_rank_sandwich",
             "sandwich"),
        Case("arena_rank.bootstrap", "arena-rank bootstrap (L-BFGS, process pool)",
             "peers_libs", "arena_rank_bootstrap", "bootstrap", _boot(200, 50),
             base="arena_rank.sandwich"),
        Case("evalica.point", "evalica `bradley_terry`", "peers_libs", "evalica_point",
             "point"),
        Case("evalica.bootstrap", "evalica `bootstrap` (percentile)", "peers_libs",
             "evalica_bootstrap", "bootstrap", _boot(10, 3), base="evalica.point"),
        Case("choix.point", "choix `ilsr_pairwise`", "peers_libs", "choix_point", "point"),
        Case("skilled.point", "skilled user: numpy + `ilsr_pairwise_dense`", "peers_libs",
             "skilled_point", "point"),
        Case("skilled.bootstrap", "skilled user: multinomial + dense ILSR loop", "peers_libs",
             "skilled_bootstrap", "bootstrap", _boot(1000, 100), base="skilled.point"),
    ]
}


# --------------------------------------------------------------------------- child side


def _child(case_name: str, log: str, rounds: int, seed: int) -> None:
    case = CASES[case_name]
    sys.path.insert(0, str(HERE))
    func = getattr(importlib.import_module(case.module), case.func)
    path = str(WORK / f"{log}.parquet")
    t0 = time.perf_counter()
    ratings = func(path, rounds=rounds, seed=seed)
    seconds = time.perf_counter() - t0
    maxrss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # worker processes (FastChat's and arena-rank's pools) have ended by now
    workers_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(json.dumps({
        "seconds": seconds,
        "maxrss_mib": maxrss_kib / 1024.0,
        "workers_maxrss_mib": workers_kib / 1024.0,
        "ratings": {str(k): float(v) for k, v in ratings.items()},
    }))


# --------------------------------------------------------------------------- parent side


def _load_store() -> dict[str, dict]:
    if STORE.exists():
        data: dict[str, dict] = json.loads(STORE.read_text())
        return data
    return {}


def _save_store(data: dict[str, dict]) -> None:
    WORK.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".results_rank.", suffix=".tmp", dir=WORK)
    os.close(fd)
    try:
        Path(tmp).write_text(json.dumps(data, indent=1))
        os.replace(tmp, STORE)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _exact(log: str) -> dict[str, float]:
    """Reference MLE of ``log`` (cached beside the log, keyed by the log's mtime)."""
    sys.path.insert(0, str(HERE))
    from exact_mle import exact_mle

    path = WORK / f"{log}.parquet"
    cache = WORK / f"{log}.exact.json"
    stamp = path.stat().st_mtime_ns
    if cache.exists():
        data = json.loads(cache.read_text())
        if data.get("mtime_ns") == stamp:
            return dict(data["ratings"])
    fit = exact_mle(path)
    data = {"mtime_ns": stamp, "n_newton": fit.n_newton, "last_step": fit.last_step,
            "grad_norm": fit.grad_norm, "ratings": fit.ratings.to_dict()}
    cache.write_text(json.dumps(data, indent=1))
    return dict(data["ratings"])


def _max_diff(ratings: dict[str, float], exact: dict[str, float]) -> float:
    import numpy as np

    keys = sorted(exact)
    missing = [k for k in keys if k not in ratings]
    if missing:
        return float("nan")
    r = np.array([ratings[k] for k in keys])
    e = np.array([exact[k] for k in keys])
    return float(np.max(np.abs((r - r.mean()) - (e - e.mean()))))


CORE = ("wizardarena/api.py", "wizardarena/battles.py", "wizardarena/ratings")


def core_version() -> str:
    """Last commit touching the ratings core, ``+dirty`` if the core has uncommitted edits."""
    root = HERE.parent
    try:
        head = subprocess.run(["git", "log", "-1", "--format=%h", "--", *CORE], cwd=root,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *CORE], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def run_case(case: Case, log: str, repeats: int, seed: int, timeout: float) -> dict:
    """Run ``case`` on ``log`` ``repeats`` times, one subprocess each; return the record."""
    rounds = case.rounds[log]
    version = core_version()
    runs = []
    for rep in range(repeats):
        load = os.getloadavg()[0]
        cmd = [sys.executable, str(Path(__file__).resolve()), "--child", case.name, log,
               str(rounds), str(seed + rep)]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              cwd=str(HERE))
        if proc.returncode != 0:
            raise RuntimeError(f"{case.name} on {log} failed:\n{proc.stderr[-3000:]}")
        out = json.loads(proc.stdout.strip().splitlines()[-1])
        out["load1"] = load
        out["stderr"] = proc.stderr.strip()[-500:]
        runs.append(out)
        print(f"  {case.name:<22} {log:<6} run {rep + 1}/{repeats}: {out['seconds']:8.3f} s, "
              f"{out['maxrss_mib']:7.0f} MiB, load {load:.2f}", file=sys.stderr, flush=True)
    exact = _exact(log)
    secs = [r["seconds"] for r in runs]
    return {
        "case": case.name, "log": log, "rounds": rounds, "repeats": repeats,
        "seconds": secs, "median": statistics.median(secs),
        "maxrss_mib": max(r["maxrss_mib"] for r in runs),
        "workers_maxrss_mib": max(r.get("workers_maxrss_mib", 0.0) for r in runs),
        "max_diff_elo": _max_diff(runs[0]["ratings"], exact),
        "load1": [r["load1"] for r in runs],
        "warnings": sorted({r["stderr"] for r in runs if r["stderr"]}),
        "core": version,
        "blas_threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
        "when": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


# --------------------------------------------------------------------------- the table


def _fmt_s(x: float) -> str:
    return f"{x:.3f}" if x < 10 else f"{x:.1f}" if x < 1000 else f"{x:.0f}"


def table(data: dict[str, dict]) -> str:
    """Markdown tables (one per log) of the stored results."""
    lines: list[str] = []
    ours_ref = {"point": "ours.point", "bootstrap": "ours.battle",
                "prompt bootstrap": "ours.prompt", "sandwich": "ours.sandwich"}
    for log in LOGS:
        rows = [v for v in data.values() if v["log"] == log and v["case"] in CASES]
        if not rows:
            continue
        rows.sort(key=lambda v: (list(CASES).index(v["case"]), v.get("tag", "")))
        lines += [f"### {LOG_LABEL[log]} (`{log}.parquet`)", "",
                  "| case | kind | rounds run | median s (runs) | s at 1000 rounds | "
                  "ours faster by | peak MiB | max abs Δ vs exact MLE (Elo) | load (1 min) "
                  "| core |",
                  "|---|---|---:|---|---:|---:|---:|---:|---|---|"]
        for v in rows:
            case = CASES[v["case"]]
            boot = case.kind in ("bootstrap", "prompt bootstrap")
            extrap = boot and v["rounds"] not in (0, FULL_ROUNDS)
            at_full = v["median"]
            if extrap:
                base = data.get(f"{case.base}|{log}")
                fixed = min(base["median"], v["median"]) if base else 0.0
                at_full = fixed + (v["median"] - fixed) * FULL_ROUNDS / v["rounds"]
            ref_key = f"{ours_ref[case.kind]}|{log}"
            ratio = ""
            if ref_key in data and not case.name.startswith("ours.") and not v.get("tag"):
                ref = data[ref_key]
                ratio = f"{at_full / ref['median']:.1f}×"
            runs = ", ".join(_fmt_s(s) for s in v["seconds"])
            full_txt = (_fmt_s(at_full) + (" (extrapolated)" if extrap else "")) if boot else ""
            loads = "–".join(f"{x:.1f}" for x in (min(v["load1"]), max(v["load1"])))
            diff = v["max_diff_elo"]
            tag = f" [{v['tag']}]" if v.get("tag") else ""
            core = (v.get("core") or "?") if case.name.startswith("ours.") else "–"
            mem = f"{v['maxrss_mib']:.0f}"
            if v.get("workers_maxrss_mib", 0) > 1:
                mem += f" + workers ≤ {v['workers_maxrss_mib']:.0f} each"
            lines.append(
                f"| {case.label}{tag} | {case.kind} | {v['rounds'] or ''} | "
                f"{_fmt_s(v['median'])} ({runs}) | {full_txt} | {ratio} | "
                f"{mem} | {diff:.2g} | {loads} | {core} |"
            )
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=4, metavar=("CASE", "LOG", "ROUNDS", "SEED"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--cases", nargs="*", default=None,
                        help="case names or prefixes (e.g. ours, evalica.bootstrap)")
    parser.add_argument("--logs", nargs="*", default=list(LOGS))
    parser.add_argument("-r", "--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--tag", default="",
                        help="store results under CASE@TAG (e.g. a variant run with "
                             "OPENBLAS_NUM_THREADS=1 in the environment)")
    parser.add_argument("--table", action="store_true", help="print stored results only")
    parser.add_argument("--list", action="store_true", help="list the cases")
    args = parser.parse_args()
    if args.child:
        name, log, rounds, seed = args.child
        _child(name, log, int(rounds), int(seed))
        return
    if args.list:
        for c in CASES.values():
            print(f"{c.name:<24} {c.kind:<17} rounds {c.rounds}  {c.label}")
        return
    data = _load_store()
    if not args.table:
        missing = [log for log in args.logs if not (WORK / f"{log}.parquet").exists()]
        if missing:
            parser.error(f"missing logs {missing}: run python benchmarks/gen_logs.py first")
        chosen = [c for c in CASES.values() if args.cases is None or any(
            c.name == p or c.name.startswith(p + ".") for p in args.cases)]
        if not chosen:
            parser.error(f"no case matches {args.cases}; see --list")
        for log in args.logs:
            for case in chosen:
                rec = run_case(case, log, args.repeats, args.seed, args.timeout)
                rec["tag"] = args.tag
                key = f"{case.name}@{args.tag}" if args.tag else case.name
                data[f"{key}|{log}"] = rec
                _save_store(data)
    print(table(data))


if __name__ == "__main__":
    main()
