"""Run the examples of ``docs/*.md`` and compare what they print with what the page shows.

Used by ``tests/test_docs.py``; run it directly to refresh the pages after a change that
legitimately moves the numbers (a new rating engine, a new column)::

    python tests/docs_examples.py --update              # every page
    python tests/docs_examples.py --update docs/ratings.md

Rules (written as HTML comments, invisible on the rendered page):

* Every ```` ```python ```` block runs, in page order, in one namespace per page, in a
  scratch directory whose ``../shared/data`` is the real data folder. Every ```` ```sh ````,
  ```` ```bash ```` or unlabelled block runs too: each ``wizardarena ...`` command (with ``\\``
  continuations) goes through the real entry point in-process. Blocks labelled ``json`` or
  ``text`` are data, never run.
* ``<!-- docs-test: skip: REASON -->`` before a block marks it non-runnable, with the reason
  (an endpoint, an elided part, an install step...).
* ``<!-- docs-test: shared-data -->`` before a block runs it only when ``../shared/data``
  exists (the blocks after it that need its variables must carry it too).
* ``<!-- docs-test: setup`` ... ``-->`` holds Python run before the page's blocks (it makes
  the files a snippet names, such as ``battles.parquet``), hidden from readers.
* ``<!-- docs-test: output -->`` ... ``<!-- docs-test: end -->`` around text (a markdown
  table, or a fenced block) is what the block before it prints: its standard output plus the
  value of its last expression (as the REPL shows it; a string as itself). An exception is
  output too, as ``ExceptionName: message``.

The comparison ignores what is only formatting: column widths and alignment rows of markdown
tables, runs of spaces and line breaks in text. Any other difference (a number, a new or
missing column or row) fails, and ``--update`` rewrites the page with what the code prints.
"""

from __future__ import annotations

import ast
import contextlib
import io
import os
import re
import shlex
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
SHARED = ROOT.parent / "shared"

_MARK = re.compile(r"<!--\s*docs-test:\s*(?P<body>.*?)\s*-->", re.S)
_FENCE = re.compile(r"^```(?P<lang>[\w+-]*)\s*$")
_RUN_LANGS = {"python": "python", "py": "python", "sh": "shell", "bash": "shell",
              "console": "shell", "shell": "shell", "": "shell"}
_DATA_LANGS = {"json", "text", "txt", "yaml", "toml"}


@dataclass
class Block:
    """One fenced code block of a page."""

    lang: str  # "python", "shell" or "data"
    code: str
    line: int  # 1-based line of the opening fence
    skip: str | None = None
    shared_data: bool = False
    output: Output | None = None


@dataclass
class Output:
    """The text a page shows as a block's output: lines ``start``..``stop`` (0-based, end
    excluded) of the page, between the output and end markers."""

    start: int
    stop: int
    text: str


@dataclass
class Page:
    path: Path
    lines: list[str]
    blocks: list[Block] = field(default_factory=list)
    setup: list[str] = field(default_factory=list)


@dataclass
class Result:
    """What running one block gave."""

    block: Block
    status: str  # "ok", "skipped", "mismatch", "error"
    actual: str = ""
    message: str = ""


