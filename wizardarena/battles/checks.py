"""Checks of a battle log that tell the user how to fix it: the columns a vocabulary needs,
which vocabulary would read a ``winner`` column, which layout
a log's columns follow, model names that differ only by case or spaces, the prompt column of
``unit="prompt"``, and the model names closest to an unknown anchor.

Pure: no I/O. Messages name arguments with :class:`~wizardarena.exceptions.Param`, so the
command line shows its flags.
"""

from __future__ import annotations

import difflib
import shlex
import warnings
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from wizardarena.battles.schema import LABELS, Vocabulary
from wizardarena.exceptions import DataWarning, Param, ValidationError

__all__ = [
    "MAX_SHOWN",
    "check_anchor",
    "check_prompt_column",
    "closest_names",
    "layout_hint",
    "name_groups",
    "required_columns",
    "show_rows",
    "vocabulary_hint",
]

#: offending rows an error message lists
MAX_SHOWN = 5


def show_rows(rows: np.ndarray, values: Sequence[Any]) -> str:
    """Render the first offending rows and their values for an error message."""
    shown = ", ".join(f"row {int(r)}: {v!r}" for r, v in zip(rows[:MAX_SHOWN], values))
    more = f" (and {len(rows) - MAX_SHOWN} more)" if len(rows) > MAX_SHOWN else ""
    return shown + more


def required_columns(names: Sequence[str], vocab: Vocabulary) -> list[str]:
    """The columns ``vocab`` needs, or a ValidationError naming the missing ones (and the
    layout or vocabulary the log's columns look like)."""
    need = (["left", "right", "winner"] if vocab is Vocabulary.LEFT_RIGHT
            else ["model_a", "model_b", "winner"])
    missing = [c for c in need if c not in names]
    if missing:
        raise ValidationError(
            f"battle log is missing required column(s) {missing}; expected columns "
            f"{need} (", Param("outcomes", repr(vocab.value)), f"); found {list(names)}",
            *layout_hint(names, vocab),
        )
    return need


def vocabulary_hint(values: Iterable[Any], current: Vocabulary) -> list[object]:
    """Message parts naming the vocabulary that would read these ``winner`` values."""
    labels = [v for v in values if v is not None and not (isinstance(v, float) and np.isnan(v))]
    if not labels:
        return []
    try:
        nums = {float(v) for v in labels if not isinstance(v, bool)}
        if len(nums) != len(set(labels)) and any(isinstance(v, bool) for v in labels):
            raise ValueError
    except (TypeError, ValueError):
        nums = None
    if nums is not None:
        if nums <= {0.0, 0.5, 1.0} and current is not Vocabulary.NUMERIC:
            return ["; these are the scores of ", Param("outcomes", "'numeric'"),
                    " (1 = model_a wins, 0 = model_b wins, 0.5 = tie)"]
        if 2.0 in nums and nums <= {0.0, 1.0, 2.0}:
            return ["; 1/2 look like the position of the winner, which no vocabulary "
                    "guesses: map them to 'model_a'/'model_b' (and the tie code to 'tie') "
                    "first, e.g. winner.map({1: 'model_a', 2: 'model_b', 0: 'tie'})"]
        return []
    texts = {str(v).strip() for v in labels}
    order = (Vocabulary.AB, Vocabulary.ARENA_HARD, Vocabulary.LEFT_RIGHT, Vocabulary.FASTCHAT)
    for vocab in order:
        if vocab is current:
            continue
        seen = texts
        if vocab is Vocabulary.ARENA_HARD:
            seen = {t[2:-2].strip() if t.startswith("[[") and t.endswith("]]") else t
                    for t in texts}
        if seen <= set(LABELS[vocab]):
            extra = (" (model names in columns left and right)"
                     if vocab is Vocabulary.LEFT_RIGHT else "")
            return ["; these are the labels of ", Param("outcomes", repr(vocab.value)), extra]

    def canon(x: str) -> str:
        return x.strip().lower().replace("-", "_").replace(" ", "_")

    for vocab in (Vocabulary.FASTCHAT, Vocabulary.AB, Vocabulary.LEFT_RIGHT):
        known = {canon(k): k for k in LABELS[vocab]}
        if all(canon(t) in known for t in texts):
            fix = {t: known[canon(t)] for t in sorted(texts) if t != known[canon(t)]}
            return ["; they look like the labels of ", Param("outcomes", repr(vocab.value)),
                    f" spelled differently: replace {fix} first"]
    return []


