"""Flywheel results: selected training data, selection statistics, atomic writers."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from wizardarena._io import atomic_write, atomic_write_bytes
from wizardarena._markdown import markdown_table
from wizardarena.exceptions import Param, render_parts

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["PROVENANCE", "FlywheelStats", "TrainingData", "export_frame", "export_schema",
           "selection_stats"]

#: provenance columns of every export, in order, with their types (``export_schema``)
PROVENANCE: tuple[tuple[str, str], ...] = (
    ("question_id", "string"), ("target", "string"), ("opponent", "string"),
    ("judge", "string"), ("margin", "float64"), ("round", "int64"), ("n_games", "int64"),
    ("turn", "int64"), ("category", "string"), ("subset", "string"),
    ("difficulty", "float64"),
)


def export_schema(kind: str, conversational: bool = True) -> pa.Schema:
    """The fixed Arrow schema of an export: the same columns and types in every round.

    ``messages`` (SFT) or ``prompt``, ``chosen``, ``rejected`` (preference; lists of
    ``{"role", "content"}`` structs, or strings with ``conversational=False``), then the
    :data:`PROVENANCE` columns. Unknown ``category`` / ``subset`` are ``""`` and an unknown
    ``difficulty`` is NaN, never null, so that a JSON reader infers the same types from every
    file (a column of nulls would be typed ``null``, and files of different rounds would not
    load together).
    """
    import pyarrow as pa

    message = pa.list_(pa.struct([("role", pa.string()), ("content", pa.string())]))
    text = message if conversational else pa.string()
    head = ([("messages", message)] if kind == "sft"
            else [("prompt", text), ("chosen", message if conversational else pa.string()),
                  ("rejected", message if conversational else pa.string())])
    types = {"string": pa.string(), "float64": pa.float64(), "int64": pa.int64()}
    return pa.schema(head + [(name, types[t]) for name, t in PROVENANCE])


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
        margin), ``missing_answer`` (selected groups without the answers they need, skipped
        with ``missing="skip"``), ``empty_chosen`` (the winner's answer is empty),
        ``identical_pair`` (preference pairs whose chosen and rejected answers are the same
        text), ``dropped_per_prompt`` (other opponents of a prompt with
        ``per_prompt="best"``), ``decontaminated`` (removed by the guard), ``exported``.
        ``selected`` = ``missing_answer + empty_chosen + identical_pair +
        dropped_per_prompt + decontaminated + exported``.
    by_opponent : DataFrame, indexed by opponent
        ``groups``, ``inconsistent``, ``lost`` (the target lost, any margin), ``selected``,
        ``exported``, ``mean_margin`` (of the exported rows), ``rating`` (the rating that
        chose between teachers with ``per_prompt="best"``; NaN when no choice needed one).
    by_category, by_subset : DataFrame
        Exported rows per category / subset: ``exported`` and ``mean_difficulty`` (NaN
        without difficulty scores); empty when the column is unknown.
    settings : mapping
        The options of the selection (``kind``, ``margin``, ``margin_source``,
        ``require_both_orders``, ``exclude_inconsistent``, ``missing``, ...) and
        ``largest_margin``, the largest loss margin of the groups the target lost (NaN if
        none); :meth:`why_empty` reads them.
    """

    summary: pd.Series
    by_opponent: pd.DataFrame
    by_category: pd.DataFrame
    by_subset: pd.DataFrame
    settings: Mapping[str, Any] = field(default_factory=dict)

    def why_empty(self, flags: Mapping[str, str] | None = None) -> str:
        """Why nothing was exported, step by step, with the option that changes it.

        Parameters
        ----------
        flags : mapping, optional
            ``{keyword: "--flag"}``: the options named in the message (``require_both_orders``,
            ``exclude_inconsistent``, ``margin``, ``margin_source``, ``missing``,
            ``eval_prompts``) are then spelled as this command line's flags (see
            :func:`~wizardarena.exceptions.render_parts`); by default as Python keywords.
        """
        s = {str(k): int(v) for k, v in self.summary.items()}
        st = self.settings
        why: list[list[object]] = []
        single = s["single_order"] if st.get("require_both_orders", True) else 0
        if single:
            who = "all" if single == s["groups"] else f"{single} of"
            why.append([f"{who} {s['groups']} (prompt, opponent) group(s) were judged in one "
                        "order only, and both orders are required (judge both orders, or pass ",
                        Param("require_both_orders", "False", cli=""), ")"])
        if s["excluded_inconsistent"]:
            why.append([f"{s['excluded_inconsistent']} group(s) are position-inconsistent (the "
                        "two orders disagree) and are excluded (pass ",
                        Param("exclude_inconsistent", "False", cli=""), " to keep them)"])
        if s["not_lost"]:
            why.append([f"the target won or tied {s['not_lost']} group(s)"])
        m = float(st.get("margin", math.nan))
        if st.get("margin_source") == "winner" and m > 1:  # whatever the games say
            lost = (f"the target lost {s['below_margin']} group(s), but "
                    if s["below_margin"] else "")
            why.append([lost, Param("margin_source", "'winner'"), " gives margins of at most "
                        "1, so ", Param("margin", f"{m:g}"), " can never be reached (pass ",
                        Param("margin", "1"), ", or a margin source with scores or labels)"])
        elif s["below_margin"]:
            top = float(st.get("largest_margin", math.nan))
            why.append([f"the target lost {s['below_margin']} group(s) by less than ",
                        Param("margin", f"{m:g}")]
                       + ([f" (the largest loss margin is {top:g})"] if not s["selected"]
                          else []))
        if s["missing_answer"]:
            why.append([f"{s['missing_answer']} selected group(s) lack an answer and were "
                        "skipped (", Param("missing", "'skip'", cli=""), ")"])
        if s["empty_chosen"]:
            why.append([f"the winner's answer is empty in {s['empty_chosen']} selected "
                        "group(s)"])
        if s["identical_pair"]:
            why.append([f"chosen and rejected are the same text in {s['identical_pair']} "
                        "selected group(s)"])
        if s["decontaminated"]:
            why.append([f"{s['decontaminated']} selected example(s) nearly copy the evaluation "
                        "set (", Param("eval_prompts"), ") and were removed"])
        kind = "preference" if st.get("kind") == "preference" else "SFT"
        parts: list[object] = [f"no {kind} examples exported from {s['games']} games of the "
                               "target: "]
        reasons: list[list[object]] = why or [["no group was selected"]]
        for k, reason in enumerate(reasons):
            if k:
                parts.append("; ")
            parts.extend(reason)
        return render_parts(parts, flags)

    def to_markdown(self) -> str:
        """The four tables as markdown sections."""
        steps = pd.DataFrame({"step": list(self.summary.index),
                              "count": [int(v) for v in self.summary.to_numpy()]})
        parts = [markdown_table(steps)]
        for title, t in (("opponent", self.by_opponent), ("category", self.by_category),
                         ("subset", self.by_subset)):
            if len(t):
                parts += ["", f"By {title}:", "",
                          markdown_table(t.reset_index(), float_format=".3g")]
        return "\n".join(parts)


