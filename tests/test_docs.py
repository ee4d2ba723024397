"""The examples in docs/*.md run, and print what the pages show (tests/docs_examples.py).

A page whose table no longer matches the code fails here; refresh it with
``python tests/docs_examples.py --update docs/<page>.md`` after checking the change is
legitimate.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from docs_examples import Result, normalize, pages, parse, run_page

PAGES = pages()


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_page_examples_run_and_match(page: Path, tmp_path: Path) -> None:
    results = run_page(page, tmp_path)
    bad = [r for r in results if r.status in ("error", "mismatch")]
    assert not bad, "\n\n".join(r.message for r in bad)


def test_every_runnable_block_is_run_or_marked() -> None:
    """No code block is silently ignored: each runs, or says why not."""
    runnable = skipped = 0
    for page in PAGES:
        for block in parse(page).blocks:
            if block.lang == "data":
                continue
            if block.skip is not None:
                assert block.skip.strip(), f"{page.name}:{block.line}: skip without a reason"
                skipped += 1
            else:
                runnable += 1
    assert runnable >= 10 and skipped >= 1


def test_worked_examples_show_checked_output() -> None:
    """The worked examples the issue names have their printed tables under test."""
    checked = {p.name: sum(b.output is not None for b in parse(p).blocks) for p in PAGES}
    assert checked["ratings.md"] >= 3  # the battle-level, prompt-level and sandwich tables
    assert checked["flywheel.md"] >= 1 and checked["agreement.md"] >= 1


def test_comparison_ignores_only_formatting(tmp_path: Path) -> None:
    shown = "| model | rating |\n|:---|---:|\n| a |   1 |\n\nsome  text\nwrapped"
    assert normalize(shown) == normalize("|model|rating|\n|---|---|\n|a|1|\nsome text wrapped")
    assert normalize(shown) != normalize("| model | rating |\n| a | 2 |\nsome text wrapped")
    assert normalize(shown) != normalize(
        "| model | rating | n |\n| a | 1 | 3 |\nsome text wrapped")
    page = tmp_path / "page.md"
    page.write_text("```python\nprint('| x |')\nprint('| 1 |')\n```\n<!-- docs-test: output -->\n"
                    "| x |\n|---|\n| 2 |\n<!-- docs-test: end -->\n")
    (result,) = run_page(page, tmp_path / "run")
    assert isinstance(result, Result) and result.status == "mismatch"
    from docs_examples import update_page

    assert update_page(page, [result])
    (again,) = run_page(page, tmp_path / "run2")
    assert again.status == "ok"
    page.write_text("```sh\npip install wizardarena\n```\n")
    (err,) = run_page(page, tmp_path / "run3")
    assert err.status == "error" and "only `wizardarena ...` commands" in err.message


def test_pages_run_without_shared_data(tmp_path: Path) -> None:
    """A fresh clone has no ../shared/data: the blocks that need it skip, the rest run."""
    from docs_examples import DOCS

    results = run_page(DOCS / "agreement.md", tmp_path, shared=False)
    assert results and all(r.status == "skipped" for r in results)
