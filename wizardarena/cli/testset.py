"""``wizardarena testset``: build a diverse + hard test set from a prompt file.

Example::

    wizardarena testset prompts.jsonl --clusters 500 --per-cluster 2 --hard 1000 \\
        --difficulty llm --base-url http://localhost:8000/v1 --judge-model judge \\
        --out testset.parquet
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import numpy as np

from wizardarena.cli._common import (
    add_quiet,
    add_ray_options,
    command,
    keywords,
    progress_option,
    ray_arguments,
)
from wizardarena.exceptions import ValidationError

_FORMATS = {".parquet": "parquet", ".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv"}


def register(subparsers: Any) -> None:
    """Add the ``testset`` subcommand."""
    p = command(subparsers, "testset", run,
        help="build a diverse + hard test set from prompts",
        description=(
            "Clean, deduplicate, embed and cluster prompts; pick a diverse subset "
            "(per cluster) and a hard subset (by difficulty score); write their union."
        ),
    )
    p.add_argument("prompts", help="prompt file (.jsonl, .json, .csv, .parquet), or a "
                   "directory or quoted glob of them (read in sorted path order)")
    p.add_argument("--out", required=True, help="output file (.parquet, .jsonl or .csv)")
    p.add_argument(
        "--which", choices=["mix", "diverse", "hard", "all"], default="mix",
        help="rows to write (default: mix)",
    )
    p.add_argument("--clusters", type=int, default=500, help="k-means clusters (default 500)")
    p.add_argument(
        "--per-cluster", type=int, default=2,
        help="diverse prompts per cluster with --select kmeans (the other rules pick "
             "clusters x per-cluster prompts unless --diverse is given)",
    )
    p.add_argument(
        "--select", choices=["facility", "kcenter", "central", "kmeans"], default="facility",
        help="diverse selection rule (default facility: facility location, the best coverage "
             "in our benchmarks; kmeans = the WizardArena recipe)",
    )
    p.add_argument(
        "--diverse", type=int, default=None,
        help="size of the diverse subset for facility/kcenter/central "
             "(default clusters x per-cluster)",
    )
    p.add_argument("--hard", type=int, default=0, help="size of the hard subset (default 0)")
    p.add_argument(
        "--candidates-per-cluster", type=int, default=20,
        help="prompts per cluster scored for difficulty (0 = all)",
    )
    p.add_argument(
        "--difficulty", choices=["llm", "criteria", "battles"], default=None,
        help="difficulty scorer (llm/criteria need --base-url; battles needs --battles)",
    )
    p.add_argument("--battles", metavar="FILE", help="battle log for --difficulty battles")
    p.add_argument("--base-url", help="OpenAI-compatible API root, e.g. http://host:8000/v1")
    p.add_argument("--judge-model", help="model that rates difficulty (llm, criteria)")
    p.add_argument(
        "--api-key-env", default="OPENAI_API_KEY",
        help="environment variable holding the API key",
    )
    p.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    p.add_argument(
        "--embedder", default="tfidf",
        help="tfidf, st:<sentence-transformers model or path>, or api:<model> (an embeddings "
        "endpoint at --base-url)",
    )
    p.add_argument("--embeddings", help="precomputed embeddings (.npy, rows aligned with input)")
    p.add_argument("--text", choices=["first_user", "all_user"], default="first_user",
                   help="text used for embeddings and dedup: the first user turn, or all")
    p.add_argument("--id-column",
                   help="column with prompt ids (default: prompt_id, question_id, uid or id)")
    p.add_argument("--text-column", help="column with the prompt (default: recognised)")
    p.add_argument(
        "--pick", choices=["random", "centroid"], default="random",
        help="how --select kmeans picks within a cluster",
    )
    p.add_argument(
        "--min-words", type=int, default=2,
        help="drop prompts with fewer words (a Chinese/Japanese/Thai character is a word)",
    )
    p.add_argument("--min-chars", type=int, default=0, help="also a minimum length (0 = off)")
    p.add_argument(
        "--prefix-words", type=int, default=40, help="shared-prefix dedup length (0 = off)"
    )
    p.add_argument(
        "--prefix-share", type=float, default=0.5,
        help="the shared prefix must be at least this share of both prompts (default 0.5)",
    )
    p.add_argument(
        "--minhash-threshold", type=float, default=0.7, help="MinHash Jaccard (0 = off)"
    )
    p.add_argument(
        "--cosine-threshold", type=_cosine, default="auto",
        help="embedding near-dup cosine: auto (calibrated to the embedder, default), a number, "
             "or 0 = off",
    )
    p.add_argument(
        "--max-chars", type=int, default=None,
        help="cut every text to this many characters before embedding (any embedder)",
    )
    p.add_argument(
        "--max-tokens", type=int, default=None,
        help="cut every text to this many words before embedding (any embedder)",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.add_argument("--dropped", help="write the cleaning report (CSV) here")
    p.add_argument("--decontaminate", metavar="TRAIN", help="training prompts to decontaminate")
    p.add_argument(
        "--decontaminated-out", metavar="PATH",
        help="where to write the decontaminated training prompts (with --decontaminate)",
    )
    p.add_argument(
        "--decontam-threshold", type=_cosine, default="auto",
        help="cosine for --decontaminate: auto (calibrated, default), a number, or 0 = off",
    )
    add_quiet(p)
    add_ray_options(p, workers="Ray Data tasks (and embedding actors) at a time")
    keywords(p, n_clusters="clusters", rng="seed", threshold="decontam_threshold")


def _format(path: str) -> str:
    fmt = _FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise ValidationError(
            f"--out {path!r}: unknown suffix; expected one of {', '.join(sorted(_FORMATS))}"
        )
    return fmt


def _client(args: argparse.Namespace, what: str) -> Any:
    if not args.base_url:
        raise ValidationError(f"{what} needs --base-url (an OpenAI-compatible API root)")
    from wizardarena.endpoints import Client

    return Client(
        args.base_url, model=args.judge_model, api_key_env=args.api_key_env,
        concurrency=args.concurrency,
    )


def _cosine(value: str) -> float | str | None:
    """argparse ``type=`` of the cosine thresholds: ``auto``, a number in [-1, 1], or 0
    (off, None); a bad value is a usage error naming its option, before any work."""
    if value == "auto":
        return "auto"
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected auto, a number in [-1, 1] or 0 (off); got {value!r}") from None
    if not -1.0 <= x <= 1.0:  # also refuses nan
        raise argparse.ArgumentTypeError(
            f"expected auto, a number in [-1, 1] or 0 (off); got {value!r}")
    return x or None


_cosine.__name__ = "cosine"


def run(args: argparse.Namespace) -> int:
    """Build the test set and write it; returns the exit code."""
    from wizardarena._io import atomic_write
    from wizardarena.testset.api_embedder import APIEmbedder
    from wizardarena.testset.difficulty import BattleDifficulty, CriteriaDifficulty, LLMDifficulty
    from wizardarena.testset.testset import build_testset

    fmt = _format(args.out)
    if args.decontaminate and not args.decontaminated_out:
        raise ValidationError("--decontaminate needs --decontaminated-out")
    if args.decontaminated_out:
        _format(args.decontaminated_out)
    progress = progress_option(args)
    closers: list[Any] = []
    try:
        difficulty: Any = None
        if args.difficulty in ("llm", "criteria"):
            client = _client(args, f"--difficulty {args.difficulty}")
            closers.append(client)
            cls = LLMDifficulty if args.difficulty == "llm" else CriteriaDifficulty
            difficulty = cls(client, model=args.judge_model)
        elif args.difficulty == "battles":
            if not args.battles:
                raise ValidationError("--difficulty battles needs --battles FILE")
            difficulty = BattleDifficulty(args.battles)

        embedder: Any
        if args.embeddings:
            embedder = np.load(args.embeddings, allow_pickle=False)
        elif args.embedder.startswith("api:"):
            if not args.base_url:
                raise ValidationError(
                    "--embedder api: needs --base-url (an OpenAI-compatible API root)"
                )
            embedder = APIEmbedder(
                args.base_url, model=args.embedder[4:], api_key_env=args.api_key_env,
                max_concurrency=args.concurrency,
            )
        else:
            embedder = args.embedder

        ts = build_testset(
            args.prompts,
            n_clusters=args.clusters,
            per_cluster=args.per_cluster,
            hard=args.hard,
            difficulty=difficulty,
            candidates_per_cluster=args.candidates_per_cluster or None,
            embedder=embedder,
            text=args.text,
            diverse=args.diverse,
            diverse_method=args.select,
            pick=args.pick,
            min_words=args.min_words,
            min_chars=args.min_chars or None,
            prefix_words=args.prefix_words or None,
            prefix_share=args.prefix_share,
            minhash_threshold=args.minhash_threshold or None,
            cosine_threshold=args.cosine_threshold,
            max_chars=args.max_chars,
            max_tokens=args.max_tokens,
            id_column=args.id_column,
            text_column=args.text_column,
            rng=args.seed,
            progress=progress,
            **ray_arguments(args),
        )
        getattr(ts, f"to_{fmt}")(args.out, which=args.which)
        if args.dropped:
            report = ts.dropped.reset_index()
            atomic_write(args.dropped, lambda tmp: report.to_csv(tmp, index=False))

        summary = ts.summary()
        print(f"test set written to {args.out} ({len(ts.subset(args.which))} rows, {args.which})")
        for name, value in summary.items():
            print(f"  {name:<34} {value}")
        if ts.params.get("cosine_threshold_used") is not None:
            print(f"  {'cosine_threshold_used':<34} {ts.params['cosine_threshold_used']:.4f}")
        if ts.coverage is not None:
            c = ts.coverage
            print(
                f"  coverage ({c.method}, {c.size} prompts): mean distance to the nearest "
                f"selected prompt {c.mean_distance:.4f}; random subsets of the same size "
                f"{c.random_mean:.4f} ± {c.random_sd:.4f} ({c.n_random} draws)"
            )
        if ts.difficulty_failed:
            print(
                f"  warning: {ts.difficulty_failed} difficulty answers did not parse "
                "(scored NaN, never selected)",
                file=sys.stderr,
            )

        if args.decontaminate:
            from wizardarena.testset.decontam import decontaminate

            res = decontaminate(
                args.decontaminate, ts, threshold=args.decontam_threshold,
                embedder=None if args.embeddings else embedder, text=args.text,
                rng=args.seed, progress=progress,
            )
            kept = res.kept.reset_index()
            kept["turns"] = kept["turns"].map(list)
            dfmt = _format(args.decontaminated_out)
            if dfmt == "parquet":
                atomic_write(args.decontaminated_out, lambda t: kept.to_parquet(t, index=False))
            elif dfmt == "csv":
                atomic_write(args.decontaminated_out, lambda t: kept.to_csv(t, index=False))
            else:
                atomic_write(
                    args.decontaminated_out,
                    lambda t: kept.to_json(t, orient="records", lines=True, force_ascii=False),
                )
            print(
                f"decontaminated training prompts written to {args.decontaminated_out}: "
                f"{len(res.kept)} kept, {len(res.removed)} removed "
                + ", ".join(f"{k}={v}" for k, v in res.counts.items())
            )
    finally:
        for c in closers:
            c.close()
    return 0
