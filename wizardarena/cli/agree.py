"""``wizardarena agree``: a battle log and a reference leaderboard in, an agreement report out.

::

    wizardarena agree battles.parquet --reference elo_history_alltime.csv \\
        --date 2024-07-16 --out report.html
"""

from __future__ import annotations

import argparse
import sys
import warnings

from wizardarena.cli._common import add_rating_options, parse_anchor, write_or_print
from wizardarena.exceptions import ValidationError


def _parse_alias(text: str) -> tuple[str, str | None]:
    """``"GPT 4=gpt-4-0314"`` -> ``("GPT 4", "gpt-4-0314")``; ``"X="`` leaves X out."""
    name, sep, target = text.rpartition("=")
    if not sep or not name:
        raise ValidationError(f"--alias must look like OURS=REFERENCE; got {text!r}")
    return name, (target or None)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "agree",
        help="compare a leaderboard with a reference leaderboard (e.g. LMSYS Chatbot Arena)",
        description="Rank a battle log, match its model names to a reference leaderboard and "
        "report Spearman, Kendall, Pearson, separability, agreement with CI, pair-rank "
        "Brier, top-k overlap and WizardArena consistency.",
    )
    p.add_argument("battles", help="battle log file (.parquet, .jsonl, .json, .csv)")
    p.add_argument("--reference", required=True,
                   help="reference leaderboard: a file (LMSYS history CSV, arena-catalog "
                   "snapshots, 2023 leaderboard table, model/rating table, catalog JSON) or an "
                   "http(s) URL")
    p.add_argument("--date", default=None, help="use the reference snapshot at or before "
                   "this date (YYYY-MM-DD); default the latest")
    p.add_argument("--category", default="full", help="reference category (default full)")
    p.add_argument("--board", default="leaderboard-text",
                   help="arena-catalog board (default leaderboard-text)")
    p.add_argument("--commit", default=None, help="arena-catalog commit when a date is ambiguous")
    p.add_argument("--reference-format", default=None,
                   choices=["lmsys-history", "arena-catalog", "arena-catalog-json",
                            "lmsys-table", "generic"],
                   help="reference format (default: recognised from the columns)")
    p.add_argument("--alias", action="append", default=[], metavar="OURS=REFERENCE",
                   help="map one of our model names to a reference name (repeatable); "
                   "OURS= leaves the model out")
    p.add_argument("--order-only", action="store_true",
                   help="take the order of a reference without intervals as certain for "
                   "agreement with CI")
    p.add_argument("--top-k", type=int, default=None, help="k of the top-k overlap (default 5)")
    add_rating_options(p)
    p.add_argument("--outcomes", default="fastchat",
                   choices=["fastchat", "ab", "numeric", "arena-hard", "left-right"],
                   help="vocabulary of the winner column (never guessed)")
    p.add_argument("--strong-weight", type=float, default=1.0)
    p.add_argument("--format", default=None, choices=["html", "md"],
                   help="report format (default: html for --out *.html, else md)")
    p.add_argument("--out", default=None, help="write the report here (default: print)")
    p.set_defaults(_run=run)


def run(args: argparse.Namespace) -> int:
    from wizardarena.agreement import agreement, fetch_reference, load_reference
    from wizardarena.api import rank

    aliases = dict(_parse_alias(a) for a in args.alias)
    ref_kw = dict(date=args.date, board=args.board, category=args.category,
                  commit=args.commit, format=args.reference_format)
    if args.reference.startswith(("http://", "https://")):
        reference = fetch_reference(args.reference, **ref_kw)
    else:
        reference = load_reference(args.reference, **ref_kw)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        board = rank(
            args.battles, method=args.method, ci=args.ci, rounds=args.rounds, unit=args.unit,
            level=args.level, anchor=parse_anchor(args.anchor), ties=args.ties,
            point=args.point, outcomes=args.outcomes, strong_weight=args.strong_weight,
            rng=args.seed,
        )
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    if isinstance(board, dict):  # pragma: no cover - rank without by= returns one board
        raise ValidationError("expected one leaderboard")
    from pathlib import Path

    report = agreement(board, reference, aliases=aliases, level=args.level, top_k=args.top_k,
                       reference_order_only=args.order_only, rng=args.seed,
                       title=f"Agreement of {Path(args.battles).name} with "
                       f"{Path(args.reference).name}",
                       labels=(Path(args.battles).stem, "reference"))
    fmt = args.format or ("html" if args.out and args.out.lower().endswith((".html", ".htm"))
                          else "md")
    text = report.to_html() if fmt == "html" else report.to_markdown()
    write_or_print(text, args.out)
    return 0
