"""Benchmark (issue "position bias"): the fitted first-slot effect on simulations with known truth.

    python benchmarks/bench_position.py                 # 400 simulations per case
    python benchmarks/bench_position.py --sims 100      # quicker

A judge with a 100-Elo first-slot bias (``simulate_battles(first_slot=100)``) judges eight
models (true ratings 900 … 1110) on ``--prompts`` prompts, every pair once per prompt.

* **single order, balanced**: each (prompt, pair) judged once, the order random (each model
  first half the time); fitted with ``wa.rank(..., position=True)``;
* **both orders**: each (prompt, pair) judged in both orders (twice the judge calls), fitted
  without the position effect (the bias cancels).

Reported over ``--sims`` seeds: max |rating − truth| (after centring) and the mean interval
width of the ratings for both designs, and the coverage of the true 100-Elo bias by the
effect's 95% interval (bootstrap and sandwich), with a 95% Wilson interval for the coverage.
Prints markdown.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

import wizardarena as wa

TRUTH = {f"model-{k}": 900.0 + 30.0 * k for k in range(8)}
BIAS = 100.0


def _wilson(k: int, n: int) -> tuple[float, float]:
    z = 1.959963984540054
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return c - h, c + h


def _design(prompts: int, seed: int) -> pd.DataFrame:
    names = sorted(TRUTH)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    rows = [(f"q{q:04d}", a, b) for q in range(prompts) for a, b in pairs]
    return pd.DataFrame(rows, columns=["question_id", "model_a", "model_b"])


def _judge(frame: pd.DataFrame, gen: np.random.Generator) -> pd.DataFrame:
    """Verdicts of the biased judge for the battles as ordered in ``frame`` (ties 20% at par,
    expected score of model_a exactly Bradley-Terry with the bias, as simulate_battles)."""
    ra = frame["model_a"].map(TRUTH).to_numpy()
    rb = frame["model_b"].map(TRUTH).to_numpy()
    p = 1.0 / (1.0 + 10 ** ((rb - ra - BIAS) / 400.0))
    p_tie = 0.2 * 2.0 * np.minimum(p, 1.0 - p)
    u = gen.random(len(frame))
    out = np.where(u < p - p_tie / 2, "model_a", np.where(u < p + p_tie / 2, "tie", "model_b"))
    return frame.assign(winner=out)


def _err(board: wa.Leaderboard) -> tuple[float, float]:
    t = board.table
    truth = np.array([TRUTH[m] for m in t.index])
    truth = truth - truth.mean() + 1000.0
    return (float(np.max(np.abs(t["rating"].to_numpy() - truth))),
            float(np.mean(t["upper"] - t["lower"])))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sims", type=int, default=400)
    p.add_argument("--prompts", type=int, default=60)
    p.add_argument("--rounds", type=int, default=200)
    args = p.parse_args()
    t0 = time.perf_counter()
    res: dict[str, list[float]] = {k: [] for k in (
        "single_err", "single_width", "both_err", "both_width", "cover_boot", "cover_sw",
        "effect", "plain_single_err")}
    for s in range(args.sims):
        gen = np.random.default_rng(1000 + s)
        base = _design(args.prompts, s)
        swap = gen.random(len(base)) < 0.5
        single = base.copy()
        single.loc[swap, ["model_a", "model_b"]] = single.loc[swap, ["model_b", "model_a"]
                                                              ].to_numpy()
        single = _judge(single, gen)
        flipped = base.rename(columns={"model_a": "model_b", "model_b": "model_a"})
        both = _judge(pd.concat([base, flipped[base.columns]], ignore_index=True), gen)
        boot = wa.rank(single, position=True, rounds=args.rounds, rng=s)
        sw = wa.rank(single, position=True, ci="sandwich")
        plain_both = wa.rank(both, rounds=args.rounds, rng=s)
        plain_single = wa.rank(single, ci="none")
        e, w = _err(boot)
        res["single_err"].append(e)
        res["single_width"].append(w)
        e, w = _err(plain_both)
        res["both_err"].append(e)
        res["both_width"].append(w)
        res["plain_single_err"].append(_err(plain_single)[0])
        assert boot.position is not None and sw.position is not None
        res["cover_boot"].append(float(boot.position["lower"] <= BIAS <= boot.position["upper"]))
        res["cover_sw"].append(float(sw.position["lower"] <= BIAS <= sw.position["upper"]))
        res["effect"].append(float(boot.position["effect"]))
    n = args.sims
    battles = len(_design(args.prompts, 0))
    print(f"## Position bias: {n} simulations, 8 models, {args.prompts} prompts × 28 pairs "
          f"({battles} single-order battles), first-slot bias {BIAS:g} Elo "
          f"({time.perf_counter() - t0:.0f} s)\n")
    print("| design | fit | max abs error (Elo), mean ± sd | mean 95% CI width (Elo) |")
    print("|:---|:---|---:|---:|")

    def ms(key: str) -> str:
        v = np.asarray(res[key])
        return f"{v.mean():.1f} ± {v.std(ddof=1):.1f}"

    print(f"| single order, balanced | `position=True` | {ms('single_err')} | "
          f"{np.mean(res['single_width']):.1f} |")
    print(f"| both orders (2× judge calls) | plain | {ms('both_err')} | "
          f"{np.mean(res['both_width']):.1f} |")
    print(f"| single order, balanced | plain (bias ignored) | {ms('plain_single_err')} | |")
    within = np.mean(np.asarray(res["single_err"]) <= np.asarray(res["single_width"]))
    print(f"\nSingle-order corrected max error within its mean interval width in "
          f"{100 * within:.0f}% of simulations.\n")
    print("| interval for the effect | coverage of the true 100 Elo | 95% Wilson interval |")
    print("|:---|---:|---:|")
    for key, label in (("cover_boot", f"bootstrap ({args.rounds} rounds)"),
                       ("cover_sw", "sandwich")):
        k = int(np.sum(res[key]))
        lo, hi = _wilson(k, n)
        print(f"| {label} | {100 * k / n:.1f}% ({k}/{n}) | {100 * lo:.1f}–{100 * hi:.1f}% |")
    eff = np.asarray(res["effect"])
    print(f"\nFitted effect: {eff.mean():.1f} ± {eff.std(ddof=1):.1f} Elo (truth {BIAS:g}).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
