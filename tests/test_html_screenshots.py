"""The HTML outputs as a person sees them: a screenshot of each in headless Chromium.

Skips when Chromium is not on the machine (``apt-get install chromium``). The screenshots go
to the test's temporary folder; ``WIZARDARENA_SCREENSHOTS=DIR`` keeps them for a look.
"""

from __future__ import annotations

import io
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

import wizardarena as wa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from screenshot_report import chromium_path, screenshot  # noqa: E402

pytestmark = pytest.mark.skipif(chromium_path() is None,
                                reason="Chromium is not installed (apt-get install chromium)")
matplotlib = pytest.importorskip("matplotlib")


def _page(title: str, body: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{title}'
            f"</title></head><body>{body}</body></html>")


def _shoot(html: str, tmp_path: Path, name: str, *, height: int) -> np.ndarray:
    from matplotlib.image import imread

    page, png = tmp_path / f"{name}.html", tmp_path / f"{name}.png"
    page.write_text(html, encoding="utf-8")
    screenshot(page, png, width=1000, height=height)
    keep = os.environ.get("WIZARDARENA_SCREENSHOTS")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(png, Path(keep) / png.name)
    img = imread(io.BytesIO(png.read_bytes()), format="png")[..., :3]
    assert img.shape[:2] == (height, 1000)
    return img


def _rows_with_ink(img: np.ndarray) -> np.ndarray:
    return (img.mean(axis=2) < 0.8).any(axis=1)


@pytest.fixture(scope="module")
def boards() -> tuple[wa.Leaderboard, wa.Leaderboard]:
    truth = {f"model-{k}": 1250.0 - 30.0 * k for k in range(8)}
    ours = wa.rank(wa.simulate_battles(truth, 6000, rng=1), rounds=200, rng=2, progress=False)
    ref = wa.rank(wa.simulate_battles(truth, 6000, rng=3), rounds=200, rng=4, progress=False)
    assert isinstance(ours, wa.Leaderboard) and isinstance(ref, wa.Leaderboard)
    return ours, ref


def test_leaderboard_html_screenshot(boards: tuple[wa.Leaderboard, wa.Leaderboard],
                                     tmp_path: Path) -> None:
    board, _ = boards
    img = _shoot(_page("leaderboard", board._repr_html_()), tmp_path, "leaderboard",
                 height=500)
    ink = _rows_with_ink(img)
    # a caption and a header row plus one text line per model: at least 10 lines of text
    lines = int(np.sum(ink[1:] & ~ink[:-1]))
    assert lines >= len(board.table) + 2, lines
    assert ink[:250].any() and not ink[-100:].any()  # drawn at the top, nothing stray below


def test_agreement_report_screenshot(boards: tuple[wa.Leaderboard, wa.Leaderboard],
                                     tmp_path: Path) -> None:
    ours, ref = boards
    rep = wa.agreement(ours, ref, title="screenshot test")
    img = _shoot(rep.to_html(), tmp_path, "report", height=2600)
    ink = _rows_with_ink(img)
    assert ink.mean() > 0.3  # headings, tables and two figures fill the page
    # the embedded figures are drawn (colour: the blue points and the verdict matrix)
    colour = (img.max(axis=2) - img.min(axis=2)) > 0.3
    assert colour.sum() > 2000
    # and the notebook view (no figures) renders too
    small = _shoot(_page("report", rep._repr_html_()), tmp_path, "report_notebook",
                   height=900)
    assert _rows_with_ink(small).mean() > 0.1


def test_a_blank_page_fails_the_checks(tmp_path: Path) -> None:
    img = _shoot(_page("blank", ""), tmp_path, "blank", height=300)
    assert not _rows_with_ink(img).any()