_NAME_COLUMNS = (("model_1", "model_2"), ("model1", "model2"), ("model_x", "model_y"),
                 ("modela", "modelb"), ("model-a", "model-b"), ("first", "second"))
_WINNER_COLUMNS = ("label", "verdict", "result", "outcome", "preference", "winner_model")


def layout_hint(names: Sequence[str], vocab: Vocabulary) -> list[object]:
    """Message parts for a missing column that another layout or vocabulary uses."""
    have = set(names)
    if vocab is not Vocabulary.LEFT_RIGHT and {"left", "right"} <= have and not (
        {"model_a", "model_b"} <= have
    ):
        return ["; its columns left/right hold the models (the llmfao layout): pass ",
                Param("outcomes", "'left-right'")]
    if vocab is Vocabulary.LEFT_RIGHT and {"model_a", "model_b"} <= have:
        return ["; it has model_a/model_b: pass ", Param("outcomes", "'fastchat'"),
                " (or the vocabulary its winner column uses)"]
    out: list[object] = []
    for a, b in _NAME_COLUMNS:
        if {a, b} <= have:
            out.append(f"; rename its columns {a!r}/{b!r} to 'model_a'/'model_b'")
            break
    if "winner" not in have:
        alt = [c for c in _WINNER_COLUMNS if c in have]
        if alt:
            out.append(f"; rename its column {alt[0]!r} to 'winner'")
    return out


