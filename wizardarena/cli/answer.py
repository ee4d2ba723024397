"""``wizardarena answer``: generate a model's answers to a prompt set."""

from __future__ import annotations

import argparse
import sys

from wizardarena.cli._common import add_prompt_file, add_quiet, command, progress_option
from wizardarena.endpoints import DEFAULT_MAX_RESPONSE_BYTES


def add_client_options(p: argparse.ArgumentParser, *, timeout: float) -> None:
    """``--timeout``, ``--max-retries``, ``--breaker-seconds`` and ``--max-response-bytes``
    (as the Python options)."""
    p.add_argument("--timeout", type=float, default=timeout,
                   help=f"seconds per HTTP attempt (default {timeout:g})")
    p.add_argument("--max-retries", type=int, default=6,
                   help="retries of a transient failure: 429, 5xx, timeouts ... (default 6)")
    p.add_argument("--breaker-seconds", type=float, default=10.0,
                   help="stop when no connection to the endpoint could be made for this many "
                        "seconds (default 10; 0 never stops)")
    p.add_argument("--max-response-bytes", type=int, default=DEFAULT_MAX_RESPONSE_BYTES,
                   help="cap on one response body in bytes; a longer one is cut and retried "
                        "(default 16777216, 16 MiB)")


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "answer", run,
        help="generate a model's answers to a prompt set through an OpenAI-compatible endpoint",
        description="Ask a model (vLLM, Ollama, OpenAI, ...) to answer every prompt. Each "
        "answer is appended to the output JSONL ({model, question_id, turns, answer}) the "
        "moment it arrives; a rerun asks only for the prompts that have none yet.",
    )
    add_prompt_file(p)
    p.add_argument("--model-url", required=True, help="API root, e.g. http://localhost:8000/v1")
    p.add_argument("--model", required=True, help="model name at that endpoint")
    p.add_argument("--api-key-env", default="OPENAI_API_KEY",
                   help="environment variable holding the API key (default OPENAI_API_KEY)")
    p.add_argument("--out", default=None,
                   help="output JSONL, appended as answers arrive (default answers/<model>.jsonl)")
    p.add_argument("--store", default=None,
                   help="also keep answers in this SQLite store (e.g. the battle store)")
    p.add_argument("--system", default=None, help="system prompt")
    p.add_argument("--temperature", type=float, default=0.0)
    p.add_argument("--max-tokens", type=int, default=None)
    p.add_argument("--concurrency", type=int, default=16)
    add_client_options(p, timeout=300.0)
    add_quiet(p)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from wizardarena.arena.generate import generate_answers

    safe = args.model.replace("/", "_")
    out = Path(args.out) if args.out else Path("answers") / f"{safe}.jsonl"
    frame = generate_answers(
        args.prompts, base_url=args.model_url, model=args.model,
        api_key_env=args.api_key_env, system=args.system, temperature=args.temperature,
        max_tokens=args.max_tokens, concurrency=args.concurrency, timeout=args.timeout,
        max_retries=args.max_retries, breaker_seconds=args.breaker_seconds,
        max_response_bytes=args.max_response_bytes,
        store=args.store, out=out, progress=progress_option(args),
    )
    print(f"{len(frame)} answers of {args.model} in {out}", file=sys.stderr)
    return 0
