"""``wizardarena rank``: a battle log file in, a leaderboard out."""

from __future__ import annotations

import argparse

from wizardarena.cli._common import (
    add_rating_options,
    add_ray_options,
    command,
    rating_arguments,
    ray_arguments,
    relay_warnings,
    render_board,
    write_or_print,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "rank", run,
        help="fit Bradley-Terry / Elo ratings with confidence intervals from a battle log",
        description="Fit ratings with intervals from a battle log (.parquet, .jsonl, .json, "
        ".csv) with columns model_a, model_b, winner; or from a directory or glob of Parquet "
        "files, read batch by batch into counts (a log larger than memory).",
    )
    p.add_argument("battles", help="battle log file (.parquet, .jsonl, .json, .csv), or a "
                   "directory or quoted glob ('logs/*.parquet') of Parquet files")
    add_rating_options(p)
    p.add_argument("--by", default=None, metavar="COLUMN",
                   help="one board per value of this column (e.g. category)")
    p.add_argument("--style", action="store_true",
                   help="style control: length, headers, lists, bold (from --answers or the "
                   "log's count/text columns)")
    p.add_argument("--style-columns", default=None, metavar="COL,COL",
                   help="style control on these numeric feature columns of the log instead")
    p.add_argument("--position", action="store_true",
                   help="fit a first-slot (position) effect with the ratings (model_a is the "
                   "model shown first) and report it")
    p.add_argument("--answers", default=None,
                   help="answers file or directory for --style (question_id, model, answer)")
    p.add_argument("--format", default="table", choices=["table", "md", "csv", "json", "html"],
                   help="output format: a plain table, markdown, CSV, JSON or HTML")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="write here instead of standard output")
    add_ray_options(p)


def run(args: argparse.Namespace) -> int:
    from wizardarena.api import rank

    style: bool | list[str] | None = None
    if args.style_columns:
        style = [c.strip() for c in args.style_columns.split(",") if c.strip()]
    elif args.style:
        style = True
    answers = None
    if args.answers:
        from wizardarena.arena.answers import load_answers

        answers = load_answers(args.answers)
    with relay_warnings():
        result = rank(args.battles, by=args.by, answers=answers,
                      **rating_arguments(args, style=style, position=args.position),
                      **ray_arguments(args))
    if isinstance(result, dict):
        parts = [f"## {args.by} = {key}\n\n{render_board(b, args.format)}"
                 for key, b in result.items()]
        write_or_print("\n\n".join(parts), args.out)
    else:
        write_or_print(render_board(result, args.format), args.out)
    return 0
