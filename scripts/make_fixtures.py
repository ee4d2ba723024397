"""Regenerate the small battle-log fixtures under tests/fixtures/ (deterministic).

Run: python scripts/make_fixtures.py [OUTDIR]

Every file is written by :func:`wizardarena.simulate_battles` from the true ratings stored in
``truth.json`` beside it, so tests know the truth. ``tests/test_fixtures.py`` regenerates them
into a temporary folder and checks that the committed files are identical.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

import wizardarena as wa

TRUTH = {
    "ties": {"alpha": 1100.0, "beta": 1040.0, "gamma": 1000.0, "delta": 960.0},
    "unbalanced": {"m1": 1200.0, "m2": 1120.0, "m3": 1050.0, "m4": 1000.0, "m5": 930.0},
    "undefeated": {"champ": 1400.0, "p": 1000.0, "q": 980.0, "r": 950.0},
    "disconnected": {"a": 1050.0, "b": 1000.0, "c": 980.0, "island-1": 1000.0,
                     "island-2": 900.0},
}


def build() -> dict[str, pd.DataFrame]:
    out: dict[str, pd.DataFrame] = {}
    out["ties"] = wa.simulate_battles(TRUTH["ties"], 400, tie_rate=0.5, prompts=40, rng=1)
    w = {("m1", "m2"): 50, ("m1", "m3"): 5, ("m2", "m3"): 20, ("m3", "m4"): 40,
         ("m4", "m5"): 10, ("m1", "m5"): 1, ("m2", "m5"): 3}
    out["unbalanced"] = wa.simulate_battles(TRUTH["unbalanced"], 500, tie_rate=0.1,
                                            pair_weights=w, prompts=50, rng=2)
    others = {k: v for k, v in TRUTH["undefeated"].items() if k != "champ"}
    rest = wa.simulate_battles(others, 150, tie_rate=0.2, prompts=30, rng=3)
    champ = pd.DataFrame({"model_a": ["champ"] * 12, "model_b": ["p", "q", "r"] * 4,
                          "winner": ["model_a"] * 12,
                          "question_id": [f"q{k:04d}" for k in range(12)]})
    out["undefeated"] = pd.concat([rest, champ], ignore_index=True)
    main = wa.simulate_battles({k: TRUTH["disconnected"][k] for k in "abc"}, 150,
                               tie_rate=0.2, prompts=30, rng=4)
    island = wa.simulate_battles({k: TRUTH["disconnected"][k] for k in ("island-1", "island-2")},
                                 40, tie_rate=0.2, prompts=30, rng=5)
    out["disconnected"] = pd.concat([main, island], ignore_index=True)
    return out


def main(outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    for name, df in build().items():
        df.to_csv(outdir / f"{name}.csv", index=False, lineterminator="\n")
    (outdir / "truth.json").write_text(json.dumps(TRUTH, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else
         Path(__file__).resolve().parents[1] / "tests" / "fixtures")
