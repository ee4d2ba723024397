"""Benchmark: the error rates of the CI gate (`wizardarena gate`), on simulations with known truth.

    python benchmarks/bench_gate.py                 # the full run (about 25 min on 2 cores)
    python benchmarks/bench_gate.py --quick         # a smoke run (a few seconds)
    python benchmarks/bench_gate.py --table         # print the stored results again

Each simulation draws a battle log with :func:`wizardarena.testing.simulate_log` (6 models,
4,000 battles on 100 prompts, per-prompt correlation ρ = 0.5, 20% ties between equal models,
an unbalanced pair design drawn afresh for every log), in which ``ours`` is truly
``baseline + Δ`` Elo points. It then runs what the gate runs (``wa.rank`` with seed 0, then
``check_not_worse(ours, baseline, margin=10, level=0.95)`` and ``check_better(ours,
baseline, level=0.95)``) under three interval settings, all on the same log:

* ``bootstrap/prompt`` — the gate's default for logs with prompt ids (1,000 rounds);
* ``sandwich/prompt`` — the closed-form cluster-robust sandwich;
* ``bootstrap/battle`` — resampling battles (LMSYS), which ignores the per-prompt correlation.

Measured: how often ``--not-worse-than`` fails a model that truly is not worse (Δ = −margin,
the worst case, and Δ = 0), how often ``--better-than`` passes a model that truly is not better
(Δ = 0), and both checks' power as the true gap grows. Rates come with exact (Clopper-Pearson)
95% binomial intervals. The first simulations are also run through the command line itself
(``wizardarena gate`` on a Parquet file) to check that the decisions are the CLI's.

Writes ``benchmarks/_work/gate_results.json`` and the plot ``docs/img/gate_error_rates.png``
(needs the ``plot`` extra) and prints markdown tables. Simulations are seeded: a rerun gives
the same counts.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import beta

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "benchmarks" / "_work"
PLOT = ROOT / "docs" / "img" / "gate_error_rates.png"
MARGIN, LEVEL = 10.0, 0.95
OTHERS = {"ref-1": 1150.0, "ref-2": 1060.0, "ref-3": 940.0, "ref-4": 850.0}
BASELINE = 1000.0
CONFIGS = {"bootstrap/prompt": ("bootstrap", "prompt"), "sandwich/prompt": ("sandwich", "prompt"),
           "bootstrap/battle": ("bootstrap", "battle")}
CURVE = (-80.0, -70.0, -60.0, -50.0, -40.0, -30.0, -20.0, 10.0, 20.0, 30.0, 40.0, 50.0, 60.0,
         70.0)


def truth(delta: float) -> dict[str, float]:
    return {**OTHERS, "baseline": BASELINE, "ours": BASELINE + delta}


def seed(delta: float, i: int) -> int:
    key = round(delta * 10) + 100_000
    return int(np.random.SeedSequence(2026, spawn_key=(key, i)).generate_state(1)[0])


def one(delta: float, i: int, configs: list[str]) -> dict[str, Any]:
    import wizardarena as wa
    from wizardarena.testing import check_better, check_not_worse, simulate_log

    log = simulate_log(truth(delta), 4000, prompts=100, prompt_effect=0.5, tie_rate=0.2,
                       rng=seed(delta, i))
    out: dict[str, Any] = {}
    for name in configs:
        ci, unit = CONFIGS[name]
        board = wa.rank(log.battles, ci=ci, unit=unit, rng=0)
        nw = check_not_worse(board, "ours", "baseline", margin=MARGIN, level=LEVEL)
        bt = check_better(board, "ours", "baseline", level=LEVEL)
        out[name] = {"nw_fail": not nw.passed, "bt_pass": bt.passed,
                     "detectable": nw.detectable, "p_worse": nw.probability}
    return out


def cli_agrees(delta: float, i: int) -> bool:
    """The gate's command line gives the same two decisions as ``one`` (default settings)."""
    from wizardarena.cli import main
    from wizardarena.testing import simulate_log

    log = simulate_log(truth(delta), 4000, prompts=100, prompt_effect=0.5, tie_rate=0.2,
                       rng=seed(delta, i))
    ref = one(delta, i, ["bootstrap/prompt"])["bootstrap/prompt"]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "battles.parquet")
        log.battles.to_parquet(path)
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            nw = main(["gate", path, "--model", "ours", "--not-worse-than", "baseline",
                       "--margin", str(MARGIN), "--level", str(LEVEL)])
            bt = main(["gate", path, "--model", "ours", "--better-than", "baseline",
                       "--level", str(LEVEL)])
    return (nw == 1) == ref["nw_fail"] and (bt == 0) == ref["bt_pass"]


def rate(k: int, n: int) -> dict[str, float]:
    lo = float(beta.ppf(0.025, k, n - k + 1)) if k > 0 else 0.0
    hi = float(beta.ppf(0.975, k + 1, n - k)) if k < n else 1.0
    return {"k": k, "n": n, "rate": k / n, "lo": lo, "hi": hi}


