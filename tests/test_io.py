"""Files the library writes honour the user's umask (and keep the mode of a file they
replace), like a plain ``open(path, "w")``; nothing is left half-written."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

import wizardarena as wa
from wizardarena._io import atomic_write_text, current_umask
from wizardarena.cli import main


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_027() -> Iterator[int]:
    old = os.umask(0o027)
    try:
        yield 0o027
    finally:
        os.umask(old)


def test_current_umask_reads_without_changing(umask_027: int) -> None:
    assert current_umask() == 0o027
    assert current_umask() == 0o027


def test_new_file_gets_0666_minus_umask(tmp_path: Path, umask_027: int) -> None:
    path = atomic_write_text(tmp_path / "report.md", "hello\n")
    assert _mode(path) == 0o640
    os.umask(0o022)
    assert _mode(atomic_write_text(tmp_path / "other.md", "x")) == 0o644


def test_replacing_keeps_the_existing_mode(tmp_path: Path, umask_027: int) -> None:
    path = tmp_path / "shared.csv"
    path.write_text("old")
    path.chmod(0o664)
    atomic_write_text(path, "new")
    assert path.read_text() == "new" and _mode(path) == 0o664


def test_every_writer_honours_the_umask(tmp_path: Path, umask_027: int) -> None:
    log = wa.simulate_battles({"a": 1100, "b": 1000, "c": 900}, 300, prompts=10, rng=0)
    battles = wa.read_battles(log)
    written = []
    for name in ("log.parquet", "log.jsonl", "log.csv"):
        getattr(battles, f"to_{name.split('.')[1]}")(tmp_path / name)
        written.append(tmp_path / name)
    board = wa.rank(battles, rounds=20, rng=0)
    board.to_csv(tmp_path / "board.csv")
    written.append(tmp_path / "board.csv")
    assert main(["rank", str(tmp_path / "log.csv"), "--rounds", "20", "--seed", "0",
                 "--format", "md", "--out", str(tmp_path / "rank.md")]) == 0
    written.append(tmp_path / "rank.md")
    ref = pd.DataFrame({"model": ["a", "b", "c"], "rating": [1200.0, 1100.0, 1000.0]})
    ref.to_csv(tmp_path / "ref.csv", index=False)
    assert main(["agree", str(tmp_path / "log.csv"), "--reference", str(tmp_path / "ref.csv"),
                 "--rounds", "20", "--seed", "0", "--out", str(tmp_path / "report.html")]) == 0
    written.append(tmp_path / "report.html")
    for path in written:
        assert _mode(path) == 0o640, path
