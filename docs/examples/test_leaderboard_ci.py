"""Leaderboards in CI: an example test file for a model team (see docs/ci.md).

Copy it into your project's tests/: the fixtures come from the pytest plugin that installing
wizardarena registers (no conftest needed; switch it off with ``-p no:wizardarena``). Every
log here is seeded (from the test's node id, or explicitly), so each run sees the same data:
these tests do not depend on luck. wizardarena's own test suite runs this file.
"""

from __future__ import annotations

import pytest

import wizardarena as wa
from wizardarena.testing import (
    assert_better,
    assert_not_worse,
    assert_order,
    assert_rank_at_most,
    check_better,
)

# --------------------------------------------------------------------------------------
# battle_log_factory: a simulated log with known truth (ties, per-prompt correlation,
# an unbalanced design), seeded from this test's node id.


def test_our_rating_pipeline_recovers_the_truth(battle_log_factory):
    truth = {"ref-strong": 1250.0, "ours": 1120.0, "baseline": 1100.0, "ref-weak": 950.0}
    log = battle_log_factory(truth, n_battles=4000, prompts=150, prompt_effect=0.5)
    board = wa.rank(log.battles, unit="prompt", rng=0)  # offline arena: resample prompts

    assert_order(board, ["ref-strong", "ours", "ref-weak"], level=0.95)
    assert_not_worse(board, "ours", "baseline", margin=10, level=0.95)  # a regression gate
    assert_rank_at_most(board, "ours", 2)
    assert_better(board, "ref-strong", "ours")
    # how sure, and how much: the comparison behind the assertions
    cmp = board.compare("ours", "baseline")  # difference, interval, probability, battles
    assert cmp.lower < cmp.difference < cmp.upper and cmp.n_battles > 0
    assert board.prob_better("ours", "baseline") == cmp.prob


def test_a_failed_assertion_says_what_would_settle_it(battle_log_factory):
    # ours is truly 5 points better, but 600 battles cannot show it (an explicit seed: the
    # log no longer depends on where this file lives)
    log = battle_log_factory({"ours": 1005.0, "baseline": 1000.0, "other": 980.0},
                             n_battles=600, rng=7)
    board = wa.rank(log.battles, unit="prompt", rng=0)
    with pytest.raises(AssertionError, match="to settle:") as err:
        assert_better(board, "ours", "baseline")
    print(err.value)  # ratings, difference and interval, probability, battles needed
    assert not check_better(board, "ours", "baseline").passed


# --------------------------------------------------------------------------------------
# named_battle_log: edge cases and real-shaped logs shipped with wizardarena.


@pytest.mark.parametrize("name", ["fastchat", "arena-hard"])
def test_real_shaped_logs(named_battle_log, name):
    log = named_battle_log(name)  # FastChat clean_battle JSON / Arena-Hard JSON lines
    board = log.rank(unit="prompt", rng=0)  # log.rank passes the log's own outcomes=
    assert_better(board, "claude-3-opus-20240229", "vicuna-13b")
    assert_not_worse(board, "gpt-4-turbo-2024-04-09", "gpt-4-0314", margin=10)


def test_edge_cases(named_battle_log):
    with pytest.warns(wa.RidgeWarning):
        undefeated = named_battle_log("undefeated").rank(rng=0, rounds=200)
    assert undefeated.table.loc["champ", "note"] == "undefeated"
    with pytest.raises(AssertionError, match="has no rank"):  # its rating is not finite
        assert_rank_at_most(undefeated, "champ", 1)

    with pytest.warns(wa.RidgeWarning):
        islands = named_battle_log("disconnected").rank(rng=0, rounds=200)
    with pytest.raises(AssertionError, match="cannot be decided"):  # they never met
        assert_not_worse(islands, "a", "island-1", margin=10)

    ties = named_battle_log("ties").rank(unit="prompt", rng=0)
    assert_order(ties, ["alpha", "beta", "gamma"])
    assert (ties.table["ties"] > 0).all()

    unbalanced = named_battle_log("unbalanced").rank(unit="prompt", rng=0)
    assert unbalanced.compare("m1", "m5").n_battles < 10  # rarely met, still compared
    assert_better(unbalanced, "m1", "m5")


# --------------------------------------------------------------------------------------
# sim_arena: the simulated OpenAI-compatible server on loopback, with fault switches; test
# your own prompts, judge template and pipeline offline, through real HTTP.


@pytest.mark.sim_arena({"ref-strong": 1400.0, "ours": 1150.0, "ref-weak": 900.0},
                       faults={"rate_429": 0.1, "rate_500": 0.02})
def test_judge_template_ranks_the_reference_models_in_order(sim_arena, tmp_path):
    prompts = [{"question_id": f"q{i:02d}", "prompt": f"Explain topic {i} to a colleague."}
               for i in range(40)]
    answers = {model: wa.generate_answers(prompts, base_url=sim_arena.base_url, model=model,
                                          api_key_env=None)
               for model in sim_arena.models}
    judge = wa.Judge(sim_arena.base_url, sim_arena.judge_model, template="arena-hard",
                     api_key_env=None)
    board = wa.rank(answers, prompts=prompts, judge=judge, store=tmp_path / "arena.sqlite",
                    unit="prompt", rng=0)
    assert_order(board, ["ref-strong", "ours", "ref-weak"])
    assert sim_arena.stats().faults["429"] > 0  # the client rode out rate limits
