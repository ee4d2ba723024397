"""Render an agreement report in headless Chromium and save a screenshot to look at.

Run: ``python benchmarks/screenshot_report.py [--out DIR]``

Writes ``report.html`` (GPT-4 judge vs human crowd on llmfao when ../shared/data is present,
otherwise a simulated arena vs its true ratings) and ``report.png`` (a full-page-height
screenshot by /usr/bin/chromium). Exits with status 0 and a message when Chromium is absent.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
from pathlib import Path

import pandas as pd

import wizardarena as wa
from wizardarena.agreement import AgreementReport, agreement, load_reference

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--hide-scrollbars",
]


def build_report() -> AgreementReport:
    if (DATA / "llmfao").is_dir():
        boards = [
            wa.rank(DATA / "llmfao" / f"{name}-comparisons.csv", outcomes="left-right",
                    rounds=1000, rng=0)
            for name in ("gpt4", "crowd")
        ]
        gpt4, crowd = boards
        assert isinstance(gpt4, wa.Leaderboard) and isinstance(crowd, wa.Leaderboard)
        return agreement(gpt4, crowd, title="GPT-4 judge vs human crowd (llmfao)",
                         labels=("GPT-4 judge", "human crowd"))
    truth = {f"model-{k}": 1250.0 - 30.0 * k for k in range(10)}
    board = wa.rank(wa.simulate_battles(truth, 8000, rng=1), rounds=1000, rng=2)
    assert isinstance(board, wa.Leaderboard)
    ref = load_reference(pd.DataFrame({"model": list(truth), "rating": list(truth.values()),
                                       "lower": [v - 12 for v in truth.values()],
                                       "upper": [v + 12 for v in truth.values()]}))
    return agreement(board, ref, title="Simulated arena vs its true ratings")


def chromium_path() -> str | None:
    """The Chromium executable, or None when it is not installed."""
    found = shutil.which("chromium") or "/usr/bin/chromium"
    return found if Path(found).exists() else None


def screenshot(html: Path, png: Path, *, width: int = 1200, height: int = 3000) -> None:
    """Render ``html`` in headless Chromium (the flags that work on this machine: no
    sandbox, no GPU, no background networking) and save a ``width`` x ``height`` PNG.
    Used by this script and by ``tests/test_html_screenshots.py``."""
    chromium = chromium_path()
    if chromium is None:
        raise FileNotFoundError("chromium is not installed (apt-get install -y chromium)")
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
             f"--window-size={width},{height}", f"--screenshot={png}", html.resolve().as_uri()],
            check=True, capture_output=True, timeout=120,
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("/tmp/wizardarena_report"))
    args = ap.parse_args()
    if chromium_path() is None:
        print("chromium not found: skipped (apt-get install -y chromium)")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    html, png = args.out / "report.html", args.out / "report.png"
    build_report().to_file(html)
    screenshot(html, png)
    print(f"wrote {html} ({html.stat().st_size} bytes) and {png} ({png.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