def machine() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(Exception):
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                cpu = line.split(":", 1)[1].strip()
    load = subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
    return {"cpu": cpu, "uptime": load, "cores": str(os.cpu_count()),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def run(n_boundary: int, n_boundary_other: int, n_curve: int, n_cli: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    start = machine()
    plan: list[tuple[float, int, list[str]]] = []
    for delta in (-MARGIN, 0.0):
        plan += [(delta, i, list(CONFIGS) if i < n_boundary_other else ["bootstrap/prompt"])
                 for i in range(n_boundary)]
    for delta in CURVE:
        plan += [(delta, i, ["bootstrap/prompt", "sandwich/prompt"]) for i in range(n_curve)]
    hits: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for k, (delta, i, configs) in enumerate(plan):
        for name, res in one(delta, i, configs).items():
            hits.setdefault((name, delta), []).append(res)
        if k % 200 == 0:
            print(f"{k}/{len(plan)} simulations, {time.perf_counter() - t0:.0f} s",
                  file=sys.stderr)
    agree = sum(cli_agrees(-MARGIN, i) for i in range(n_cli // 2))
    agree += sum(cli_agrees(0.0, i) for i in range(n_cli - n_cli // 2))
    rows = []
    for (name, delta), res in sorted(hits.items(), key=lambda x: (x[0][0], x[0][1])):
        det = [r["detectable"] for r in res if r["detectable"] is not None]
        rows.append({"config": name, "delta": delta,
                     "nw_fail": rate(sum(r["nw_fail"] for r in res), len(res)),
                     "bt_pass": rate(sum(r["bt_pass"] for r in res), len(res)),
                     "detectable_median": float(np.median(det)) if det else None})
    return {"start": start, "end": machine(), "seconds": time.perf_counter() - t0,
            "margin": MARGIN, "level": LEVEL, "n_battles": 4000, "prompts": 100, "rho": 0.5,
            "tie_rate": 0.2, "models": truth(0.0), "cli_checked": n_cli, "cli_agree": agree,
            "rows": rows}


def fmt(r: dict[str, float]) -> str:
    return f"{r['rate']:.3f} [{r['lo']:.3f}, {r['hi']:.3f}] ({r['k']}/{r['n']})"


def table(res: dict[str, Any]) -> str:
    rows = res["rows"]
    out = ["| Δ = ours − baseline (Elo) | setting | `--not-worse-than` fails (margin 10) "
           "| `--better-than` passes | median quoted detectable regression |",
           "|---:|:---|:---|:---|---:|"]
    for r in sorted(rows, key=lambda r: (r["delta"], list(CONFIGS).index(r["config"]))):
        det = "" if r["detectable_median"] is None else f"{r['detectable_median']:.1f}"
        out.append(f"| {r['delta']:+.0f} | {r['config']} | {fmt(r['nw_fail'])} | "
                   f"{fmt(r['bt_pass'])} | {det} |")
    return "\n".join(out)


def plot(res: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    styles = {"bootstrap/prompt": ("C0", "o"), "sandwich/prompt": ("C1", "s"),
              "bootstrap/battle": ("C3", "^")}
    for ax, key, title in ((axes[0], "nw_fail", "--not-worse-than baseline --margin 10 fails"),
                           (axes[1], "bt_pass", "--better-than baseline passes")):
        for name, (color, marker) in styles.items():
            rs = sorted((r for r in res["rows"] if r["config"] == name), key=lambda r: r["delta"])
            if not rs:
                continue
            x = np.array([r["delta"] for r in rs])
            y = np.array([r[key]["rate"] for r in rs])
            err = np.array([[r[key]["rate"] - r[key]["lo"] for r in rs],
                            [r[key]["hi"] - r[key]["rate"] for r in rs]])
            ax.errorbar(x, y, yerr=err, color=color, marker=marker, ms=4, capsize=2,
                        lw=1.2, label=name, ls="-" if len(rs) > 2 else "none")
        ax.axhline(1 - LEVEL, color="grey", ls=":", lw=1)
        ax.axhline(0.8, color="grey", ls="--", lw=0.8)
        ax.axvline(-MARGIN if key == "nw_fail" else 0.0, color="grey", lw=0.8)
        ax.set_xlabel("true Δ = ours − baseline (Elo)")
        ax.set_title(title, fontsize=10)
        ax.set_ylim(-0.02, 1.02)
    axes[0].set_ylabel("share of simulated logs")
    axes[1].legend(fontsize=8, loc="upper left")
    fig.suptitle(f"wizardarena gate at level {LEVEL}: 6 models, {res['n_battles']:,} battles, "
                 f"{res['prompts']} prompts, ρ = {res['rho']}; dotted: 1 − level, dashed: 0.8",
                 fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--boundary", type=int, default=2000,
                    help="simulations at Δ = −margin and Δ = 0 (default setting)")
    ap.add_argument("--boundary-other", type=int, default=1000,
                    help="of those, how many also run the other two settings")
    ap.add_argument("--curve", type=int, default=400, help="simulations per power-curve Δ")
    ap.add_argument("--cli", type=int, default=20, help="simulations also run through the CLI")
    ap.add_argument("--quick", action="store_true", help="a smoke run")
    ap.add_argument("--table", action="store_true", help="print the stored results")
    ap.add_argument("--out", default=str(WORK / "gate_results.json"))
    ap.add_argument("--plot", default=str(PLOT))
    a = ap.parse_args()
    if a.table:
        res = json.loads(Path(a.out).read_text())
    else:
        if a.quick:
            a.boundary, a.boundary_other, a.curve, a.cli = 20, 10, 5, 2
        res = run(a.boundary, a.boundary_other, a.curve, a.cli)
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        Path(a.out).write_text(json.dumps(res, indent=1))
        with contextlib.suppress(ImportError):
            plot(res, Path(a.plot))
    print(f"machine: {res['start']['cpu']}, {res['start']['cores']} cores; {res['start']['date']}"
          f"; load at start: {res['start']['uptime']}; at end: {res['end']['uptime']}; "
          f"{res['seconds']:.0f} s")
    print(f"CLI decisions identical on {res['cli_agree']} of {res['cli_checked']} logs\n")
    print(table(res))


if __name__ == "__main__":
    main()