@dataclass(frozen=True, eq=False)
class TrainingData:
    """Selected training examples, ready for TRL.

    Attributes
    ----------
    kind : {"sft", "preference"}
    frame : DataFrame
        One row per example: ``messages`` (SFT) or ``prompt``, ``chosen``, ``rejected``
        (preference), then the provenance columns; the columns and types of
        :func:`export_schema`, the same in every round.
    stats : FlywheelStats
    removed : DataFrame
        Prompts removed by the decontamination guard (``question_id``, ``reason``,
        ``matched_id``, ``similarity``); empty without a guard.
    conversational : bool
        Preference rows as message lists (True) or plain strings.
    """

    kind: str
    frame: pd.DataFrame
    stats: FlywheelStats
    removed: pd.DataFrame = field(default_factory=pd.DataFrame)
    conversational: bool = True

    def __len__(self) -> int:
        return len(self.frame)

    def __repr__(self) -> str:
        return f"TrainingData({self.kind}, {len(self)} examples)"

    @property
    def schema(self) -> pa.Schema:
        """The Arrow schema of the export (:func:`export_schema`)."""
        return export_schema(self.kind, self.conversational)

    def records(self) -> list[dict[str, Any]]:
        """The rows as plain Python dicts, as the writers write them.

        An unknown ``difficulty`` is NaN (written as ``NaN`` in JSON Lines, which Python's
        ``json``, pandas and pyarrow / ``datasets`` read), unknown ``category`` and ``subset``
        are ``""``: no column is ever null, so every file has the same inferred types.
        """
        return [{str(k): _plain(v) for k, v in row.items()}
                for row in self.frame.to_dict(orient="records")]

    def to_jsonl(self, path: str | os.PathLike[str]) -> Path:
        """Write JSON Lines atomically (temporary file, then rename); returns the path."""
        lines = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in self.records())
        return atomic_write_bytes(path, lines.encode("utf-8"))

    def to_parquet(self, path: str | os.PathLike[str]) -> Path:
        """Write Parquet atomically with the fixed :attr:`schema`; returns the path."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pylist(self.records(), schema=self.schema)
        return atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def export_frame(kind: str, rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The export rows of ``kind`` (``sft`` or ``preference``) as a frame with the columns
    and types of :func:`export_schema`."""
    cols = (["messages"] if kind == "sft" else ["prompt", "chosen", "rejected"]) + [
        name for name, _ in PROVENANCE]
    return pd.DataFrame(rows, columns=cols).astype(
        {name: t for name, t in PROVENANCE if t != "string"})


