"""Shared helpers for CLI subcommands (printing and option parsing only)."""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import sys
import warnings
from collections.abc import Callable, Iterator
from typing import Any

from wizardarena.exceptions import ValidationError, WizardArenaError


# ----------------------------------------------------------------------------- help texts
class HelpFormatter(argparse.HelpFormatter):
    """Every option's help ends with its default (choices are in its ``{a,b}`` metavar).

    Descriptions are wrapped, except those with line breaks (examples), kept as written.

    Store-true flags (default off) and options whose default is None (off / automatic, which
    their help text explains) get nothing appended; a help text that already mentions its
    default is left alone.
    """

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if "\n" in text:
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            action.option_strings
            and default is not None
            and default is not argparse.SUPPRESS
            and not isinstance(default, bool)
            and default != []
            and "default" not in text.lower()
        ):
            shown = default.replace("%", "%%") if isinstance(default, str) else default
            text = f"{text} (default: {shown})" if text else f"default: {shown}"
        return text


class ArgumentParser(argparse.ArgumentParser):
    """The parser class of every subcommand: :class:`HelpFormatter`, and no option without a
    help line (an option registered without ``help=`` still shows its default)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        action = super().add_argument(*args, **kwargs)
        if action.help is None and action.option_strings and action.default not in (
            None, False, argparse.SUPPRESS
        ):
            action.help = "default: %(default)s"
        return action


def command(sub: argparse._SubParsersAction, name: str,
            run: Callable[[argparse.Namespace], int], *, help: str,
            description: str) -> argparse.ArgumentParser:
    """The parser of subcommand ``name``, whose work is ``run(args) -> exit code``."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=help, description=description)
    p.set_defaults(_run=run)
    return p


def add_prompt_file(p: argparse.ArgumentParser) -> None:
    """``--prompts FILE``: the prompt set (test set) a command answers or judges."""
    p.add_argument("--prompts", required=True, metavar="FILE",
                   help="prompt file (.jsonl/.json/.parquet/.csv)")


# ----------------------------------------------------------------------------- errors
def keywords(parser: argparse.ArgumentParser, **dests: str) -> None:
    """Declare which option carries a Python keyword when the names differ, e.g.
    ``keywords(p, aliases="alias", rng="seed")``; errors that name ``aliases=`` then say
    ``--alias`` on this command (see :func:`cli_message`). Declarations add up: the
    option groups (:func:`add_rating_options`, :func:`add_ray_options`) declare theirs."""
    parser.set_defaults(_keywords={**(parser.get_default("_keywords") or {}), **dests})


def option_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """``{dest: "--flag"}`` for every option of ``parser`` (the long option named like the
    destination when there are several, e.g. ``--rounds`` for ``--bootstrap/--rounds``);
    positional arguments map to their metavar or name, as the usage line shows them."""
    out: dict[str, str] = {}
    for action in parser._actions:
        if action.dest in (argparse.SUPPRESS, "help"):
            continue
        if not action.option_strings:
            out[action.dest] = str(action.metavar or action.dest)
            continue
        longs = [o for o in action.option_strings if o.startswith("--")] or list(
            action.option_strings
        )
        same = [o for o in longs if o[2:].replace("-", "_") == action.dest]
        out[action.dest] = (same or longs)[0]
    return out


