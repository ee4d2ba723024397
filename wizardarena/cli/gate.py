"""``wizardarena gate``: a CI gate on a battle log, with an exit code and a Markdown summary.

Exit codes: 0 every check passed, 1 a check failed, 2 the input cannot answer (unreadable or
invalid log, unknown model, a comparison the battles do not determine, bad options).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from wizardarena.cli._common import (
    add_rating_options,
    command,
    command_message,
    finite,
    rating_arguments,
    relay_warnings,
    write_or_print,
)

PASS, FAIL, UNUSABLE = 0, 1, 2
_MARK = {True: "✅", False: "❌", None: "⚠️"}


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "gate", run,
        help="a CI gate: exit 0 if the checks pass, 1 if one fails, 2 if the input is unusable",
        description="Fit ratings with intervals on a battle log and check one model against "
        "others: --not-worse-than (fails only when the log shows, at --level, a regression "
        "larger than --margin), --better-than (passes only when the log shows it at --level), "
        "--rank-at-most. Prints a Markdown summary (also appended to $GITHUB_STEP_SUMMARY when "
        "set, and written to --summary). Exit 0 pass, 1 fail, 2 unusable input.",
    )
    p.add_argument("battles", help="battle log file (.parquet, .jsonl, .json, .csv)")
    p.add_argument("--model", required=True, help="the model under test (e.g. the new checkpoint)")
    p.add_argument("--not-worse-than", action="append", default=[], metavar="MODEL",
                   help="fail if --model is worse than MODEL by more than --margin at --level "
                   "(repeatable)")
    p.add_argument("--margin", type=finite, default=0.0,
                   help="Elo points of regression --not-worse-than tolerates (default 0)")
    p.add_argument("--better-than", action="append", default=[], metavar="MODEL",
                   help="pass only if --model is rated above MODEL with probability ≥ --level "
                   "(repeatable)")
    p.add_argument("--rank-at-most", type=int, default=None, metavar="K",
                   help="pass only if --model's rank (1 + models whose interval lies entirely "
                   "above its own) is at most K")
    add_rating_options(p)
    for action in p._actions:  # a gate must answer the same on every rerun of a pipeline
        if action.dest == "seed":
            action.default, action.help = 0, "bootstrap seed (default 0: reruns agree)"
        if action.dest == "level":  # nan / inf: a usage error naming --level
            action.type = finite
        if action.dest == "unit":
            action.default = None
            action.help = ("resampling unit (default: prompt when the log has a question_id "
                           "column, else battle; battle for --method elo)")
    p.add_argument("--summary", default=None, metavar="FILE",
                   help="also write the Markdown summary to FILE (e.g. for a PR comment)")
    # gate reports its own errors (exit 2 and a summary for every unusable input), in this
    # command's flags like the others
    p.set_defaults(_command_parser=p)


def run(args: argparse.Namespace) -> int:
    from wizardarena.exceptions import WizardArenaError

    try:
        code, text = _gate(args)
    except WizardArenaError as exc:
        message = command_message(exc, args._command_parser, args)
        print(f"wizardarena gate: error: {message}", file=sys.stderr)
        code, text = UNUSABLE, (f"### wizardarena gate: {_MARK[None]} unusable input\n\n"
                                f"`{args.battles}`: {message}\n")
    _publish(text, args.summary)
    return code


def _gate(args: argparse.Namespace) -> tuple[int, str]:
    from wizardarena.api import rank
    from wizardarena.battles import read_battles
    from wizardarena.exceptions import ValidationError
    from wizardarena.leaderboard import unknown_model
    from wizardarena.testing.assertions import (
        check_better,
        check_not_worse,
        check_rank_at_most,
    )

    if not (args.not_worse_than or args.better_than or args.rank_at_most is not None):
        raise ValidationError("nothing to check: give --not-worse-than MODEL, --better-than "
                              "MODEL and/or --rank-at-most K")
    if args.margin < 0:
        raise ValidationError(f"--margin must be ≥ 0 Elo points; got {args.margin:g}")
    log = read_battles(args.battles, outcomes=args.outcomes, strong_weight=args.strong_weight,
                       normalize_names=args.normalize_names)
    for name in [args.model, *args.not_worse_than, *args.better_than]:
        if name not in log.models:
            raise unknown_model(name, list(log.models), "in the battle log")
    others = [*args.not_worse_than, *args.better_than]
    if args.model in others:
        raise ValidationError(f"--model {args.model!r} cannot be checked against itself")
    prompt_column = args.cluster_column or "question_id"
    by_prompt = log.has_column(prompt_column) and args.method == "bt"  # Elo resamples battles
    unit = args.unit or ("prompt" if by_prompt else "battle")
    arguments = rating_arguments(args, unit=unit,
                                 cluster=args.cluster_column if unit == "prompt" else None)
    with relay_warnings() as notes:
        board = rank(log, **arguments)
    results = [check_not_worse(board, args.model, old, margin=args.margin, level=args.level)
               for old in args.not_worse_than]
    results += [check_better(board, args.model, other, level=args.level)
                for other in args.better_than]
    if args.rank_at_most is not None:
        results.append(check_rank_at_most(board, args.model, args.rank_at_most))
    if not all(r.decided for r in results):
        code = UNUSABLE
    else:
        code = PASS if all(r.passed for r in results) else FAIL
    return code, _summary(args, board, results, notes, code)


def _summary(args: argparse.Namespace, board: Any, results: list[Any], notes: list[str],
             code: int) -> str:
    import pandas as pd

    from wizardarena._markdown import markdown_table
    from wizardarena.testing.assertions import format_points, format_probability

    info = board.info
    title = {PASS: f"{_MARK[True]} passed", FAIL: f"{_MARK[False]} failed",
             UNUSABLE: f"{_MARK[None]} cannot decide"}[code]
    pct = f"{100 * info.level:g}%"
    rows = []
    for r in results:
        mark = _MARK[r.passed] if r.decided else _MARK[None]
        if r.kind == "rank":
            rank = board.table["rank"].astype(object)[args.model]
            shown = "no rank" if pd.isna(rank) else f"rank {rank}"
            rows.append([mark, r.check, shown, "", "", ""])
            continue
        c = r.comparisons[0]
        p = format_probability(r.probability)
        prob = (f"P(worse by > {args.margin:g}) = {p}" if r.kind == "not-worse"
                else f"P(better) = {p}")
        pts = format_points
        rows.append([mark, r.check, pts(c.difference), f"[{pts(c.lower)}, {pts(c.upper)}]",
                     prob, f"{c.n_battles:,}"])
    table = pd.DataFrame(rows, columns=["", "check", "difference (Elo)", f"{pct} interval",
                                        "probability", "battles"])
    lines = [f"### wizardarena gate: {title}", "",
             markdown_table(table, align=["center", "left", "right", "center", "left",
                                          "right"])]
    seed = "" if info.seed is None else f", seed {info.seed}"
    lines += ["", f"`{os.path.basename(str(args.battles))}`: {info.n_battles:,} battles, "
              f"{info.n_models} models; {info.interval_label}{seed}. A not-worse check fails "
              f"only when the log shows the regression (probability ≥ {info.level:g}); a "
              "better-than check passes only when it shows the advantage.", "",
              "<details><summary>details</summary>", "", "```text"]
    for r in results:
        lines += [r.message, ""]
    lines += ["```", ""]
    if notes:
        lines += ["Warnings:", "", *[f"- {n}" for n in notes], ""]
    lines += [board.to_markdown(), "", "</details>", ""]
    return "\n".join(lines)


def _publish(text: str, summary: str | None) -> None:
    write_or_print(text, None)
    if summary:
        write_or_print(text, summary)
    step = os.environ.get("GITHUB_STEP_SUMMARY")
    if step:
        with open(step, "a", encoding="utf-8") as fh:  # GitHub collects what steps append
            fh.write(text if text.endswith("\n") else text + "\n")
