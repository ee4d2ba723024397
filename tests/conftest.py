"""Shared fixtures. No global seeding: every test passes its own rng."""

from __future__ import annotations

from pathlib import Path

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
