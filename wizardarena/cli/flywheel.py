"""``wizardarena flywheel``: export SFT and preference data from the battles a target lost.

Example::

    wizardarena flywheel battles.parquet --answers answers/ --target my-model \\
        --sft-margin 3 --dpo-margin 2 --out data/

writes ``data/sft.jsonl`` (chat ``messages``), ``data/dpo.jsonl`` (``prompt``, ``chosen``,
``rejected``) and ``data/flywheel_stats.md``, and prints the selection statistics.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from wizardarena.cli._common import add_quiet, command, keywords, progress_option, relay_warnings

#: how the selection options are spelled on this command line (FlywheelStats.why_empty)
FLAGS = {
    "require_both_orders": "--allow-single-order",
    "exclude_inconsistent": "--keep-inconsistent",
    "margin_source": "--margin-source",
    "missing": "--skip-missing",
    "eval_prompts": "--eval-prompts",
}


def register(sub: argparse._SubParsersAction) -> None:
    p = command(sub, "flywheel", run,
        help="export SFT / DPO training data from the battles a target model lost",
        description="Select the prompts a target model lost (by a judge margin, both orders "
        "combined) and export the winners' answers as TRL-ready SFT and preference data.",
    )
    p.add_argument("battles", help="battle log (.parquet, .jsonl, .json, .csv)")
    p.add_argument("--answers", required=True,
                   help="answers: a file or a directory of answer files (one per model)")
    p.add_argument("--target", required=True, help="the model to improve")
    p.add_argument("--opponents", default=None, metavar="A,B,...",
                   help="comma-separated opponents (default: every other model)")
    p.add_argument("--prompts", default=None, metavar="FILE",
                   help="prompt file with question_id and prompt/turns; needed unless the "
                   "answers carry a 'prompt' column (files written by `wizardarena answer` and "
                   "Arena-Hard answer files do not)")
    p.add_argument("--eval-prompts", default=None,
                   metavar="FILE",
                   help="evaluation test set: training prompts that nearly copy it are removed "
                   "(default: no guard)")
    p.add_argument("--sft-margin", type=float, default=3.0, help="minimum loss margin for SFT")
    p.add_argument("--dpo-margin", type=float, default=2.0,
                   help="minimum loss margin for preference pairs")
    p.add_argument("--no-sft", action="store_true", help="skip the SFT export")
    p.add_argument("--no-dpo", action="store_true", help="skip the preference export")
    p.add_argument("--round", type=int, default=1, help="flywheel round written to the data")
    p.add_argument("--combine", default="both", choices=["both", "mean"],
                   help="both orders must show the loss (min margin), or their mean margin")
    p.add_argument("--keep-inconsistent", action="store_true",
                   help="keep position-inconsistent prompts (excluded by default)")
    p.add_argument("--allow-single-order", action="store_true",
                   help="keep prompts judged in one order only")
    p.add_argument("--per-prompt", default="best", choices=["best", "all"],
                   help="one example per prompt (the teacher chosen by --teacher) or one per "
                   "opponent")
    p.add_argument("--teacher", default="margin", choices=["margin", "rating"],
                   help="with --per-prompt best: the opponent with the largest margin, then the "
                   "highest rating (Bradley-Terry fit of the log), or the other way round")
    p.add_argument("--skip-missing", action="store_true",
                   help="skip selected battles whose answers are missing (counted) instead of "
                   "stopping")
    p.add_argument("--margin-source", default="auto",
                   choices=["auto", "scores", "labels", "winner"],
                   help="where a game's margin comes from: scores when both are present "
                   "(auto), the judge's scores, its labels, or the winner only")
    p.add_argument("--plain", action="store_true",
                   help="preference data as plain strings instead of message lists")
    p.add_argument("--system-prompt", default=None, help="system message for every example")
    p.add_argument("--format", default="jsonl", choices=["jsonl", "parquet", "both"],
                   help="file format of the exported data")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory")
    add_quiet(p)
    keywords(p, iteration="round", missing="skip_missing",
             require_both_orders="allow_single_order",
             exclude_inconsistent="keep_inconsistent")


def run(args: argparse.Namespace) -> int:
    from wizardarena.arena.answers import load_answers
    from wizardarena.battles import read_battles
    from wizardarena.flywheel import Flywheel

    battles = read_battles(args.battles)
    answers = load_answers(args.answers)
    opponents = None
    if args.opponents:
        opponents = [o.strip() for o in args.opponents.split(",") if o.strip()]
    fw = Flywheel(
        args.target, opponents, iteration=args.round, combine=args.combine,
        exclude_inconsistent=not args.keep_inconsistent,
        require_both_orders=not args.allow_single_order, margin_source=args.margin_source,
        per_prompt=args.per_prompt, teacher=args.teacher,
        missing="skip" if args.skip_missing else "raise",
        prompts=args.prompts, eval_prompts=args.eval_prompts,
        conversational=not args.plain, system_prompt=args.system_prompt,
    )
    out = Path(args.out)
    formats = ["jsonl", "parquet"] if args.format == "both" else [args.format]
    report: list[str] = [f"# Flywheel round {args.round}: target {args.target}", ""]
    written: list[Path] = []
    jobs = []
    if not args.no_sft:
        jobs.append(("sft", fw.sft, args.sft_margin))
    if not args.no_dpo:
        jobs.append(("dpo", fw.preference_pairs, args.dpo_margin))
    for name, select, margin in jobs:
        data, flags = _select(name, select, battles, answers, margin, args)
        for fmt in formats:
            path = out / f"{name}.{fmt}"
            written.append(data.to_jsonl(path) if fmt == "jsonl" else data.to_parquet(path))
        report += [f"## {name} (margin ≥ {margin:g}): {len(data)} examples", "",
                   data.stats.to_markdown(), ""]
        if len(data) == 0:
            report += [f"Why: {data.stats.why_empty(flags)}.", ""]
        if len(data.removed):
            report += [f"Removed by the decontamination guard: "
                       f"{', '.join(map(str, data.removed['question_id']))}", ""]
    text = "\n".join(report)
    from wizardarena._io import atomic_write_bytes

    written.append(atomic_write_bytes(out / "flywheel_stats.md", text.encode("utf-8")))
    sys.stdout.write(text + "\n")
    for path in written:
        print(f"wrote {path}", file=sys.stderr)
    return 0


def _select(name: str, select: Any, battles: Any, answers: Any, margin: float,
            args: argparse.Namespace) -> tuple[Any, dict[str, str]]:
    """One export (``name`` is sft or dpo) and the flags its messages are spelled in; its
    warnings are printed, the empty-export reasons in this command's flags."""
    flags = {**FLAGS, "margin": f"--{name}-margin"}

    def in_flags(message: str) -> str:
        if len(data) == 0 and message == data.stats.why_empty():
            return f"{name}: {data.stats.why_empty(flags)}"
        return message

    with relay_warnings(rewrite=in_flags):
        data = select(battles, answers, margin=margin, progress=progress_option(args))
    return data, flags