def selection_stats(grp: pd.DataFrame, frame: pd.DataFrame, summary: pd.Series,
                    rating: pd.Series | None, settings: dict[str, Any]) -> FlywheelStats:
    """The :class:`FlywheelStats` of a selection: ``grp`` the (prompt, opponent, judge, turn)
    groups with their ``inconsistent``, ``lost``, ``selected`` flags, ``frame`` the export,
    ``summary`` the step counts, ``rating`` the ratings that chose teachers (or None)."""
    by = grp.groupby("opponent", sort=True)
    exported = frame.groupby("opponent")["margin"]
    by_opp = pd.DataFrame({
        "groups": by.size(),
        "inconsistent": by["inconsistent"].sum().astype(np.int64),
        "lost": by["lost"].sum().astype(np.int64),
        "selected": by["selected"].sum().astype(np.int64),
    })
    by_opp["exported"] = exported.size().reindex(by_opp.index, fill_value=0).astype(np.int64)
    by_opp["mean_margin"] = exported.mean().reindex(by_opp.index)
    by_opp["rating"] = (rating.reindex(by_opp.index).astype(float) if rating is not None
                        else np.nan)
    by_opp.index.name = "opponent"
    parts = {}
    for name in ("category", "subset"):
        values = frame[name].astype(str)
        if (values == "").all():
            parts[name] = pd.DataFrame({"exported": pd.Series(dtype=np.int64),
                                        "mean_difficulty": pd.Series(dtype=float)})
            parts[name].index.name = name
            continue
        t = pd.DataFrame({name: values.replace("", "(none)"),
                          "difficulty": frame["difficulty"].to_numpy(dtype=float)})
        g = t.groupby(name)
        parts[name] = pd.DataFrame({"exported": g.size().astype(np.int64),
                                    "mean_difficulty": g["difficulty"].mean()})
    return FlywheelStats(summary=summary, by_opponent=by_opp, by_category=parts["category"],
                         by_subset=parts["subset"], settings=settings)


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
