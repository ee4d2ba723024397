"""The ``wizardarena`` command line: parsing and printing only.

Each subcommand lives in its own module of this package and exposes two functions::

    def register(subparsers: argparse._SubParsersAction) -> None: ...  # adds its parser
    def run(args: argparse.Namespace) -> int: ...   # does the work, returns the exit code

``register`` must call ``parser.set_defaults(_run=run)``. Modules are imported lazily by
name from :data:`COMMANDS`, so a subcommand whose optional dependencies are missing does not
break the others.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from wizardarena.exceptions import WizardArenaError

#: subcommand modules, in the order ``wizardarena --help`` lists them
COMMANDS: tuple[str, ...] = (
    "demo",
    "rank",
    "simulate",
    "answer",
    "battle",
    "testset",
    "agree",
    "flywheel",
    "gate",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with every available subcommand."""
    from wizardarena import __version__
    from wizardarena.cli._common import ArgumentParser

    parser = ArgumentParser(
        prog="wizardarena",
        description="Offline LLM leaderboards: test sets, judged battles, Bradley-Terry ratings.",
    )
    parser.add_argument("--version", action="version", version=f"wizardarena {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=ArgumentParser)
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"wizardarena.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"wizardarena.cli.{name}":
                continue  # subcommand not built yet
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``wizardarena`` command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help()
        return 2
    try:
        code = run(args)
    except WizardArenaError as exc:
        from wizardarena.cli._common import cli_message

        print(f"wizardarena {args.command}: error: {cli_message(exc, parser, args)}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"wizardarena {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
