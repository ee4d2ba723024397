"""Shared helpers for CLI subcommands (printing and option parsing only)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from wizardarena.exceptions import ValidationError


def parse_anchor(text: str | None) -> dict[str, float] | None:
    """``"model=1114"`` → ``{"model": 1114.0}`` (the model name may contain '=')."""
    if text is None:
        return None
    name, sep, value = text.rpartition("=")
    if not sep or not name:
        raise ValidationError(f"--anchor must look like MODEL=RATING; got {text!r}")
    try:
        return {name: float(value)}
    except ValueError:
        raise ValidationError(f"--anchor rating must be a number; got {value!r}") from None


def render_board(board: Any, fmt: str) -> str:
    """A leaderboard as text in the requested format."""
    if fmt == "md":
        return str(board.to_markdown())
    if fmt == "html":
        return str(board.to_html())
    if fmt == "csv":
        return str(board.table.to_csv())
    if fmt == "json":
        return json.dumps(board.to_dict(), indent=2, default=str)
    t = board._display_frame()
    return f"{board.info.interval_label}, {board.info.n_battles} battles\n{t.to_string()}"


def write_or_print(text: str, out: str | None) -> None:
    if out is None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        return
    from pathlib import Path

    from wizardarena._io import atomic_write

    atomic_write(out, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    print(f"wrote {out}", file=sys.stderr)


def add_rating_options(p: argparse.ArgumentParser) -> None:
    """Options shared by every subcommand that fits ratings."""
    p.add_argument("--method", default="bt", choices=["bt", "elo"], help="rating method")
    p.add_argument("--ci", default="bootstrap", choices=["bootstrap", "sandwich", "none"])
    p.add_argument("--bootstrap", "--rounds", dest="rounds", type=int, default=1000,
                   metavar="N", help="bootstrap rounds (default 1000)")
    p.add_argument("--unit", default="battle", choices=["battle", "prompt"],
                   help="resampling unit (prompt = cluster bootstrap by question_id)")
    p.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    p.add_argument("--anchor", default=None, metavar="MODEL=RATING",
                   help="pin one model's rating, e.g. mixtral-8x7b-instruct-v0.1=1114")
    p.add_argument("--ties", default="half", choices=["half", "drop", "davidson"])
    p.add_argument("--point", default=None, choices=["mle", "median", "order"],
                   help="point estimate (default: mle for bt, order for elo)")
    p.add_argument("--seed", type=int, default=None, help="bootstrap seed (recorded if omitted)")
