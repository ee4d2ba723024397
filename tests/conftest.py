"""Shared fixtures. No global seeding: every test passes its own rng."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

import wizardarena.testing

# Property tests draw the same examples on every run (CI must not depend on luck), and write
# no example database into the checkout. A second profile draws fresh random examples, for a
# scheduled or manual run: ``python -m pytest --hypothesis-profile=random``
# (hypothesis' pytest plugin selects the profile; the seed it used is printed on failure).
settings.register_profile("wizardarena", derandomize=True, database=None, deadline=None)
settings.register_profile("random", derandomize=False, database=None, deadline=None)
settings.load_profile("wizardarena")

FIXTURES = Path(wizardarena.testing.logs_dir())
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def ray_runtime() -> Iterator[Any]:
    """A local Ray runtime with 2 CPUs, started once for every Ray test of the session
    (``engine="ray"`` then connects to it instead of starting its own)."""
    ray = pytest.importorskip(
        "ray", reason="the ray extra is missing (pip install -e '.[test]' installs it)")
    os.environ.pop("RAY_ADDRESS", None)  # never a cluster the machine happens to point at
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    ray.shutdown()
