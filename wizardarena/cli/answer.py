"""``wizardarena answer``: generate a model's answers to a prompt set."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "answer",
        help="generate a model's answers to a prompt set through an OpenAI-compatible endpoint",
        description="Ask a model (vLLM, Ollama, OpenAI, ...) to answer every prompt; writes "
        "JSONL records {model, question_id, turns, answer}.",
    )
    p.add_argument("--prompts", required=True, help="prompt file (.jsonl/.json/.parquet/.csv)")
    p.add_argument("--model-url", required=True, help="API root, e.g. http://localhost:8000/v1")
    p.add_argument("--model", required=True, help="model name at that endpoint")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY",
                   help="environment variable holding the API key (default OPENAI_API_KEY)")
    p.add_argument("--out", default=None, help="output JSONL (default answers/<model>.jsonl)")
    p.add_argument("--store", default=None, help="SQLite store to resume an interrupted run")
    p.add_argument("--system", default=None, help="system prompt")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per HTTP attempt")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(_run=run)


def run(args: argparse.Namespace) -> int:
    from wizardarena.arena.generate import generate_answers
    from wizardarena.arena.store import atomic_write

    t0 = time.perf_counter()

    def progress(done: int, total: int, errors: int) -> None:
        if args.quiet:
            return
        rate = done / max(time.perf_counter() - t0, 1e-9)
        print(f"\ranswers {done}/{total}  {rate:.1f}/s  errors {errors}", end="",
              file=sys.stderr, flush=True)

    frame = generate_answers(
        args.prompts, base_url=args.model_url, model=args.model, api_key_env=args.api_key_env,
        system=args.system, temperature=args.temperature, max_tokens=args.max_tokens,
        concurrency=args.concurrency, timeout=args.timeout, store=args.store,
        progress=progress,
    )
    if not args.quiet:
        print(file=sys.stderr)
    safe = args.model.replace("/", "_")
    out = Path(args.out) if args.out else Path("answers") / f"{safe}.jsonl"

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            for rec in frame.to_dict("records"):
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")

    atomic_write(out, write)
    print(f"wrote {len(frame)} answers of {args.model} to {out}", file=sys.stderr)
    return 0
