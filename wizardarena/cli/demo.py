"""``wizardarena demo``: a real end-to-end arena run against the simulated arena (no network).

Starts the simulated OpenAI-compatible server on loopback, asks each simulated model to
answer a small built-in prompt set, judges every pair in both orders with the simulated
judge (WizardArena 1-10 template, with a position bias), stores the judgments in a temporary
SQLite store, fits Bradley-Terry with bootstrap intervals, and prints the leaderboard next to
the simulation's true skills with their Spearman correlation.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from wizardarena.cli._common import add_quiet, command, finite, int_range, keywords, progress_option

DEMO_RATINGS = {
    "wizard-70b": 1180.0,
    "llama-3-70b": 1150.0,
    "mixtral-8x7b": 1114.0,
    "qwen-14b": 1060.0,
    "llama-2-13b": 1010.0,
    "vicuna-7b": 960.0,
    "alpaca-7b": 900.0,
}

_TOPICS = ("sorting algorithms", "the French revolution", "photosynthesis", "tax brackets",
           "recursion in Python", "black holes", "writing a cover letter", "SQL joins",
           "the water cycle", "compound interest", "unit testing", "Roman architecture",
           "vaccines", "climate models", "chess openings", "git rebase")
_ASKS = ("Explain {} to a beginner.", "What are common mistakes with {}?",
         "Write a short guide about {}.", "Compare two approaches to {}.",
         "Give three examples related to {}.")


def demo_prompts(n: int) -> list[dict[str, str]]:
    """``n`` built-in prompts (``question_id``, ``prompt``, ``category``)."""
    out = []
    for i in range(n):
        topic = _TOPICS[i % len(_TOPICS)]
        ask = _ASKS[(i // len(_TOPICS)) % len(_ASKS)]
        out.append({"question_id": f"demo-{i:03d}", "prompt": ask.format(topic),
                    "category": "coding" if i % 4 == 0 else "general"})
    return out


#: judgments per prompt: every pair of the demo's models, in both orders
PER_PROMPT = len(DEMO_RATINGS) * (len(DEMO_RATINGS) - 1)
#: the number of built-in prompts
MAX_PROMPTS = 80


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "demo", run,
        help="run the built-in end-to-end demo against a simulated arena (no network needed)",
        description="Start the simulated OpenAI-compatible arena on loopback, let 7 simulated "
        "models answer built-in prompts, judge every pair in both orders with the simulated "
        "judge (WizardArena 1-10 template, position bias), fit Bradley-Terry with prompt-level "
        "bootstrap intervals, and print the board next to the true skills.",
    )
    p.add_argument("--prompts", type=int_range(2, MAX_PROMPTS), default=40,
                   help=f"built-in prompts to use, 2 to {MAX_PROMPTS}")
    p.add_argument("--battles", type=int_range(2 * PER_PROMPT, MAX_PROMPTS * PER_PROMPT),
                   default=None, metavar="N",
                   help=f"approximate number of judgments instead of --prompts ({PER_PROMPT} "
                   f"per prompt, {2 * PER_PROMPT} to {MAX_PROMPTS * PER_PROMPT})")
    p.add_argument("--rounds", type=int_range(1), default=1000, help="bootstrap rounds")
    p.add_argument("--position-bias", type=finite, default=60.0,
                   help="Elo points the simulated judge gives the first slot")
    p.add_argument("--seed", type=int, default=0, help="seed of the arena and the bootstrap")
    add_quiet(p)
    keywords(p, rng="seed")


def run(args: argparse.Namespace) -> int:
    from scipy.stats import spearmanr

    from wizardarena.api import rank
    from wizardarena.arena.judges import Judge
    from wizardarena.arena.runner import run_arena
    from wizardarena.endpoints import Client
    from wizardarena.sim import SimArena, SimJudge, SimModel

    n_models = len(DEMO_RATINGS)
    n_prompts = args.prompts if args.battles is None else -(-args.battles // PER_PROMPT)
    prompts = demo_prompts(n_prompts)
    models = {name: SimModel(skill, verbosity=0.5 * (i % 3) - 0.5, markdown=0.3 * (i % 4))
              for i, (name, skill) in enumerate(DEMO_RATINGS.items())}
    t0 = time.perf_counter()
    with SimArena(models, judge=SimJudge(position_bias=args.position_bias), rng=args.seed) \
            as sim, tempfile.TemporaryDirectory(prefix="wizardarena-demo-") as tmp:
        with Client(sim.base_url, api_key_env=None, concurrency=32) as client:
            answers = {}
            for name in models:
                rs = client.chat_many([[{"role": "user", "content": p["prompt"]}]
                                       for p in prompts], model=name)
                answers[name] = {p["question_id"]: r.text for p, r in zip(prompts, rs)}
        judge = Judge(sim.base_url, sim.judge_model, template="wizardarena", api_key_env=None)
        store = Path(tmp) / "arena.sqlite"
        result = run_arena(answers, prompts, judge, store=store, concurrency=32,
                           progress=progress_option(args))
        battles = result.battles
    t_arena = time.perf_counter() - t0
    # mean-centred on the true ratings' mean, so both columns share one scale
    centre = sum(DEMO_RATINGS.values()) / len(DEMO_RATINGS)
    board = rank(battles, rounds=args.rounds, unit="prompt", init=centre, rng=args.seed,
                 progress=progress_option(args))
    t = board._display_frame()[["rating", "lower", "upper", "rank"]].copy()
    t.insert(0, "true", [DEMO_RATINGS[m] for m in t.index])
    rho = spearmanr(t["true"], t["rating"]).statistic
    inside = np.mean((t["lower"] <= t["true"]) & (t["true"] <= t["upper"]))
    print(f"wizardarena demo: {n_models} simulated models answered {n_prompts} prompts; the "
          f"simulated judge (WizardArena 1-10 template, position bias "
          f"{args.position_bias:g} Elo) judged every pair in both orders over loopback HTTP.")
    print(f"{result.n_ok} battles, {result.n_failed} unparseable verdicts, "
          f"{result.requests} requests in {t_arena:.1f} s; first-slot win rate "
          f"{result.first_slot_win_rate:.3f}, position consistency "
          f"{result.position_consistency:.3f}")
    print(f"{board.info.interval_label}; ratings centred on the true mean ({centre:.1f})\n")
    print(t.to_string(float_format=lambda x: f"{x:.1f}"))
    print(f"\nSpearman(true, fitted) = {rho:.3f}; true rating inside the interval for "
          f"{inside:.0%} of models", file=sys.stdout)
    return 0
