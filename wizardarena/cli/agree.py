"""``wizardarena agree``: a battle log and a reference leaderboard in, an agreement report out.

::

    wizardarena agree battles.parquet --reference elo_history_alltime.csv \\
        --date 2024-07-16 --out report.html
"""

from __future__ import annotations

import argparse
from pathlib import Path

from wizardarena.cli._common import (
    add_rating_options,
    command,
    keywords,
    rating_arguments,
    relay_warnings,
    write_or_print,
)
from wizardarena.exceptions import ValidationError

_FORMATS = ["lmsys-history", "arena-catalog", "arena-catalog-json", "lmsys-table", "arena-hard",
            "alpaca-eval", "generic"]


def _parse_alias(text: str) -> tuple[str, str | None]:
    """``"GPT 4=gpt-4-0314"`` -> ``("GPT 4", "gpt-4-0314")``; ``"X="`` leaves X out."""
    name, sep, target = text.rpartition("=")
    if not sep or not name:
        raise ValidationError(f"--alias must look like OURS=REFERENCE; got {text!r}")
    return name, (target or None)


def _parse_columns(text: str | None) -> dict[str, str] | None:
    """``"model=Model,rating=score"`` -> ``{"model": "Model", "rating": "score"}``."""
    if text is None:
        return None
    from wizardarena.agreement import COLUMN_ROLES

    out: dict[str, str] = {}
    for part in text.split(","):
        role, sep, column = part.partition("=")
        role, column = role.strip(), column.strip()
        if not sep or not role or not column:
            raise ValidationError(
                f"--ref-columns must look like model=COLUMN,rating=COLUMN[,lower=...,upper=...|"
                f",se=...]; got {text!r}"
            )
        if role not in COLUMN_ROLES:
            raise ValidationError(
                f"--ref-columns: {role!r} is not one of {list(COLUMN_ROLES)}; got {text!r}"
            )
        out[role] = column
    return out


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "agree", run,
        help="compare a leaderboard with a reference leaderboard (e.g. LMSYS Chatbot Arena)",
        description="Rank a battle log, match its model names to a reference leaderboard and "
        "report Spearman, Kendall, Pearson, separability, agreement with CI, pair-rank "
        "Brier, top-k overlap and WizardArena consistency.",
    )
    p.add_argument("battles", help="battle log file (.parquet, .jsonl, .json, .csv)")
    p.add_argument("--reference", required=True, metavar="FILE_OR_URL",
                   help="reference leaderboard: a file (LMSYS history CSV, arena-catalog "
                   "snapshots, 2023 leaderboard table, Arena-Hard or AlpacaEval leaderboard, "
                   "model/rating table, catalog JSON) or an http(s) URL")
    p.add_argument("--ref-columns", default=None, metavar="ROLE=COLUMN,...",
                   help="read any table as the reference by naming its columns, e.g. "
                   "model=Model,rating=score (roles: model, rating, lower, upper, se, "
                   "display_name)")
    p.add_argument("--date", default=None,
                   help="use the reference snapshot at or before this date (YYYY-MM-DD) "
                   "(default: the latest)")
    p.add_argument("--category", default="full", help="reference category")
    p.add_argument("--board", default="leaderboard-text", help="arena-catalog board")
    p.add_argument("--commit", default=None,
                   help="arena-catalog commit when several snapshots share a date")
    p.add_argument("--reference-format", default=None, choices=_FORMATS,
                   help="reference format (default: recognised from the columns)")
    p.add_argument("--alias", action="append", default=[], metavar="OURS=REFERENCE",
                   help="map one of our model names to a reference name (repeatable); "
                   "OURS= leaves the model out")
    p.add_argument("--aliases", default=None, metavar="FILE",
                   help="aliases from a CSV (our_name,reference_name) or JSON file; --alias "
                   "entries override it")
    p.add_argument("--ambiguous", default="raise", choices=["raise", "report"],
                   help="names that match several reference models: an error listing all of "
                   "them, or leave them out and list them in the report")
    p.add_argument("--order-only", action="store_true",
                   help="take the order of a reference without intervals as certain for "
                   "agreement with CI")
    p.add_argument("--top-k", type=int, default=None,
                   help="k of the top-k overlap (default: 5, or fewer matched models)")
    add_rating_options(p)
    p.add_argument("--format", default=None, choices=["html", "md"],
                   help="report format (default: html for --out *.html, else md)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="write the report here (default: print it)")
    keywords(p, aliases="alias", format="reference_format", columns="ref_columns")


def run(args: argparse.Namespace) -> int:
    from wizardarena.agreement import agreement, fetch_reference, load_aliases, load_reference
    from wizardarena.api import rank

    aliases: dict[str, str | None] = {}
    if args.aliases:
        aliases.update(load_aliases(args.aliases))
    aliases.update(dict(_parse_alias(a) for a in args.alias))
    ref_kw = dict(date=args.date, board=args.board, category=args.category,
                  commit=args.commit, format=args.reference_format,
                  columns=_parse_columns(args.ref_columns))
    if args.reference.startswith(("http://", "https://")):
        reference = fetch_reference(args.reference, **ref_kw)
    else:
        reference = load_reference(args.reference, **ref_kw)
    with relay_warnings():
        board = rank(args.battles, **rating_arguments(args))
    if isinstance(board, dict):  # pragma: no cover - rank without by= returns one board
        raise ValidationError("expected one leaderboard")
    report = agreement(board, reference, aliases=aliases, ambiguous=args.ambiguous,
                       level=args.level, top_k=args.top_k,
                       reference_order_only=args.order_only, rng=args.seed,
                       title=f"Agreement of {Path(args.battles).name} with "
                       f"{Path(args.reference).name}",
                       labels=(Path(args.battles).stem, "reference"))
    fmt = args.format or ("html" if args.out and args.out.lower().endswith((".html", ".htm"))
                          else "md")
    text = report.to_html() if fmt == "html" else report.to_markdown()
    write_or_print(text, args.out)
    return 0