def name_groups(
    models: tuple[str, ...], a: np.ndarray, b: np.ndarray, names: tuple[str, str],
    normalize: bool, *, rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Model names that differ only by case or surrounding spaces (``'gpt-4 '``, ``'GPT-4'``).

    They are almost always one model: raise a ValidationError listing every group, or with
    ``normalize`` merge each group into its most frequent spelling (stripped) and say so.
    ``rows`` (battles per model) replaces counting ``a`` and ``b`` when they are the rows of
    counts rather than battles.
    """
    keys = [m.strip().casefold() for m in models]
    groups: dict[str, list[int]] = {}
    for k, key in enumerate(keys):
        groups.setdefault(key, []).append(k)
    multi = [g for g in groups.values() if len(g) > 1]
    if not multi:
        return a, b, models
    if rows is None:
        rows = np.bincount(a, minlength=len(models)) + np.bincount(b, minlength=len(models))

    def show(g: list[int]) -> str:
        return "[" + ", ".join(
            f"{models[k]!r} ({int(rows[k])} row{'s' if rows[k] != 1 else ''})" for k in g
        ) + "]"

    if not normalize:
        listed = "; ".join(show(g) for g in multi[:10])
        more = f" (and {len(multi) - 10} more groups)" if len(multi) > 10 else ""
        raise ValidationError(
            f"model names in columns {names[0]!r}/{names[1]!r} differ only by case or "
            f"surrounding spaces, which almost always means one model: {listed}{more}; merge "
            "each group into its most frequent spelling with ",
            Param("normalize_names", "True"), ", or fix the names",
        )
    spelling = list(models)
    merged = []
    for g in multi:
        best = max(g, key=lambda k: (int(rows[k]), -k))
        target = models[best].strip()
        for k in g:
            spelling[k] = target
        merged.append(f"{target!r} <- {[models[k] for k in g]}")
    new_models = tuple(sorted(set(spelling)))
    pos = {m: i for i, m in enumerate(new_models)}
    remap = np.array([pos[m] for m in spelling], dtype=np.int32)
    warnings.warn(
        "normalize_names merged model names that differ only by case or surrounding spaces: "
        + "; ".join(merged),
        DataWarning,
        stacklevel=4,
    )
    return remap[a], remap[b], new_models


#: columns that often hold a prompt id under another name (suggested for ``cluster=``)
_PROMPT_COLUMNS = ("prompt_id", "uid", "prompt", "question", "conversation_id", "id",
                   "instruction", "turn_id")


def check_prompt_column(
    columns: Sequence[str], *, unit: str, ci: str = "bootstrap", cluster: str | None = None
) -> None:
    """Check that a log with these optional ``columns`` can be resampled as ``unit`` asks.

    Parameters
    ----------
    columns : sequence of str
        The log's optional columns (``extra_columns`` of a log or a dataset).
    unit : str
        The ``unit`` of :func:`wizardarena.rank`; only ``"prompt"`` needs a prompt column.
    ci : str
        The ``ci`` of :func:`wizardarena.rank`; ``"none"`` resamples nothing.
    cluster : str, optional
        The column holding the prompt id (default ``question_id``), e.g. llmfao's
        ``prompt``.

    Raises
    ------
    ValidationError
        ``unit="prompt"`` on a log without the column (naming ``cluster=`` and any column
        that looks like a prompt id), or ``cluster`` with ``unit="battle"``.
    """
    if unit != "prompt":
        if cluster is not None:
            raise ValidationError(
                Param("cluster", repr(cluster)), " names the prompt column for ",
                Param("unit", "'prompt'"), "; it has no effect with ",
                Param("unit", repr(unit)),
            )
        return
    column = "question_id" if cluster is None else str(cluster)
    if column in columns or ci == "none":
        return
    near = [c for c in _PROMPT_COLUMNS if c in columns]
    suggestion = near[0] if near else "..."
    raise ValidationError(
        Param("unit", "'prompt'"), " resamples prompts (a cluster bootstrap), so it needs a "
        f"prompt id column, and the battle log has no column {column!r} (its other columns: "
        f"{list(columns)}); name the prompt column with ",
        Param("cluster", repr(suggestion)),
        *([f" (its column {near[0]!r} looks like one)"] if near else []),
        ", or resample battles with ", Param("unit", "'battle'"),
    )


def closest_names(name: str, names: Iterable[str], n: int = 5) -> list[str]:
    """The names most similar to ``name`` (case-insensitive), best first: names containing
    it or contained in it, then :func:`difflib.get_close_matches`."""
    pool = [str(m) for m in names]
    low = {m.casefold(): m for m in pool}
    key = str(name).strip().casefold()
    out = [low[k] for k in sorted(low) if key and (key in k or k in key)]
    out += [low[k] for k in difflib.get_close_matches(key, list(low), n=n, cutoff=0.5)]
    return list(dict.fromkeys(out))[:n]


def check_anchor(models: Sequence[str], anchor: Mapping[str, float] | None) -> None:
    """Raise a ValidationError naming the closest model names when ``anchor`` names a model
    that is not among ``models`` (the log's; the anchor's value is validated by the fit)."""
    if not isinstance(anchor, Mapping) or len(anchor) != 1:
        return
    (name,) = anchor
    if name in models:
        return
    close = closest_names(str(name), tuple(models))
    hint = f"; the closest names in the log: {close}" if close else (
        f"; its models are {list(models)[:10]}")
    value = anchor[name]
    shown = f"{value:g}" if isinstance(value, float) else str(value)
    raise ValidationError(
        Param("anchor", f"{{{name!r}: {shown}}}", cli=shlex.quote(f"{name}={shown}")),
        f" names a model that is not in the battle log{hint}",
    )
