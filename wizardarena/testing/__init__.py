"""wizardarena in a test suite: fixture battle logs, statistical assertions, the pytest plugin.

Installing wizardarena registers a pytest plugin (entry point ``pytest11``, name
``wizardarena``; switch it off with ``-p no:wizardarena``) with these fixtures:

``battle_log_factory``
    ``battle_log_factory(ratings=None, n_battles=2000, **options)`` draws a log with known
    truth, ties, per-prompt correlation and an unbalanced design (:func:`simulate_log`),
    seeded from the test's node id (and the call's number within the test), so every run of
    a test sees the same logs. Returns a :class:`FixtureLog` (``battles, truth = ...``).
``named_battle_log``
    ``named_battle_log("ties")`` returns one of the logs shipped as package data
    (:data:`FIXTURE_LOGS`: ``ties``, ``unbalanced``, ``undefeated``, ``disconnected``,
    ``fastchat``, ``arena-hard``) with its truth and file path.
``sim_arena``
    The simulated OpenAI-compatible server (:class:`wizardarena.sim.SimArena`) running on
    loopback for the test and stopped after it. Configure it with the marker
    ``@pytest.mark.sim_arena(models, judge=..., faults=..., latency=..., rng=...)``
    (``faults`` a :class:`wizardarena.sim.Faults` or a dict of its switches, e.g.
    ``{"rate_429": 0.2}``); ``sim_arena_factory(models, ...)`` starts more than one.

The assertions take a :class:`~wizardarena.Leaderboard` and work anywhere (they raise
``AssertionError``); their ``check_*`` twins return a :class:`CheckResult` (what the
``wizardarena gate`` command uses). See ``docs/ci.md``.
"""

from wizardarena.testing.assertions import (
    CheckResult,
    assert_better,
    assert_not_worse,
    assert_order,
    assert_rank_at_most,
    check_better,
    check_not_worse,
    check_order,
    check_rank_at_most,
)
from wizardarena.testing.logs import (
    DEFAULT_SIM_MODELS,
    FIXTURE_LOGS,
    FixtureLog,
    fixture_log,
    logs_dir,
    node_seed,
    simulate_log,
    start_sim_arena,
)

__all__ = [
    "DEFAULT_SIM_MODELS",
    "FIXTURE_LOGS",
    "CheckResult",
    "FixtureLog",
    "assert_better",
    "assert_not_worse",
    "assert_order",
    "assert_rank_at_most",
    "check_better",
    "check_not_worse",
    "check_order",
    "check_rank_at_most",
    "fixture_log",
    "logs_dir",
    "node_seed",
    "simulate_log",
    "start_sim_arena",
]
