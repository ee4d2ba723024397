"""The pytest plugin of wizardarena, registered as ``wizardarena`` (entry point ``pytest11``).

It is loaded in every pytest run of a project that has wizardarena installed, so it imports
nothing but pytest and the standard library: numpy, pandas and wizardarena itself are
imported inside the fixtures, when a test uses one. (It is a top-level module, like
hypothesis' ``_hypothesis_pytestplugin``, because importing anything inside the
``wizardarena`` package would import the whole library.) It changes no warning filter and
no global state.

Switch it off with ``-p no:wizardarena`` (on the command line, in ``addopts`` of the pytest
configuration, or in ``PYTEST_ADDOPTS``). The fixtures and the assertions are documented in
:mod:`wizardarena.testing` and ``docs/ci.md``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

_MARKER = (
    "sim_arena(models=None, *, judge=None, faults=None, latency=0.0, rng=None): configure "
    "the wizardarena sim_arena fixture (models: {name: skill or SimModel}; faults: a "
    "wizardarena.sim.Faults or a dict of its switches, e.g. {'rate_429': 0.2})"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER)


def pytest_report_header(config: pytest.Config) -> str | None:
    if getattr(config.option, "verbose", 0) > 0:  # (Config.get_verbosity is pytest ≥ 8)
        return ("wizardarena: fixtures battle_log_factory, named_battle_log, sim_arena "
                "(switch off with -p no:wizardarena)")
    return None


@pytest.fixture
def battle_log_factory(request: pytest.FixtureRequest) -> Callable[..., Any]:
    """Draw simulated battle logs with known truth, seeded from this test's node id.

    ``battle_log_factory(ratings=None, n_battles=2000, *, n_models=6, spread=100,
    tie_rate=0.2, prompts=100, prompt_effect=0.5, unbalanced=1.0, rng=None)`` returns a
    ``wizardarena.testing.FixtureLog`` (``battles, truth = log``). Each call in one test
    draws a new log; every run of the test draws the same ones. ``rng=`` overrides the seed.
    """
    from wizardarena.testing.logs import node_seed, simulate_log

    node_id = request.node.nodeid
    calls = itertools.count()

    def factory(ratings: Any = None, n_battles: int = 2000, *, rng: Any = None,
                **options: Any) -> Any:
        seed = node_seed(node_id, next(calls)) if rng is None else rng
        return simulate_log(ratings, n_battles, rng=seed, **options)

    return factory


@pytest.fixture
def named_battle_log() -> Callable[[str], Any]:
    """One of the battle logs shipped with wizardarena: ``named_battle_log("ties")``.

    Names: ``ties``, ``unbalanced``, ``undefeated``, ``disconnected``, ``fastchat``,
    ``arena-hard`` (``wizardarena.testing.FIXTURE_LOGS`` says what each is for). Returns a
    ``wizardarena.testing.FixtureLog`` with the battles, the truth and the file path.
    """
    from wizardarena.testing.logs import fixture_log

    return fixture_log


@pytest.fixture
def sim_arena_factory(request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """Start simulated arenas for this test; all are stopped after it.

    ``sim_arena_factory(models=None, *, judge=None, faults=None, latency=0.0, rng=None)``
    returns a running ``wizardarena.sim.SimArena`` (default models: model-a 1200, model-b
    1100, model-c 1000; default seed: from the test's node id).
    """
    from wizardarena.testing.logs import node_seed, start_sim_arena

    node_id = request.node.nodeid
    calls = itertools.count()
    arenas: list[Any] = []

    def factory(models: Any = None, **options: Any) -> Any:
        options.setdefault("rng", node_seed(node_id + "::sim_arena", next(calls)))
        arena = start_sim_arena(models, **options)
        arenas.append(arena)
        return arena

    try:
        yield factory
    finally:
        for arena in reversed(arenas):
            arena.stop()


@pytest.fixture
def sim_arena(request: pytest.FixtureRequest, sim_arena_factory: Callable[..., Any]) -> Any:
    """The simulated OpenAI-compatible arena on loopback, started for this test.

    Configure it with ``@pytest.mark.sim_arena(models, judge=..., faults=..., latency=...,
    rng=...)``; use ``sim_arena.base_url``, ``sim_arena.judge_model``,
    ``sim_arena.true_ratings`` and ``sim_arena.stats()``.
    """
    marker = request.node.get_closest_marker("sim_arena")
    args, kwargs = (marker.args, dict(marker.kwargs)) if marker is not None else ((), {})
    return sim_arena_factory(*args, **kwargs)
