"""A griffe extension for the documentation site: Sphinx roles in docstrings become links.

It also drops reST's literal-block markers (``Example::`` reads ``Example:``; a ``::`` line
alone goes), since the indented block after them is already code in Markdown.

The docstrings use numpydoc's Sphinx roles (``:func:`~wizardarena.rank```, ``:class:`Leaderboard```,
``:mod:``, ``:meth:``, ``:data:``, ``:attr:``), which mkdocstrings would print as they are. This
extension rewrites each into an optional cross-reference: a link when the target has an
entry on the site, plain code otherwise (autorefs' ``optional`` references never warn). A
target without a dot is looked up the way Sphinx does: in the object's class, its module,
then the package. ``~`` shows the last component only, as in Sphinx.

Loaded by ``mkdocs.yml`` (``extensions: [docs/_ext/sphinx_roles.py]``); not part of the
package.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_LITERAL_ALONE = re.compile(r"^[ \t]*::[ \t]*\n", re.M)
_LITERAL_END = re.compile(r"(\S)::[ \t]*$", re.M)
_ROLE = re.compile(
    r":(?:py:)?(?P<role>func|class|meth|mod|data|attr|exc|obj|const)"
    r":`(?P<tilde>~?)(?P<target>[\w.]+?)(?P<call>\(\))?`"
)


def _exists(loader: griffe.GriffeLoader, path: str) -> bool:
    try:
        loader.modules_collection[path]
    except (KeyError, ValueError, griffe.AliasResolutionError, griffe.CyclicAliasError):
        return False
    return True


def _resolve(obj: griffe.Object, target: str, loader: griffe.GriffeLoader) -> str:
    target = target.lstrip(".")
    scopes = []
    node: Any = obj
    while node is not None:
        scopes.append(node.path)
        node = node.parent
    for scope in ["", *scopes]:
        path = f"{scope}.{target}" if scope else target
        if _exists(loader, path):
            return path
    return target


def _rewrite(obj: griffe.Object, loader: griffe.GriffeLoader) -> None:
    if obj.docstring is not None:
        def repl(m: re.Match[str]) -> str:
            path = _resolve(obj, m["target"], loader)
            shown = m["target"].rsplit(".", 1)[-1] if m["tilde"] else m["target"].lstrip(".")
            if m["role"] in ("func", "meth"):
                shown += "()"
            return f'<autoref identifier="{path}" optional><code>{shown}</code></autoref>'

        text = _ROLE.sub(repl, obj.docstring.value)
        text = _LITERAL_END.sub(r"\1:", _LITERAL_ALONE.sub("", text))
        obj.docstring.value = text
    for member in obj.members.values():
        if not member.is_alias:
            _rewrite(member, loader)  # type: ignore[arg-type]


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles into optional autorefs once the whole package is loaded."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader,
                   **kwargs: Any) -> None:
        _rewrite(pkg, loader)
