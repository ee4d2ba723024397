"""Flywheel results: selected training data, selection statistics, atomic writers."""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from wizardarena._io import atomic_write, atomic_write_bytes

__all__ = ["FlywheelStats", "TrainingData"]


@dataclass(frozen=True)
class FlywheelStats:
    """What a selection did, step by step.

    Attributes
    ----------
    summary : Series
        ``games`` (target games considered), ``groups`` ((prompt, opponent, judge) groups),
        ``single_order`` (groups with one order; excluded when both orders are required),
        ``inconsistent`` (position-inconsistent groups), ``excluded_inconsistent``,
        ``not_lost`` (the target won or tied), ``below_margin``, ``selected`` (groups over the
        margin), ``dropped_per_prompt`` (other opponents of a prompt with
        ``per_prompt="best"``), ``decontaminated`` (removed by the guard), ``exported``.
    by_opponent : DataFrame, indexed by opponent
        ``groups``, ``inconsistent``, ``lost`` (the target lost, any margin), ``selected``,
        ``exported``, ``mean_margin`` (of the exported rows).
    by_category, by_subset : DataFrame
        Exported rows per category / subset: ``exported`` and ``mean_difficulty`` (NaN
        without difficulty scores); empty when the column is unknown.
    """

    summary: pd.Series
    by_opponent: pd.DataFrame
    by_category: pd.DataFrame
    by_subset: pd.DataFrame

    def to_markdown(self) -> str:
        """The four tables as markdown sections."""
        parts = ["| step | count |", "|:---|---:|"]
        parts += [f"| {k} | {int(v)} |" for k, v in self.summary.items()]
        for title, t in (("opponent", self.by_opponent), ("category", self.by_category),
                         ("subset", self.by_subset)):
            if len(t):
                parts += ["", f"By {title}:", "", _markdown(t)]
        return "\n".join(parts)


@dataclass(frozen=True, eq=False)
class TrainingData:
    """Selected training examples, ready for TRL.

    Attributes
    ----------
    kind : {"sft", "preference"}
    frame : DataFrame
        One row per example: ``messages`` (SFT) or ``prompt``, ``chosen``, ``rejected``
        (preference), then the provenance columns.
    stats : FlywheelStats
    removed : DataFrame
        Prompts removed by the decontamination guard (``question_id``, ``reason``,
        ``matched_id``, ``similarity``); empty without a guard.
    """

    kind: str
    frame: pd.DataFrame
    stats: FlywheelStats
    removed: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return f"TrainingData({self.kind}, {len(self)} examples)"

    def records(self) -> list[dict[str, Any]]:
        """The rows as JSON-ready dicts (NaN becomes None)."""
        return [{str(k): _json_value(v) for k, v in row.items()}
                for row in self.frame.to_dict(orient="records")]

    def to_jsonl(self, path: str | os.PathLike[str]) -> Path:
        """Write JSON Lines atomically (temporary file, then rename); returns the path."""
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.records())
        return atomic_write_bytes(path, lines.encode("utf-8"))

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Write Parquet atomically (list-of-struct message columns); returns the path."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(self.records())
        return atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and math.isnan(v):
        return None
    if isinstance(v, np.generic):
        return _json_value(v.item())
    return v


def _markdown(t: pd.DataFrame) -> str:
    f = t.reset_index()
    head = "| " + " | ".join(str(c) for c in f.columns) + " |"
    sep = "|" + "|".join("---:" if i else ":---" for i in range(f.shape[1])) + "|"

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "" if math.isnan(v) else f"{v:.3g}"
        return str(v)

    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in f.itertuples(False)]
    return "\n".join([head, sep, *body])

