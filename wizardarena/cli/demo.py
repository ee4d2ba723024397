"""``wizardarena demo``: rank a built-in synthetic battle log next to its true ratings."""

from __future__ import annotations

import argparse

import numpy as np

DEMO_RATINGS = {
    "wizard-70b": 1180.0,
    "llama-3-70b": 1150.0,
    "mixtral-8x7b": 1114.0,
    "qwen-14b": 1060.0,
    "llama-2-13b": 1010.0,
    "vicuna-7b": 960.0,
    "alpaca-7b": 900.0,
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("demo", help="run the built-in demo (no network needed)")
    p.add_argument("--battles", type=int, default=20_000, help="battles to simulate")
    p.add_argument("--rounds", type=int, default=1000, help="bootstrap rounds")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(_run=run)


def run(args: argparse.Namespace) -> int:
    from scipy.stats import spearmanr

    from wizardarena.api import rank
    from wizardarena.sim.battles import simulate_battles

    log = simulate_battles(DEMO_RATINGS, args.battles, tie_rate=0.2, prompts=500,
                           prompt_effect=0.5, rng=args.seed)
    board = rank(log, rounds=args.rounds, unit="prompt",
                 anchor={"mixtral-8x7b": DEMO_RATINGS["mixtral-8x7b"]}, rng=args.seed)
    t = board._display_frame()[["rating", "lower", "upper", "rank", "n_battles", "win_rate"]]
    t.insert(0, "true", [DEMO_RATINGS[m] for m in t.index])
    rho = spearmanr(t["true"], t["rating"]).statistic
    inside = np.mean((t["lower"] <= t["true"]) & (t["true"] <= t["upper"]))
    print(f"wizardarena demo: {board.info.n_battles} simulated battles on 500 prompts, "
          f"{board.info.interval_label}, anchored at mixtral-8x7b = 1114\n")
    print(t.to_string())
    print(f"\nSpearman(true, fitted) = {rho:.3f}; true rating inside the interval for "
          f"{inside:.0%} of models")
    return 0
