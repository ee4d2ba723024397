"""The one markdown-table writer of the package (GitHub-flavoured)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd

__all__ = ["markdown_cell", "markdown_table"]


def markdown_cell(value: Any, float_format: str = "g") -> str:
    """One cell: empty for None, NA and NaN; floats with ``float_format``; ``|`` and line
    breaks escaped, so a value cannot break the table."""
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, float):
        return "" if math.isnan(value) else format(value, float_format)
    return str(value).replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def markdown_table(frame: pd.DataFrame, *, float_format: str = "g",
                   align: Sequence[str] | str | None = "first-left") -> str:
    """``frame`` (its columns; reset the index first to show it) as a markdown table.

    Parameters
    ----------
    frame : DataFrame
    float_format : str, default "g"
        Format of float cells (:func:`markdown_cell`).
    align : "first-left", None, or one of ``"left"``, ``"right"``, ``"center"`` per column
        ``"first-left"``: the first column left, the others right (a board's models and
        numbers); None: no alignment marks.
    """
    n = frame.shape[1]
    marks = {"left": ":---", "right": "---:", "center": ":---:", None: "---"}
    if align == "first-left":
        sep = [":---" if i == 0 else "---:" for i in range(n)]
    elif align is None:
        sep = ["---"] * n
    else:
        if isinstance(align, str) or len(align) != n:
            raise ValueError(f"align must name one alignment per column ({n}); got {align!r}")
        sep = [marks[a] for a in align]
    head = "| " + " | ".join(markdown_cell(c) for c in frame.columns) + " |"
    rows = ["| " + " | ".join(markdown_cell(v, float_format) for v in row) + " |"
            for row in frame.itertuples(index=False)]
    return "\n".join([head, "|" + "|".join(sep) + "|", *rows])
