"""wizardarena.testing's logs: the simulated log behind battle_log_factory, seeds, the API."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import wizardarena as wa
import wizardarena.testing as wt
from wizardarena.testing import node_seed, simulate_log


def test_public_names_are_sorted_and_importable() -> None:
    names = list(wt.__all__)
    key = [(0 if n.isupper() else 1 if n[0].isupper() else 2, n) for n in names]
    assert key == sorted(key) and len(set(names)) == len(names)
    assert all(hasattr(wt, n) for n in names)


def test_node_seed_is_stable_and_distinct() -> None:
    nid = "tests/test_x.py::test_y[case-1]"
    assert node_seed(nid) == node_seed(nid)
    expected = np.random.SeedSequence(zlib.crc32(nid.encode()), spawn_key=(0,))
    assert node_seed(nid) == int(expected.generate_state(1, np.uint64)[0] % 2**63)
    assert len({node_seed(nid, 0), node_seed(nid, 1), node_seed(nid + "x", 0)}) == 3


def test_simulated_log_has_the_promised_design() -> None:
    log = simulate_log(n_battles=6000, rng=5)
    b, truth = log
    assert log.seed == 5 and len(b) == 6000 and len(truth) == 6
    assert truth.mean() == pytest.approx(1000.0) and truth.std() > 30
    assert set(b["model_a"]) | set(b["model_b"]) == set(truth.index)
    assert 0.1 < (b["winner"] == "tie").mean() < 0.3  # ties
    assert b["question_id"].nunique() == 100
    pairs = b.groupby([b[["model_a", "model_b"]].min(axis=1),
                       b[["model_a", "model_b"]].max(axis=1)]).size()
    assert len(pairs) == 15 and pairs.max() > 5 * pairs.min()  # unbalanced, all pairs met
    # per-prompt correlation: prompt-level intervals are clearly wider than battle-level ones
    se_prompt = wa.rank(b, ci="sandwich", unit="prompt").standard_errors()
    se_battle = wa.rank(b, ci="sandwich", unit="battle").standard_errors()
    assert (se_prompt / se_battle).median() > 1.2
    # the truth is the truth: 95% prompt-level intervals cover it (94% of 240 (model, seed)
    # cases over 40 seeds; here 4 of 6, three misses would be a one-in-a-thousand event)
    board = wa.rank(b, unit="prompt", rng=0)
    t = board.table
    covered = (t["lower"] <= truth[t.index]) & (truth[t.index] <= t["upper"])
    assert covered.sum() >= 4


def test_simulated_log_options() -> None:
    same = simulate_log(n_battles=500, rng=3).battles
    assert same.equals(simulate_log(n_battles=500, rng=3).battles)
    log = simulate_log({"x": 1100, "y": 1000}, 300, prompts=None, unbalanced=0.0, rng=1)
    assert "question_id" not in log.battles and log.truth.to_dict() == {"x": 1100.0,
                                                                        "y": 1000.0}
    assert log.rank(ci="none").table.index[0] == "x"
    drawn = simulate_log(n_battles=10)
    assert isinstance(drawn.seed, int)  # drawn from the OS and recorded
    with pytest.raises(wa.ValidationError, match="n_models"):
        simulate_log(n_models=1)
    with pytest.raises(wa.ValidationError, match="unbalanced"):
        simulate_log(unbalanced=-1.0)
