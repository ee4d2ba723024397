"""The documentation site: every public name has a rendered reference entry, every page is
in the navigation, and ``mkdocs build --strict`` passes (when the ``docs`` extra is
installed; CI installs it and also runs the full build with the notebook executed)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import wizardarena as wa

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
API = DOCS / "api"


def _directives() -> dict[str, str]:
    """``::: identifier`` -> API page."""
    out: dict[str, str] = {}
    for page in sorted(API.glob("*.md")):
        for m in re.finditer(r"^::: ([\w.]+)", page.read_text(encoding="utf-8"), re.M):
            out[m.group(1)] = page.stem
    return out


def test_every_public_name_has_a_reference_entry() -> None:
    entries = _directives()
    missing = [n for n in wa.__all__ if f"wizardarena.{n}" not in entries]
    assert not missing, f"add `::: wizardarena.NAME` to a page of docs/api/: {missing}"
    index = (API / "index.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"\[`(\w+)`\]\[wizardarena\.\1\]", index))
    assert listed == set(wa.__all__) - {"__version__"}  # the overview table lists them all


def test_every_page_is_in_the_navigation() -> None:
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    nav = set(re.findall(r"^\s+- (?:[^:\n]+: )?([\w/.-]+\.(?:md|ipynb))\s*$", config, re.M))
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")
             if "_ext" not in p.parts} | {"notebooks/quickstart.ipynb"}
    assert pages == nav
    nav_order = re.findall(r"^\s+- (?:[^:\n]+: )?([\w/.-]+\.(?:md|ipynb))\s*$", config, re.M)
    # the getting-started path comes first, the guides next, the API reference last
    assert nav_order[:4] == ["index.md", "getting-started.md", "notebooks/quickstart.ipynb",
                             "progress.md"]
    first_api = nav_order.index("api/index.md")
    assert all(not p.startswith("api/") for p in nav_order[:first_api])
    assert all(p.startswith("api/") for p in nav_order[first_api:])


def test_readme_links_the_site_build_and_the_notebook() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "mkdocs build --strict" in readme and "mkdocs serve" in readme
    assert "docs/notebooks/quickstart.ipynb" in readme
    assert "pip install -e '.[docs]'" in readme


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("mkdocs", reason="the docs extra is not installed")
    pytest.importorskip("mkdocstrings")
    pytest.importorskip("mkdocs_jupyter")
    out = tmp_path_factory.mktemp("site")
    env = {**os.environ, "WIZARDARENA_DOCS_EXECUTE": "false", "NO_MKDOCS_2_WARNING": "1"}
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                          str(out)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=600)
    warnings = [line for line in run.stderr.splitlines() if "WARNING" in line]
    assert run.returncode == 0, "\n".join(warnings) or run.stderr[-3000:]
    return out


def test_strict_build_renders_every_public_name(site: Path) -> None:
    html = {p.parent.name: p.read_text(encoding="utf-8")
            for p in (site / "api").glob("*/index.html")}
    for name in wa.__all__:
        page = _directives()[f"wizardarena.{name}"]
        text = html[page] if page != "index" else (site / "api" / "index.html").read_text(
            encoding="utf-8")
        m = re.search(rf'id="wizardarena\.{re.escape(name)}"', text)
        assert m, f"wizardarena.{name} has no rendered entry on api/{page}"
        # the entry has content after its heading (a signature, a docstring or a value)
        assert len(re.sub(r"<[^>]+>", "", text[m.end():m.end() + 3000]).strip()) > 20, name
    # numpydoc sections rendered as tables, Sphinx roles turned into links or code
    assert "Parameters:" in html["ratings"] and ":func:`" not in html["ratings"]
    assert not any(":class:`" in t for t in html.values())


def test_strict_build_has_every_page(site: Path) -> None:
    for page in ("getting-started", "progress", "ratings", "arena", "testset", "agreement",
                 "flywheel", "ci", "notebooks/quickstart"):
        assert (site / page / "index.html").is_file(), page
    assert (site / "img" / "agreement_gpt4_vs_lmsys.png").is_file()


def test_notebook_progress_widgets_render_as_static_html() -> None:
    """The site hook draws the saved final state of tqdm's widgets (offline too)."""
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("static_widgets",
                                                  DOCS / "_ext" / "static_widgets.py")
    assert spec is not None and spec.loader is not None
    hook = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hook)
    state = {"state": {
        "box": {"model_name": "HBoxModel", "state": {"children": ["IPY_MODEL_d", "IPY_MODEL_b",
                                                                  "IPY_MODEL_t"]}},
        "d": {"model_name": "HTMLModel", "state": {"value": "judge: 100%"}},
        "b": {"model_name": "FloatProgressModel",
              "state": {"value": 180.0, "max": 180.0, "bar_style": "success"}},
        "t": {"model_name": "HTMLModel", "state": {"value": " 180/180 [00:01&lt;00:00]"}},
    }}
    page = ('<div><script type="application/vnd.jupyter.widget-view+json">\n'
            '{"version_major": 2, "version_minor": 0, "model_id": "box"}\n</script></div>'
            '<script type="application/vnd.jupyter.widget-state+json">'
            f"{json.dumps(state)}</script>")
    out = hook.on_page_content(page, page=None, config=None, files=None)
    assert "widget-view+json" not in out
    assert '<progress value="180" max="180"' in out and "judge: 100%" in out
    assert "180/180 [00:01&lt;00:00]" in out and "#2ca02c" in out
    plain = "<p>no widgets</p>"
    assert hook.on_page_content(plain, page=None) == plain
