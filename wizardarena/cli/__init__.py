"""The ``wizardarena`` command line: parsing and printing only.

Each subcommand lives in its own module of this package and exposes two functions::

    def register(subparsers: argparse._SubParsersAction) -> None: ...  # adds its parser
    def run(args: argparse.Namespace) -> int: ...   # does the work, returns the exit code

``register`` makes its parser with :func:`wizardarena.cli._common.command`, which records
``run``. Modules are imported lazily by
name from :data:`COMMANDS`, so a subcommand whose optional dependencies are missing does not
break the others.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from wizardarena.exceptions import ValidationError, WizardArenaError

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
    """Entry point of the ``wizardarena`` command; returns the process exit code.

    Exit codes: 0 success; 1 a runtime failure (an endpoint that cannot serve the run,
    missing answers, an unreadable file ...); 2 a usage error or bad input (argparse's own
    errors and :class:`~wizardarena.exceptions.ValidationError`); 130 interrupted. Errors
    are one line ``wizardarena <command>: error: ...`` on stderr, never a traceback (set
    ``WIZARDARENA_TRACEBACK=1`` to see one for an unexpected error), and never show the API
    key of ``--api-key-env``.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help / --version (0), or a usage error argparse printed (2)
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    run = getattr(args, "_run", None)
    if run is None:
        parser.print_help()
        return 2
    try:
        code = run(args)
    except ValidationError as exc:
        _error(args, _message(exc, parser, args))
        return 2
    except WizardArenaError as exc:
        _error(args, _message(exc, parser, args))
        return 1
    except OSError as exc:
        what = f"{exc.strerror}: {exc.filename}" if exc.strerror and exc.filename else str(exc)
        _error(args, what)
        return 1
    except KeyboardInterrupt:
        print(f"wizardarena {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if os.environ.get("WIZARDARENA_TRACEBACK"):
            raise
        _error(args, f"unexpected {type(exc).__name__}: {exc} (this is a bug; please report "
                     f"it; WIZARDARENA_TRACEBACK=1 shows the traceback)")
        return 1
    return int(code or 0)


def _message(exc: WizardArenaError, parser: argparse.ArgumentParser,
             args: argparse.Namespace) -> str:
    """The error in this command's terms: the keywords it names become flags."""
    from wizardarena.cli._common import cli_message

    return cli_message(exc, parser, args)


def _error(args: argparse.Namespace, message: str) -> None:
    """Print ``wizardarena <command>: error: <message>`` without the API key."""
    env = getattr(args, "api_key_env", None)
    key = os.environ.get(env) if env else None
    if key:
        from wizardarena.endpoints import Scrubber

        message = Scrubber([key])(message)
    print(f"wizardarena {args.command}: error: {message}", file=sys.stderr)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
