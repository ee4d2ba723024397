"""``wizardarena simulate``: write a synthetic battle log with known true ratings."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "simulate",
        help="write a synthetic battle log drawn from known ratings (for tests and trials)",
    )
    p.add_argument("--models", type=int, default=10, help="number of models (default 10)")
    p.add_argument("--battles", type=int, default=10_000, help="number of battles")
    p.add_argument("--spread", type=float, default=100.0,
                   help="standard deviation of the true ratings (Elo points)")
    p.add_argument("--tie-rate", type=float, default=0.2)
    p.add_argument("--prompts", type=int, default=None, help="number of prompts (question_id)")
    p.add_argument("--prompt-effect", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="battle log file (.parquet, .jsonl, .csv)")
    p.add_argument("--truth", default=None, help="also write the true ratings as JSON here")
    p.set_defaults(_run=run)


def run(args: argparse.Namespace) -> int:
    from wizardarena.battles import read_battles
    from wizardarena.sim.battles import simulate_battles

    gen = np.random.default_rng(args.seed)
    truth = {f"model-{k:02d}": float(1000 + args.spread * z)
             for k, z in enumerate(gen.standard_normal(args.models))}
    df = simulate_battles(truth, args.battles, tie_rate=args.tie_rate, prompts=args.prompts,
                          prompt_effect=args.prompt_effect, rng=gen)
    log = read_battles(df)
    suffix = args.out.lower()
    if suffix.endswith(".parquet"):
        log.to_parquet(args.out)
    elif suffix.endswith(".jsonl"):
        log.to_jsonl(args.out)
    elif suffix.endswith(".csv"):
        log.to_csv(args.out)
    else:
        print("wizardarena simulate: error: --out must end in .parquet, .jsonl or .csv",
              file=sys.stderr)
        return 2
    if args.truth:
        from pathlib import Path

        Path(args.truth).write_text(json.dumps(truth, indent=2), encoding="utf-8")
    print(f"wrote {len(df)} battles between {args.models} models to {args.out}", file=sys.stderr)
    return 0
