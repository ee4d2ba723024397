"""Interval calibration on simulated logs with known truth.

Deterministic (fixed seeds), small logs, a few seconds each. The 93–97% band is about
±2.5 standard errors of a coverage estimate over 750 (model, seed) cases.
"""

from __future__ import annotations

import numpy as np
import pytest

import wizardarena as wa

TRUTH = {"a": 1150, "b": 1080, "c": 1000, "d": 980, "e": 900}
CENTRED = {k: v - np.mean(list(TRUTH.values())) + 1000 for k, v in TRUTH.items()}


def coverage(n_seeds: int, *, n: int, prompts: int | None = None, prompt_effect: float = 0.0,
             **rank_kw: object) -> float:
    hits = []
    for s in range(n_seeds):
        df = wa.simulate_battles(TRUTH, n, tie_rate=0.2, prompts=prompts,
                                 prompt_effect=prompt_effect, rng=1000 + s)
        t = wa.rank(df, rng=s, **rank_kw).table  # type: ignore[arg-type]
        hits += [t.loc[m, "lower"] <= v <= t.loc[m, "upper"] for m, v in CENTRED.items()]
    return float(np.mean(hits))


@pytest.mark.parametrize("kw", [{"ci": "bootstrap", "rounds": 200}, {"ci": "sandwich"}],
                         ids=["bootstrap", "sandwich"])
def test_battle_level_intervals_cover_95(kw: dict[str, object]) -> None:
    cov = coverage(150, n=1200, **kw)
    assert 0.93 <= cov <= 0.97, cov


def test_prompt_bootstrap_keeps_coverage_where_battle_bootstrap_fails() -> None:
    sim = {"n": 2000, "prompts": 150, "prompt_effect": 0.9}
    battle = coverage(100, rounds=200, unit="battle", **sim)  # type: ignore[arg-type]
    prompt = coverage(100, rounds=200, unit="prompt", **sim)  # type: ignore[arg-type]
    sandwich = coverage(100, ci="sandwich", unit="prompt", **sim)  # type: ignore[arg-type]
    assert battle < 0.85, battle
    assert 0.93 <= prompt <= 0.97, prompt
    assert 0.93 <= sandwich <= 0.97, sandwich
