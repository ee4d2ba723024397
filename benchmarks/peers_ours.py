"""Benchmark cases for wizardarena itself: end to end from the Parquet path via ``rank()``."""

from __future__ import annotations

import sys
import warnings
from typing import Any

import pandas as pd

from wizardarena.api import rank
from wizardarena.leaderboard import Leaderboard


def _board(path: str, **kwargs: Any) -> Leaderboard:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        board = rank(path, **kwargs)
    if not isinstance(board, Leaderboard):
        raise TypeError(f"rank() returned {type(board).__name__}")
    for w in caught:
        # surfaced to the parent via stderr; a ConvergenceWarning is worth knowing about
        print(f"warning: {w.category.__name__}: {w.message}", file=sys.stderr)
    return board


def point(path: str, *, rounds: int, seed: int) -> pd.Series:
    """``rank(path, ci="none")``: read, validate, encode, count, Newton fit."""
    return _board(path, ci="none").table["rating"]


def battle_bootstrap(path: str, *, rounds: int, seed: int) -> pd.Series:
    """``rank(path, ci="bootstrap", unit="battle", rounds=rounds)``."""
    return _board(path, ci="bootstrap", unit="battle", rounds=rounds, rng=seed).table["rating"]


def prompt_bootstrap(path: str, *, rounds: int, seed: int) -> pd.Series:
    """``rank(path, ci="bootstrap", unit="prompt", rounds=rounds)`` (clusters: question_id)."""
    return _board(path, ci="bootstrap", unit="prompt", rounds=rounds, rng=seed).table["rating"]


def sandwich(path: str, *, rounds: int, seed: int) -> pd.Series:
    """``rank(path, ci="sandwich")``."""
    return _board(path, ci="sandwich").table["rating"]
