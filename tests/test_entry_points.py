"""Every entry point that takes a battle log takes it in every form ``read_battles`` reads:
a path (.csv / .parquet / .jsonl), a DataFrame, records or a BattleLog."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import wizardarena as wa
from wizardarena.testset.difficulty import BattleDifficulty


def _log() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = []
    for q in range(12):
        for a, b in (("s", "w"), ("s", "m"), ("m", "w")):
            for game, (first, second) in enumerate(((a, b), (b, a))):
                winner = "model_a" if (rng.random() < 0.7) == (first == a) else "model_b"
                rows.append({"question_id": f"q{q}", "model_a": first, "model_b": second,
                             "winner": winner, "game": game})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_battle_difficulty_accepts_a_path(tmp_path: Path, suffix: str) -> None:
    frame = _log()
    expected = BattleDifficulty(frame).table
    path = tmp_path / f"battles{suffix}"
    getattr(wa.read_battles(frame), f"to_{suffix[1:]}")(path)
    got = BattleDifficulty(path).table
    pd.testing.assert_frame_equal(got.sort_index(), expected.sort_index(), check_dtype=False,
                                  check_index_type=False)
    pd.testing.assert_frame_equal(BattleDifficulty(str(path)).table.sort_index(),
                                  expected.sort_index(), check_dtype=False,
                                  check_index_type=False)


def test_battle_difficulty_accepts_records_and_battle_logs() -> None:
    frame = _log()
    expected = BattleDifficulty(frame).table
    for source in (frame.to_dict("records"), wa.read_battles(frame)):
        pd.testing.assert_frame_equal(BattleDifficulty(source).table, expected)
    with pytest.raises(wa.ValidationError, match="battle log file not found"):
        BattleDifficulty("no-such-log.parquet")
