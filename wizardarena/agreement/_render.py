"""Rendering helpers of :class:`~wizardarena.agreement.AgreementReport` (internal)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px;color:#222}"
    "table.wa-table{border-collapse:collapse;margin:0.5em 0 1.5em;font-size:0.9em}"
    ".wa-table th,.wa-table td{padding:3px 9px;border-bottom:1px solid #ddd;text-align:right}"
    ".wa-table th{background:#f3f3f3}"
    ".wa-figs{display:flex;flex-wrap:wrap;gap:1em}"
    "figure{margin:0}figure img{max-width:540px;border:1px solid #eee}"
)


def _md_table(frame: pd.DataFrame) -> str:
    def fmt(v: Any) -> str:
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            return ""
        if isinstance(v, float):
            return f"{v:g}"
        return str(v).replace("|", "\\|")

    head = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    sep = "|" + "|".join("---" for _ in frame.columns) + "|"
    rows = ["| " + " | ".join(fmt(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join([head, sep, *rows])
