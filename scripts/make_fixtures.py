"""Regenerate the named battle logs shipped as package data under wizardarena/data/logs/.

Run: python scripts/make_fixtures.py [OUTDIR]

Every log is drawn by :func:`wizardarena.simulate_battles` from the true ratings stored in
``truth.json`` beside it, so tests know the truth. ``wizardarena.testing.fixture_log(name)``
and the pytest fixture ``named_battle_log`` read them; ``tests/test_fixtures.py`` regenerates
them into a temporary folder and checks that the packaged files are identical.

* ``ties``: half the games between close models are ties;
* ``unbalanced``: pair frequencies from 1 to 50 (some pairs almost never meet);
* ``undefeated``: ``champ`` never lost, so its maximum-likelihood rating is infinite;
* ``disconnected``: two islands of models that never met each other;
* ``fastchat`` and ``arena-hard``: one small log in the shape of a real offline arena
  (Arena-Hard's design: five models each judged against the baseline ``gpt-4-0314`` on 40
  prompts, both orders, 32-hex question ids, per-prompt correlation), written once as a
  FastChat ``clean_battle`` JSON list (``winner`` = ``model_a`` / ``model_b`` / ``tie`` /
  ``tie (bothbad)``, with ``judge``, ``turn``, ``anony``, ``language``, ``tstamp``) and once
  as Arena-Hard JSON lines (``winner`` = ``A>>B`` … ``B>>A``; read with
  ``outcomes="arena-hard"``). The two hold the same games: at ``strong_weight=1`` they give
  the same board. The model names are real, the games are simulated.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import wizardarena as wa

BASELINE = "gpt-4-0314"
REAL_SHAPED = {"gpt-4-turbo-2024-04-09": 1257.0, "claude-3-opus-20240229": 1248.0,
               BASELINE: 1186.0, "mixtral-8x7b-instruct-v0.1": 1114.0,
               "llama-2-70b-chat": 1093.0, "vicuna-13b": 1042.0}
TRUTH = {
    "ties": {"alpha": 1100.0, "beta": 1040.0, "gamma": 1000.0, "delta": 960.0},
    "unbalanced": {"m1": 1200.0, "m2": 1120.0, "m3": 1050.0, "m4": 1000.0, "m5": 930.0},
    "undefeated": {"champ": 1400.0, "p": 1000.0, "q": 980.0, "r": 950.0},
    "disconnected": {"a": 1050.0, "b": 1000.0, "c": 980.0, "island-1": 1000.0,
                     "island-2": 900.0},
    "fastchat": REAL_SHAPED,
    "arena-hard": REAL_SHAPED,
}
FILES = {"ties": "ties.csv", "unbalanced": "unbalanced.csv", "undefeated": "undefeated.csv",
         "disconnected": "disconnected.csv", "fastchat": "fastchat.json",
         "arena-hard": "arena_hard.jsonl"}


def real_shaped(n_prompts: int = 40, rng: int = 6) -> pd.DataFrame:
    """Arena-Hard's design (every model against the baseline on every prompt, in both orders)
    with outcomes drawn by ``simulate_battles``: draw many games between random (prompt, model,
    order) cells, keep the first game of each cell. Selecting on the design alone leaves each
    kept game's outcome distribution (and the per-prompt correlation) as drawn; a cell that was
    never drawn stays empty, as failed judgments do in real logs."""
    gen = np.random.default_rng(rng)
    ids = [gen.bytes(16).hex() for _ in range(n_prompts)]
    others = [m for m in REAL_SHAPED if m != BASELINE]
    weights = {(m, BASELINE): 1.0 for m in others}
    draws = wa.simulate_battles(REAL_SHAPED, 16 * 2 * n_prompts * len(others), tie_rate=0.3,
                                prompts=ids, prompt_effect=0.7, pair_weights=weights, rng=gen)
    draws["model"] = np.where(draws["model_a"] == BASELINE, draws["model_b"], draws["model_a"])
    draws["game"] = np.where(draws["model_a"] == BASELINE, 1, 2)  # game 1: baseline first
    kept = draws.drop_duplicates(["question_id", "model", "game"])
    order = {q: k for k, q in enumerate(ids)}
    kept = kept.assign(_q=kept["question_id"].map(order), _m=kept["model"].map(others.index))
    kept = kept.sort_values(["_m", "_q", "game"], kind="mergesort")
    return kept[["question_id", "model_a", "model_b", "winner", "game"]].reset_index(drop=True)


def arena_hard_labels(games: pd.DataFrame, rng: int = 7) -> pd.Series:
    """Arena-Hard verdicts: a third of the decisive games are strong (``A>>B``)."""
    gen = np.random.default_rng(rng)
    strong = gen.random(len(games)) < 1 / 3
    w = games["winner"].to_numpy()
    return pd.Series(np.select(
        [(w == "model_a") & strong, w == "model_a", (w == "model_b") & strong, w == "model_b"],
        ["A>>B", "A>B", "B>>A", "B>A"], "A=B"), index=games.index)


def fastchat_records(games: pd.DataFrame, rng: int = 8) -> list[dict[str, object]]:
    """FastChat ``clean_battle`` records; half the ties are ``tie (bothbad)``."""
    gen = np.random.default_rng(rng)
    bothbad = gen.random(len(games)) < 0.5
    tstamp = 1714000000.0 + np.cumsum(gen.exponential(40.0, len(games)))
    out = []
    for k, row in enumerate(games.itertuples(index=False)):
        winner = "tie (bothbad)" if row.winner == "tie" and bothbad[k] else row.winner
        out.append({"question_id": row.question_id, "model_a": row.model_a,
                    "model_b": row.model_b, "winner": winner, "judge": "gpt-4-1106-preview",
                    "turn": 1, "anony": True, "language": "English",
                    "tstamp": round(float(tstamp[k]), 2)})
    return out


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
    games = real_shaped()
    out["fastchat"] = pd.DataFrame.from_records(fastchat_records(games))
    out["arena-hard"] = games.assign(winner=arena_hard_labels(games))
    return out


def main(outdir: Path) -> None:
    outdir.mkdir(parents=True, exist_ok=True)
    for name, df in build().items():
        path = outdir / FILES[name]
        if path.suffix == ".csv":
            df.to_csv(path, index=False, lineterminator="\n")
        elif path.suffix == ".json":  # FastChat clean_battle: one JSON list, a record a line
            rows = ",\n".join(json.dumps(r) for r in df.to_dict("records"))
            path.write_text(f"[\n{rows}\n]\n")
        else:
            path.write_text("".join(json.dumps(r) + "\n" for r in df.to_dict("records")))
    (outdir / "truth.json").write_text(json.dumps(TRUTH, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else
         Path(__file__).resolve().parents[1] / "wizardarena" / "data" / "logs")
