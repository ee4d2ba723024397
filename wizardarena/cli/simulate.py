"""``wizardarena simulate``: write a synthetic battle log with known true ratings."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from wizardarena.cli._common import command, int_range, keywords


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "simulate", run,
        help="write a synthetic battle log drawn from known ratings (for tests and trials)",
        description="Draw true ratings (normal around 1000), then battles whose outcomes "
        "follow Bradley-Terry exactly, with ties and optional per-prompt correlation; write "
        "the log (and the truth) for testing a pipeline.",
    )
    p.add_argument("--models", type=int_range(2), default=10, help="number of models")
    p.add_argument("--battles", type=int_range(1), default=10_000, help="number of battles")
    p.add_argument("--spread", type=float, default=100.0,
                   help="standard deviation of the true ratings (Elo points)")
    p.add_argument("--tie-rate", type=float, default=0.2, help="share of battles tied")
    p.add_argument("--prompts", type=int_range(1), default=None,
                   help="number of prompts (a question_id column; default: none)")
    p.add_argument("--prompt-effect", type=float, default=0.0,
                   help="correlation of outcomes within a prompt (0 = independent)")
    p.add_argument("--seed", type=int, default=0, help="seed of the ratings and battles")
    p.add_argument("--out", required=True, metavar="FILE",
                   help="battle log file (.parquet, .jsonl, .csv)")
    p.add_argument("--truth", default=None, metavar="FILE",
                   help="also write the true ratings as JSON here")
    keywords(p, rng="seed", tie_rate="tie_rate", prompt_effect="prompt_effect")


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
