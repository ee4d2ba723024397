"""``wizardarena battle``: judge pairwise battles between models' answers."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from wizardarena.cli._common import (
    add_prompt_file,
    add_quiet,
    add_ray_options,
    command,
    progress_option,
    ray_arguments,
)
from wizardarena.cli.answer import add_client_options


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "battle", run,
        help="judge pairwise battles between models' answers with an LLM judge",
        description="Judge every prompt pairwise (both orders by default) with a judge behind "
        "an OpenAI-compatible endpoint; judgments go to a resumable SQLite store and the "
        "battle log to Parquet.",
    )
    add_prompt_file(p)
    p.add_argument("--answers", required=True, nargs="+",
                   help="answer files or directories (Arena-Hard, AlpacaEval, MT-Bench, JSONL)")
    p.add_argument("--judge-url", required=True, nargs="+", metavar="URL",
                   help="API root, e.g. http://localhost:8000/v1; several URLs (servers of the "
                   "same judge model) share the load: each request goes to the one with the "
                   "fewest in flight")
    p.add_argument("--judge-model", required=True)
    p.add_argument("--template", default="wizardarena",
                   choices=["wizardarena", "arena-hard", "mt-bench"])
    p.add_argument("--api-key-env", default="OPENAI_API_KEY",
                   help="environment variable holding the API key (default OPENAI_API_KEY)")
    p.add_argument("--pairs", default="all", choices=["all", "baseline", "target", "adaptive"])
    p.add_argument("--baseline", default=None, help="for --pairs baseline")
    p.add_argument("--target", default=None, help="for --pairs target")
    p.add_argument("--budget", type=int, default=None, help="judgments for --pairs adaptive")
    p.add_argument("--one-order", action="store_true",
                   help="judge each comparison in one order only, half the judge calls; the "
                   "order is a seeded balanced one (see --fixed-order), and `wizardarena rank "
                   "--position` fits the judge's first-slot preference")
    p.add_argument("--fixed-order", action="store_true",
                   help="with --one-order: show every pair in its canonical order (the "
                   "baseline/target, or the alphabetically first model, first) instead of a "
                   "seeded balanced order")
    p.add_argument("--order-seed", type=int, default=0,
                   help="seed of the balanced order of --one-order (reruns need the same)")
    p.add_argument("--last-turn-only", action="store_true",
                   help="judge only the last turn of multi-turn prompts")
    p.add_argument("--store", required=True, help="SQLite judgment store (resumable)")
    p.add_argument("--out", default=None, help="write the battle log here (.parquet)")
    p.add_argument("--concurrency", type=int, default=32,
                   help="judge requests in flight (per Ray worker with --ray)")
    add_client_options(p, timeout=120.0)
    p.add_argument("--retry-failed", action="store_true",
                   help="re-request judgments stored as failed (unparseable verdicts and "
                        "requests the endpoint rejected, e.g. too long for its context)")
    p.add_argument("--skip-missing", action="store_true",
                   help="judge only prompts every model answered (default: error)")
    p.add_argument("--price-input", type=float, default=None,
                   help="USD per million prompt tokens (for the cost estimate)")
    p.add_argument("--price-output", type=float, default=None,
                   help="USD per million completion tokens (for the cost estimate)")
    add_quiet(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the adaptive sampler")
    add_ray_options(p, workers="judge actors, each with --concurrency requests in flight")


def _cost(args: argparse.Namespace, pt: int, ct: int) -> str:
    if args.price_input is None and args.price_output is None:
        return ""
    usd = pt * (args.price_input or 0.0) / 1e6 + ct * (args.price_output or 0.0) / 1e6
    return f"  ~${usd:,.2f}"


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from wizardarena.arena.answers import load_answers
    from wizardarena.arena.judges import Judge
    from wizardarena.arena.runner import run_arena
    from wizardarena.arena.store import JudgmentStore

    # everything is validated before the store file is created
    answers = pd.concat([load_answers(a) for a in args.answers], ignore_index=True)
    judge = Judge(args.judge_url[0] if len(args.judge_url) == 1 else args.judge_url,
                  args.judge_model, template=args.template,
                  api_key_env=args.api_key_env, timeout=args.timeout,
                  max_retries=args.max_retries, breaker_seconds=args.breaker_seconds,
                  max_response_bytes=args.max_response_bytes)
    priced = args.price_input is not None or args.price_output is not None
    progress = progress_option(args, extra=(
        lambda p: {"cost": _cost(args, p.prompt_tokens or 0, p.completion_tokens or 0).strip()}
    ) if priced else None)
    result = run_arena(
        answers, args.prompts, judge, store=args.store, pairs=args.pairs,
        baseline=args.baseline, target=args.target, budget=args.budget,
        both_orders=not args.one_order,
        order="fixed" if args.fixed_order else "balanced", order_seed=args.order_seed,
        all_turns=not args.last_turn_only,
        concurrency=args.concurrency, retry_failed=args.retry_failed,
        missing="skip" if args.skip_missing else "raise", progress=progress, rng=args.seed,
        **ray_arguments(args),
    )
    if args.out:
        with JudgmentStore(args.store) as store:
            n = store.export_parquet(args.out, judge=judge.model,
                                     template_hash=judge.template.hash)
        print(f"wrote {n} battles to {args.out}", file=sys.stderr)
    r = result
    cost = _cost(args, r.prompt_tokens, r.completion_tokens)
    print(f"judge {r.judge} ({r.template}): {r.n_scheduled} judgments scheduled, "
          f"{r.n_skipped} already stored, {r.n_ok} judged now, {r.n_failed} failed now "
          f"({r.n_rejected} rejected by the endpoint), {r.n_errors} request errors")
    print(f"requests {r.requests} (retries {r.retries}), tokens {r.prompt_tokens:,} in + "
          f"{r.completion_tokens:,} out{cost}, {r.elapsed:.1f} s")
    print(f"battle log: {len(r.battles)} battles, {len(r.failed)} failed judgments in the "
          f"store; first-slot win rate {r.first_slot_win_rate:.3f}, position consistency "
          f"{r.position_consistency:.3f}")
    report_failures(r)
    return 0 if r.n_errors == 0 else 1


def report_failures(r: Any) -> None:
    """Print the stored failures by reason and the request errors of this run (stderr)."""
    summary = r.failure_summary()
    if len(summary):
        print(f"failed judgments in the store by reason ({len(r.failed)}; a rerun skips "
              f"them, --retry-failed asks again):", file=sys.stderr)
        for reason, row in summary.iterrows():
            print(f"  {reason}: {row['count']} — first: {'; '.join(row['first_keys'])} — "
                  f"{str(row['message'])[:200]}", file=sys.stderr)
    if r.n_errors:
        print(f"{r.n_errors} request errors (not stored; a rerun asks again); first: "
              f"{r.errors[0]}", file=sys.stderr)
