"""The pytest plugin, tested with pytester: registered by its entry point, switched off,
import-light, reproducible fixtures, the simulated arena started and stopped."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import pytest

pytest_plugins = ["pytester"]

USES_FIXTURES = """
    import pandas as pd

    def test_fixtures(battle_log_factory, named_battle_log, request):
        assert request.config.pluginmanager.has_plugin("wizardarena")
        battles, truth = battle_log_factory(n_battles=300)
        assert isinstance(battles, pd.DataFrame) and len(battles) == 300
        assert set(battles["model_a"]) | set(battles["model_b"]) <= set(truth.index)
        assert named_battle_log("ties").path.name == "ties.csv"
"""


def test_active_by_entry_point(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_FIXTURES)
    result = pytester.runpytest_subprocess("-v")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["wizardarena: fixtures battle_log_factory, named_battle_log, "
                                 "sim_arena (switch off with -p no:wizardarena)"])


def test_fixtures_are_listed(pytester: pytest.Pytester) -> None:
    out = pytester.runpytest("--fixtures").stdout.str()
    section = out.split("fixtures defined from _wizardarena_pytestplugin")[1].splitlines()[1:]
    ends = [k for k, line in enumerate(section) if line.startswith("---")]
    section = section[:ends[0]] if ends else section
    names = {line.split(" -- ")[0] for line in section if " -- " in line}
    assert names == {"battle_log_factory", "named_battle_log", "sim_arena", "sim_arena_factory"}


@pytest.mark.parametrize("how", ["command line", "ini addopts", "PYTEST_ADDOPTS"])
def test_switched_off(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
                      how: str) -> None:
    pytester.makepyfile(USES_FIXTURES)
    args: list[str] = []
    if how == "command line":
        args = ["-p", "no:wizardarena"]
    elif how == "ini addopts":
        pytester.makeini("[pytest]\naddopts = -p no:wizardarena\n")
    else:
        monkeypatch.setenv("PYTEST_ADDOPTS", "-p no:wizardarena")
    result = pytester.runpytest(*args)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'battle_log_factory' not found*"])


@pytest.mark.skipif(tuple(int(x) for x in pytest.__version__.split(".")[:2]) < (8, 4),
                    reason="-p loads plugins by entry-point name since pytest 8.4")
def test_loaded_by_name_when_autoload_is_off(pytester: pytest.Pytester,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.makepyfile(USES_FIXTURES)
    pytester.runpytest_subprocess().assert_outcomes(errors=1)
    pytester.runpytest_subprocess("-p", "wizardarena").assert_outcomes(passed=1)


def test_import_is_light() -> None:
    code = ("import sys, _wizardarena_pytestplugin; "
            "print(sorted(m for m in ('numpy', 'pandas', 'scipy', 'wizardarena', 'httpx') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_a_run_that_uses_no_fixture_never_imports_the_library(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import sys

        def test_untouched(request):
            assert request.config.pluginmanager.has_plugin("wizardarena")
            assert "wizardarena" not in sys.modules
    """)
    pytester.runpytest_subprocess().assert_outcomes(passed=1)