# ----------------------------------------------------------------------------- parsing
def parse(path: Path) -> Page:
    """Split a page into its blocks and markers (raises ValueError on a malformed page)."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    page = Page(path=path, lines=lines)
    pending: dict[str, Any] = {}
    k = 0
    while k < len(lines):
        line = lines[k]
        if "<!--" in line and "docs-test:" in line:
            # a marker may span lines (setup)
            j = k
            chunk = line
            while "-->" not in chunk:
                j += 1
                if j >= len(lines):
                    raise ValueError(f"{path.name}:{k + 1}: unterminated docs-test marker")
                chunk += "\n" + lines[j]
            m = _MARK.search(chunk)
            if m is None:
                raise ValueError(f"{path.name}:{k + 1}: malformed docs-test marker")
            body = m.group("body")
            head = re.match(r"[\w-]+", body)
            word = head.group(0) if head else ""
            rest = body[len(word):]
            if word == "skip":
                reason = rest.strip().lstrip(":").strip()
                if not reason:
                    raise ValueError(f"{path.name}:{k + 1}: 'skip' needs a reason")
                pending["skip"] = reason
            elif word == "shared-data":
                pending["shared_data"] = True
            elif word == "setup":
                page.setup.append(rest.strip("\n"))
            elif word == "output":
                if not page.blocks:
                    raise ValueError(f"{path.name}:{k + 1}: output before any block")
                end = next((i for i in range(j + 1, len(lines))
                            if re.search(r"<!--\s*docs-test:\s*end\s*-->", lines[i])), None)
                if end is None:
                    raise ValueError(f"{path.name}:{k + 1}: output without an end marker")
                shown = lines[j + 1:end]
                if shown and _FENCE.match(shown[0].strip()) and shown[-1].strip() == "```":
                    start, stop, body_lines = j + 2, end - 1, shown[1:-1]
                else:
                    start, stop, body_lines = j + 1, end, shown
                page.blocks[-1].output = Output(start, stop, "\n".join(body_lines))
                k = end + 1
                continue
            elif word == "end":
                raise ValueError(f"{path.name}:{k + 1}: end marker without output marker")
            else:
                raise ValueError(f"{path.name}:{k + 1}: unknown docs-test marker {body!r}")
            k = j + 1
            continue
        fence = _FENCE.match(line.strip())
        if fence and line.startswith("```"):
            lang = fence.group("lang").lower()
            end = next((i for i in range(k + 1, len(lines)) if lines[i].strip() == "```"), None)
            if end is None:
                raise ValueError(f"{path.name}:{k + 1}: unterminated code fence")
            kind = "data" if lang in _DATA_LANGS else _RUN_LANGS.get(lang)
            if kind is None:
                raise ValueError(f"{path.name}:{k + 1}: unknown code language {lang!r}")
            page.blocks.append(Block(lang=kind, code="\n".join(lines[k + 1:end]), line=k + 1,
                                     skip=pending.pop("skip", None),
                                     shared_data=pending.pop("shared_data", False)))
            pending.clear()
            k = end + 1
            continue
        k += 1
    return page


# ----------------------------------------------------------------------------- running
@contextlib.contextmanager
def _scratch(tmp: Path) -> Iterator[Path]:
    """A working directory whose ``../shared`` is the real shared folder (when present)."""
    work = tmp / "work"
    work.mkdir(parents=True, exist_ok=True)
    if SHARED.is_dir() and not (tmp / "shared").exists():
        (tmp / "shared").symlink_to(SHARED, target_is_directory=True)
    old = Path.cwd()
    os.chdir(work)
    try:
        yield work
    finally:
        os.chdir(old)


def _run_python(code: str, namespace: dict[str, Any], where: str) -> str:
    tree = ast.parse(code, filename=where)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(tree, where, "exec"), namespace)
        if last is not None:
            value = eval(compile(last, where, "eval"), namespace)
            if value is not None:
                print(value if isinstance(value, str) else repr(value))
    return out.getvalue()


def _commands(code: str) -> list[list[str]]:
    joined = re.sub(r"\\\n\s*", " ", code)
    cmds = []
    for raw in joined.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        argv = shlex.split(line)
        if argv[0] != "wizardarena":
            raise ValueError(f"only `wizardarena ...` commands run here; got {line!r} (mark "
                             "the block <!-- docs-test: skip: REASON -->)")
        cmds.append(argv[1:])
    return cmds


def _run_shell(code: str) -> str:
    from wizardarena.cli import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        for argv in _commands(code):
            code_ = main(argv)
            if code_:
                raise RuntimeError(f"`wizardarena {' '.join(argv)}` exited {code_}: "
                                   f"{err.getvalue().strip()[-2000:]}")
    return out.getvalue()


def normalize(text: str) -> list[str]:
    """The comparable content of printed text: table cells stripped (alignment rows dropped),
    other lines with runs of whitespace collapsed, blank lines dropped; consecutive text lines
    are joined (line wrapping is formatting)."""
    out: list[str] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            out.append(" ".join(para))
            para.clear()

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            flush()
            continue
        if line.startswith("|"):
            flush()
            cells = [c.strip() for c in line.strip("|").split("|")]
            if all(re.fullmatch(r":?-{3,}:?", c) for c in cells):
                continue
            out.append("|" + "|".join(cells) + "|")
        else:
            para.append(" ".join(line.split()))
    flush()
    return out


def run_page(path: Path, tmp: Path, *, shared: bool | None = None) -> list[Result]:
    """Run every block of a page; returns one Result per block."""
    page = parse(path)
    has_shared = SHARED.joinpath("data").is_dir() if shared is None else shared
    results: list[Result] = []
    namespace: dict[str, Any] = {"__name__": f"docs_{path.stem}"}
    with _scratch(tmp), warnings.catch_warnings():
        warnings.simplefilter("default")  # a warning an example shows is not a failure
        for i, setup in enumerate(page.setup):
            _run_python(setup, namespace, f"{path.name}:setup{i}")
        for block in page.blocks:
            where = f"{path.name}:{block.line}"
            if block.lang == "data":
                continue
            if block.skip is not None:
                results.append(Result(block, "skipped", message=block.skip))
                continue
            if block.shared_data and not has_shared:
                results.append(Result(block, "skipped", message="../shared/data is absent"))
                continue
            try:
                if block.lang == "python":
                    actual = _run_python(block.code, namespace, where)
                else:
                    actual = _run_shell(block.code)
            except Exception as exc:  # an example that raises: output or failure
                shown = f"{type(exc).__name__}: {exc}"
                if block.output is not None and block.output.text.strip().startswith(
                        f"{type(exc).__name__}:"):
                    actual = shown
                else:
                    results.append(Result(block, "error", message=f"{where}: {shown}"))
                    continue
            if block.output is None or normalize(actual) == normalize(block.output.text):
                results.append(Result(block, "ok", actual=actual))
            else:
                results.append(Result(block, "mismatch", actual=actual,
                                      message=f"{where}: the page shows\n{block.output.text}\n"
                                      f"but the code prints\n{actual}"))
    return results


def update_page(path: Path, results: list[Result]) -> bool:
    """Rewrite the outputs that differ; returns whether the page changed."""
    page = parse(path)
    lines = list(page.lines)
    changed = False
    by_line = {r.block.line: r for r in results}
    for block in reversed(page.blocks):
        r = by_line.get(block.line)
        if block.output is None or r is None or r.status != "mismatch":
            continue
        new = [x.rstrip() for x in r.actual.rstrip("\n").splitlines()]
        lines[block.output.start:block.output.stop] = new
        changed = True
    if changed:
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return changed


def pages() -> list[Path]:
    return sorted(DOCS.glob("*.md"))


def _main(argv: list[str]) -> int:
    import argparse
    import tempfile

    p = argparse.ArgumentParser(description="Run (and refresh) the examples of docs/*.md.")
    p.add_argument("pages", nargs="*", type=Path, help="pages (default: every docs/*.md)")
    p.add_argument("--update", action="store_true", help="rewrite outputs that differ")
    args = p.parse_args(argv)
    status = 0
    for path in [q.resolve() for q in args.pages] or pages():
        with tempfile.TemporaryDirectory(prefix="docs-") as tmp:
            results = run_page(path, Path(tmp))
        for r in results:
            if r.status in ("error", "mismatch"):
                print(r.message, file=sys.stderr)
        bad = [r for r in results if r.status in ("error", "mismatch")]
        if args.update and update_page(path, results):
            print(f"updated {path.relative_to(ROOT)}")
            bad = [r for r in bad if r.status == "error"]
        counts = {s: sum(r.status == s for r in results) for s in ("ok", "skipped", "mismatch",
                                                                   "error")}
        print(f"{path.relative_to(ROOT)}: {counts}")
        status |= bool(bad)
    return status


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