def cli_message(
    exc: WizardArenaError, parser: argparse.ArgumentParser, args: argparse.Namespace
) -> str:
    """The error message of ``exc`` in command-line terms for the command ``args.command``:
    every keyword the message names (:class:`~wizardarena.exceptions.Param`) becomes the
    command's flag (``aliases={...}`` -> ``--alias 'OURS=REF'``)."""
    sub = next(
        (a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None
    )
    command = getattr(args, "command", None)
    if sub is None or command not in sub.choices:
        return str(exc)
    return command_message(exc, sub.choices[command], args)


def command_message(exc: WizardArenaError, command: argparse.ArgumentParser,
                    args: argparse.Namespace) -> str:
    """:func:`cli_message` given the command's own parser (for a command that reports its
    errors itself, such as ``gate``)."""
    flags = option_names(command)
    for keyword, dest in getattr(args, "_keywords", {}).items():
        if dest in flags:
            flags[keyword] = flags[dest]
    return exc.render(flags)


@contextlib.contextmanager
def relay_warnings(rewrite: Callable[[str], str] | None = None) -> Iterator[list[str]]:
    """Record every warning raised in the block and, when the block ends without an error,
    print each as ``warning: MESSAGE`` on standard error; the list yielded is then filled with
    the messages printed (e.g. for a summary). ``rewrite`` (called after the block, so it may
    use what the block computed) turns a message into the text printed, e.g. in this
    command's flags."""
    messages: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield messages
    for w in caught:
        text = str(w.message)
        messages.append(text if rewrite is None else rewrite(text))
        print(f"warning: {messages[-1]}", file=sys.stderr)


def int_range(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse ``type=``: an integer in ``[low, high]`` (argparse reports a usage error
    naming the option otherwise; nothing is clamped silently)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer; got {text!r}") from None
        if value < low or (high is not None and value > high):
            allowed = f"between {low} and {high}" if high is not None else f">= {low}"
            raise argparse.ArgumentTypeError(f"must be {allowed}; got {value}")
        return value

    parse.__name__ = "int"
    return parse


def finite(text: str) -> float:
    """An argparse ``type=``: a finite number (``nan`` and ``inf`` are a usage error naming
    the option)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number; got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number; got {text!r}")
    return value


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


def add_quiet(p: argparse.ArgumentParser) -> None:
    """``--quiet``: no progress bars (the ``progress=False`` of the Python entry points)."""
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars (bars are drawn on standard error only when it is a "
                   "terminal, so logs and pipes get none either way)")


def progress_option(args: argparse.Namespace, **bar: Any) -> Any:
    """The ``progress=`` of a command: False with ``--quiet``, else a tqdm bar
    (:class:`wizardarena.progress.ProgressBar` with ``bar`` options)."""
    if args.quiet:
        return False
    from wizardarena.progress import ProgressBar

    bar = {k: v for k, v in bar.items() if v is not None}
    return ProgressBar(**bar) if bar else True


def add_rating_options(p: argparse.ArgumentParser) -> None:
    """Options shared by every subcommand that reads a battle log and fits ratings
    (``--quiet`` included)."""
    p.add_argument("--method", default="bt", choices=["bt", "elo"],
                   help="rating method: Bradley-Terry MLE, or online Elo (order dependent)")
    p.add_argument("--ci", default="bootstrap", choices=["bootstrap", "sandwich", "none"],
                   help="how intervals are made: batched bootstrap, closed-form sandwich, or "
                   "no intervals")
    p.add_argument("--bootstrap", "--rounds", dest="rounds", type=int_range(1), default=1000,
                   metavar="N", help="bootstrap rounds")
    p.add_argument("--unit", default="battle", choices=["battle", "prompt"],
                   help="resampling unit: battles (LMSYS), or prompts (cluster bootstrap by "
                   "the prompt id column, see --cluster-column)")
    p.add_argument("--cluster-column", default=None, metavar="COLUMN",
                   help="with --unit prompt: the column holding the prompt id (default "
                   "question_id), e.g. llmfao's prompt")
    p.add_argument("--level", type=float, default=0.95, help="interval level")
    p.add_argument("--anchor", default=None, metavar="MODEL=RATING",
                   help="pin one model's rating, e.g. mixtral-8x7b-instruct-v0.1=1114 (default: "
                   "ratings centred on 1000)")
    p.add_argument("--ties", default="half", choices=["half", "drop", "davidson"],
                   help="a tie is half a win each way (LMSYS), is dropped, or follows "
                   "Davidson's model")
    p.add_argument("--point", default=None, choices=["mle", "median", "order"],
                   help="point estimate: the full-data MLE, the bootstrap median "
                   "(WizardArena), or online Elo in the log's order (default: mle for bt, "
                   "order for elo)")
    p.add_argument("--seed", type=int, default=None,
                   help="bootstrap seed (default: drawn and recorded in the board)")
    p.add_argument("--outcomes", default="fastchat",
                   choices=["fastchat", "ab", "numeric", "arena-hard", "left-right"],
                   help="vocabulary of the winner column (never guessed)")
    p.add_argument("--strong-weight", type=float, default=1.0,
                   help="weight of strong Arena-Hard verdicts A>>B (Arena-Hard uses 3)")
    p.add_argument("--normalize-names", action="store_true",
                   help="merge model names that differ only by case or surrounding spaces "
                   "(default: such names are an error listing each group)")
    add_quiet(p)
    keywords(p, **RATING_KEYWORDS)


def rating_arguments(args: argparse.Namespace, **rating: Any) -> dict[str, Any]:
    """The keyword arguments of :func:`wizardarena.rank` set by :func:`add_rating_options`:
    the rating options as one :class:`~wizardarena.ratings.options.RatingOptions` (``rating``
    adds or overrides options a subcommand sets itself, e.g. ``position``), and the reading
    options, the seed and the progress."""
    from wizardarena.ratings.options import RatingOptions

    options = dict(method=args.method, ci=args.ci, rounds=args.rounds, unit=args.unit,
                   cluster=args.cluster_column, level=args.level,
                   anchor=parse_anchor(args.anchor), ties=args.ties, point=args.point)
    return dict(
        options=RatingOptions(**{**options, **rating}), outcomes=args.outcomes,
        strong_weight=args.strong_weight, normalize_names=args.normalize_names, rng=args.seed,
        progress=progress_option(args),
    )


#: Python keyword -> option destination, for the rating options (see :func:`keywords`)
RATING_KEYWORDS: dict[str, str] = {"rng": "seed", "cluster": "cluster_column"}


# ----------------------------------------------------------------------------- Ray
def add_ray_options(p: argparse.ArgumentParser, *, workers: str | None = None) -> None:
    """``--ray``, ``--ray-address`` (and ``--ray-workers`` when ``workers`` says what a
    worker is for this command): the one switch to a Ray cluster (Python ``engine="ray"``,
    ``ray_address=``, ``workers=``)."""
    p.add_argument("--ray", action="store_true",
                   help="run on a Ray cluster (extra wizardarena[ray]): the one at "
                   "--ray-address, else at the RAY_ADDRESS environment variable, else a "
                   "local Ray runtime started for this run")
    p.add_argument("--ray-address", default=None, metavar="ADDRESS",
                   help="the Ray cluster to run on, e.g. ray://head:10001 or auto (implies "
                   "--ray; default: RAY_ADDRESS)")
    if workers is not None:
        p.add_argument("--ray-workers", type=int_range(1), default=None, metavar="N",
                       help=f"{workers} (implies --ray; default: one per CPU of the cluster)")
    keywords(p, **RAY_KEYWORDS)


def ray_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments ``engine``, ``ray_address`` (and ``workers``) set by
    :func:`add_ray_options`; any ``--ray-*`` option implies ``--ray``."""
    workers = getattr(args, "ray_workers", None)
    on = bool(args.ray or args.ray_address or workers)
    out: dict[str, Any] = dict(engine="ray" if on else "local", ray_address=args.ray_address)
    if hasattr(args, "ray_workers"):
        out["workers"] = workers
    return out


#: Python keyword -> option destination, for the Ray options (see :func:`keywords`)
RAY_KEYWORDS: dict[str, str] = {"engine": "ray", "ray_address": "ray_address",
                                "workers": "ray_workers"}
