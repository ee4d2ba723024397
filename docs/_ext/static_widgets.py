"""An mkdocs hook: the notebook's progress-bar widgets, drawn as static HTML.

An executed notebook keeps its ``tqdm.auto`` bars as ipywidgets: an output that names a widget
model, and the models' final state in the notebook's metadata. A browser shows them only
after loading the widget manager from a CDN, and shows nothing offline. This hook replaces
each widget view on a rendered page with plain HTML drawn from the saved final state (the
bar's description, a ``<progress>`` element at its final value, and the counts), so the
site shows every bar as it ended, with or without a network.

Loaded by ``mkdocs.yml`` (``hooks: [docs/_ext/static_widgets.py]``); not part of the
package.
"""

from __future__ import annotations

import json
import re
from typing import Any

_STATE = re.compile(
    r'<script type="application/vnd\.jupyter\.widget-state\+json">(.*?)</script>', re.S)
_VIEW = re.compile(
    r'<script type="application/vnd\.jupyter\.widget-view\+json">(.*?)</script>', re.S)
_COLOURS = {"success": "#2ca02c", "danger": "#d62728", "warning": "#ff7f0e", "info": "#1f77b4"}


def render(model_id: str, state: dict[str, Any]) -> str:
    """Static HTML of one widget model (an HBox of HTML and progress widgets, as tqdm
    draws them); unknown widgets give an empty string."""
    entry = state.get(model_id.removeprefix("IPY_MODEL_"), {})
    name, s = entry.get("model_name"), entry.get("state", {})
    if name in ("HBoxModel", "VBoxModel"):
        inner = "".join(render(str(c), state) for c in s.get("children", []))
        direction = "row" if name == "HBoxModel" else "column"
        return (f'<div class="wa-widget" style="display:flex;flex-direction:{direction};'
                f'align-items:center;gap:0.5em;font-family:monospace;font-size:0.8em">'
                f"{inner}</div>")
    if name == "HTMLModel":
        return f"<span>{s.get('value', '')}</span>"  # already HTML (tqdm escapes its text)
    if name in ("FloatProgressModel", "IntProgressModel"):
        colour = _COLOURS.get(str(s.get("bar_style") or ""), "#1f77b4")
        return (f'<progress value="{float(s.get("value", 0)):g}" '
                f'max="{float(s.get("max", 1)):g}" style="accent-color:{colour};width:14em">'
                "</progress>")
    return ""


def static_widgets(html: str) -> str:
    """Replace every widget view of a rendered notebook page by its static HTML."""
    found = _STATE.search(html)
    if found is None:
        return html
    state = json.loads(found.group(1)).get("state", {})

    def view(m: re.Match[str]) -> str:
        model_id = json.loads(m.group(1)).get("model_id", "")
        return render(model_id, state)

    return _VIEW.sub(view, html)


def on_page_content(html: str, **kwargs: Any) -> str:
    """mkdocs hook: called with every page's HTML."""
    return static_widgets(html)
