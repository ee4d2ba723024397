"""docs/notebooks/quickstart.ipynb runs top to bottom in a real kernel (nbclient), with the
real data of ../shared/data when present and on simulated data without it, and shows what it
promises: the HTML table, the interval plot, the win matrix, progress widgets that finished,
and the agreement report's figures."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
pytest.importorskip("matplotlib")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "docs" / "notebooks" / "quickstart.ipynb"
SHARED_DATA = ROOT.parent / "shared" / "data"


def _run(nb: Any) -> Any:
    client = nbclient.NotebookClient(
        nb, timeout=600, kernel_name="python3", allow_errors=False,
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.execute()  # a cell that raises fails here (CellExecutionError, with its traceback)
    return nb


def _outputs(nb: Any) -> list[tuple[int, Any]]:
    return [(i, o) for i, c in enumerate(nb.cells) if c.cell_type == "code" for o in c.outputs]


def _text(nb: Any) -> str:
    parts = []
    for _, o in _outputs(nb):
        if o.output_type == "stream":
            parts.append(o.text)
        parts.append(str(o.get("data", {}).get("text/plain", "")))
        parts.append(str(o.get("data", {}).get("text/html", "")))
    return "\n".join(parts)


def _check(nb: Any) -> None:
    outs = _outputs(nb)
    assert not [o for _, o in outs if o.output_type == "error"]
    html = [str(o["data"]["text/html"]) for _, o in outs if "text/html" in o.get("data", {})]
    boards = [h for h in html if "wizardarena-leaderboard" in h]
    assert len(boards) == 2  # the ranked log and the arena's board, as HTML tables
    pngs = [o for _, o in outs if "image/png" in o.get("data", {})]
    assert len(pngs) == 4  # intervals, win matrix, agreement scatter, pair verdicts
    # the arena cell draws tqdm widgets (answers of three models, then the judgments)
    views = [(i, o) for i, o in outs
             if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert len({i for i, _ in views}) == 1 and len(views) >= 4
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    bars = {k: v["state"] for k, v in state.items() if v["model_name"] == "FloatProgressModel"}
    texts = " ".join(str(v["state"].get("value", "")) for v in state.values()
                     if v["model_name"] == "HTMLModel")
    shown = [o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"] for _, o in views]
    for model_id in shown:  # every bar shown ended full and green
        box = state[model_id]["state"]["children"]
        bar = bars[box[1].removeprefix("IPY_MODEL_")]
        assert bar["value"] == bar["max"] > 0 and bar["bar_style"] == "success"
    assert "judge" in texts and "180/180" in texts and "ok=180" in texts
    # nothing printed to stderr but the kernel's own notices
    errs = [o.text for _, o in outs if o.output_type == "stream" and o.name == "stderr"]
    assert not [e for e in errs if "Traceback" in e or "Warning" in e], errs


def test_committed_notebook_has_no_outputs() -> None:
    """Sources only: outputs are made when it runs (the test suite, the site build)."""
    raw = json.loads(NOTEBOOK.read_text(encoding="utf-8"))
    for cell in raw["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None
    assert "widgets" not in raw["metadata"]


def test_quickstart_runs_top_to_bottom() -> None:
    nb = _run(nbformat.read(NOTEBOOK, as_version=4))
    _check(nb)
    text = _text(nb)
    if SHARED_DATA.is_dir():
        assert "Arena-Hard-Auto battle log (real)" in text and "Athene-V2-Chat" in text
        assert "LMSYS 2023-10-02" in text or "spearman" in text
    else:
        assert "simulated battle log" in text and "is absent" in text


def test_quickstart_runs_without_the_shared_data() -> None:
    """The fallback a reader without ../shared/data gets: simulated log and reference."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "code" and "DATA = " in c.source)
    first.source += "\nDATA = None  # the test: as if ../shared/data were absent"
    nb = _run(nb)
    _check(nb)
    text = _text(nb)
    assert "simulated battle log (../shared/data is absent)" in text
    assert "../shared/data/lmsys is absent" in text and "wizard-70b" in text