def test_warning_filters_are_left_alone(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import warnings

        def test_filters():
            print("FILTERS", repr(warnings.filters))
    """)
    on = pytester.runpytest_subprocess("-s").stdout.str()
    off = pytester.runpytest_subprocess("-s", "-p", "no:wizardarena").stdout.str()
    lines = [[ln.split("FILTERS", 1)[1] for ln in out.splitlines() if "FILTERS" in ln]
             for out in (on, off)]
    assert lines[0] and lines[0] == lines[1]


def test_battle_log_factory_is_seeded_from_the_node_id(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("""
        import hashlib

        import pandas as pd

        def digest(log):
            return hashlib.sha1(pd.util.hash_pandas_object(log.battles).values).hexdigest()[:12]

        def test_one(battle_log_factory):
            first, second = battle_log_factory(), battle_log_factory()
            print("DIGEST one", digest(first), digest(second), first.seed)
            assert digest(first) != digest(second)

        def test_two(battle_log_factory):
            log = battle_log_factory()
            print("DIGEST two", digest(log), "-", log.seed)
            again = battle_log_factory(rng=log.seed)
            assert digest(again) == digest(log)
            # the design the fixture promises: ties, prompts, unbalanced pairs
            b = log.battles
            assert (b["winner"] == "tie").mean() > 0.05
            assert b["question_id"].nunique() == 100
            pairs = b.groupby([b[["model_a", "model_b"]].min(axis=1),
                               b[["model_a", "model_b"]].max(axis=1)]).size()
            assert pairs.max() > 4 * pairs.min()
            assert abs(log.truth.mean() - 1000) < 1e-9
    """)
    runs = []
    for _ in range(2):
        result = pytester.runpytest("-s")
        result.assert_outcomes(passed=2)
        runs.append([ln.split("DIGEST", 1)[1] for ln in result.stdout.str().splitlines()
                     if "DIGEST" in ln])
    assert runs[0] == runs[1] and len(runs[0]) == 2  # every run draws the same logs
    one, two = (ln.split() for ln in sorted(runs[0]))
    assert len({one[1], one[2], two[1]}) == 3  # tests and calls draw different logs


def test_sim_arena_started_configured_and_stopped(pytester: pytest.Pytester) -> None:
    port_file = pytester.path / "ports.txt"
    pytester.makepyfile(f"""
        import httpx
        import pytest

        def test_default(sim_arena):
            names = [m["id"] for m in httpx.get(sim_arena.base_url + "/models").json()["data"]]
            assert names[:3] == ["model-a", "model-b", "model-c"]
            assert sim_arena.judge_model in names
            with open({str(port_file)!r}, "a") as fh:
                fh.write(f"{{sim_arena.port}}\\n")

        @pytest.mark.sim_arena({{"ours": 1150, "theirs": 1100}}, faults={{"rate_500": 1.0}})
        def test_faults(sim_arena):
            assert list(sim_arena.true_ratings.index) == ["ours", "theirs"]
            body = {{"model": "ours", "messages": [{{"role": "user", "content": "hi"}}]}}
            r = httpx.post(sim_arena.base_url + "/chat/completions", json=body)
            assert r.status_code == 500 and "error" in r.json()
            assert sim_arena.stats().faults == {{"500": 1}}

        def test_factory(sim_arena_factory):
            a = sim_arena_factory({{"x": 1000, "y": 900}})
            b = sim_arena_factory(faults={{"rate_429": 1.0, "retry_after": 0.5}})
            msg = [{{"role": "user", "content": "q"}}]
            r = httpx.post(b.base_url + "/chat/completions",
                           json={{"model": "model-a", "messages": msg}})
            assert r.status_code == 429 and r.headers["retry-after"] == "0.5"
            assert a.port != b.port
            with open({str(port_file)!r}, "a") as fh:
                fh.write(f"{{a.port}}\\n{{b.port}}\\n")

        def test_unknown_switch(sim_arena_factory):
            with pytest.raises(ValueError, match="unknown fault switch"):
                sim_arena_factory(faults={{"rate_502": 1.0}})
    """)
    result = pytester.runpytest("--strict-markers")
    result.assert_outcomes(passed=4)
    ports = [int(p) for p in port_file.read_text().split()]
    assert len(ports) == 3
    for port in ports:  # every arena was stopped after its test
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
            pass


def test_assertion_failures_read_well_in_pytest(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(textwrap.dedent("""
        from wizardarena.testing import assert_better

        def test_close_models(named_battle_log):
            board = named_battle_log("ties").rank(unit="prompt", rounds=200, rng=0)
            assert_better(board, "gamma", "delta")
    """))
    result = pytester.runpytest()
    result.assert_outcomes(failed=1)
    out = result.stdout.str()
    assert "AssertionError: 'gamma' is not rated above 'delta' with 95% confidence." in out
    assert "to settle:   about" in out and "P(gamma − delta > 0) = 0.885" in out
    assert "def _raise" not in out and "def assert_better" not in out  # frames hidden
