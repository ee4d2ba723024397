"""Style features of answers for style control.

LLM judges and people prefer long, heavily formatted answers. Style control (LMSYS, 2024)
adds per-battle style features to the Bradley-Terry model so that ratings measure what is
left once style is accounted for. The default features follow LMSYS:

==========  ==============================================================================
feature     count per answer (summed over the assistant turns of a conversation)
==========  ==============================================================================
tokens      tokens: ``\\w+`` runs and single punctuation marks (or ``tokenizer(text)``)
headers     markdown headers: lines starting with 1-6 ``#`` and a space
lists       list items: lines starting with ``-``, ``*``, ``+`` or ``1.`` / ``1)`` and a space
bold        bold spans: ``**text**`` or ``__text__``
==========  ==============================================================================

Markdown elements inside fenced code blocks (```` ``` ... ``` ````) are not counted, as in
FastChat. A battle's feature is the normalised difference ``(a − b) / (a + b + 1)`` of the
two answers' counts, which lies in (−1, 1) and flips sign when the answers are swapped.

Pure: no I/O.

References
----------
LMSYS, "Does style matter? Disentangling style and substance in Chatbot Arena" (blog,
2024-08-29); FastChat ``fastchat/serve/monitor/elo_analysis.py`` (``count_markdown_elements``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from wizardarena.exceptions import ValidationError

__all__ = [
    "STYLE_FEATURES",
    "answer_style",
    "normalized_difference",
    "style_features",
]

#: the default style features, in the order of the coefficient table
STYLE_FEATURES: tuple[str, ...] = ("tokens", "headers", "lists", "bold")

_TOKEN = re.compile(r"\w+|[^\w\s]")
_CODE = re.compile(r"```.*?(?:```|\Z)", re.DOTALL)
_HEADER = re.compile(r"^#{1,6}\s", re.MULTILINE)
_LIST = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]", re.MULTILINE)
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")

Tokenizer = Callable[[str], int]


def _turns(value: Any, row: int) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple, np.ndarray)) and all(isinstance(v, str) for v in value):
        return [str(v) for v in value]
    raise ValidationError(
        "an answer must be a str or a list of str (one per assistant turn); "
        f"answer {row} is {type(value).__name__}: {str(value)[:60]!r}"
    )


def answer_style(
    answers: Sequence[str | Sequence[str]] | pd.Series,
    *,
    tokenizer: Tokenizer | None = None,
) -> pd.DataFrame:
    """Count the style elements of each answer.

    Parameters
    ----------
    answers : sequence of str or of list of str, length n
        One answer per entry; a list is the assistant turns of one conversation (counts are
        summed over turns, as LMSYS does).
    tokenizer : callable, optional
        ``tokenizer(text) -> int`` number of tokens (e.g. ``lambda t: len(enc.encode(t))``
        with tiktoken). Default: the number of ``\\w+`` runs plus punctuation marks, a
        dependency-free stand-in that is proportional to BPE counts for prose.

    Returns
    -------
    DataFrame, shape (n, 4)
        Columns :data:`STYLE_FEATURES` (int64), index of ``answers`` (or a RangeIndex).

    Examples
    --------
    >>> answer_style(["## Title\\n- one\\n- **two**", "plain"]).to_dict("list")
    {'tokens': [11, 1], 'headers': [1, 0], 'lists': [2, 0], 'bold': [1, 0]}
    """
    index = answers.index if isinstance(answers, pd.Series) else None
    values = list(answers)
    out = np.zeros((len(values), 4), dtype=np.int64)
    for k, value in enumerate(values):
        for text in _turns(value, k):
            if tokenizer is None:
                n_tok = len(_TOKEN.findall(text))
            else:
                n_tok = tokenizer(text)
                if not isinstance(n_tok, (int, np.integer)) or n_tok < 0:
                    raise ValidationError(
                        f"tokenizer must return a non-negative int; got {n_tok!r} for answer {k}"
                    )
            body = _CODE.sub("", text)
            out[k, 0] += int(n_tok)
            out[k, 1] += len(_HEADER.findall(body))
            out[k, 2] += len(_LIST.findall(body))
            out[k, 3] += len(_BOLD.findall(body))
    return pd.DataFrame(out, columns=list(STYLE_FEATURES), index=index)


def normalized_difference(a: ArrayLike, b: ArrayLike) -> np.ndarray:
    """``(a − b) / (a + b + 1)`` elementwise, for non-negative counts.

    Parameters
    ----------
    a, b : array_like, same shape
        Non-negative counts of the answers of ``model_a`` and ``model_b``.

    Returns
    -------
    ndarray of float64, same shape, values in (−1, 1)
    """
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    if x.shape != y.shape:
        raise ValidationError(f"counts of both sides must have one shape; got {x.shape}, {y.shape}")
    bad = np.flatnonzero(~np.isfinite(x) | ~np.isfinite(y) | (x < 0) | (y < 0))
    if bad.size:
        raise ValidationError(
            "style counts must be finite and non-negative; offending battles "
            f"{bad[:5].tolist()} with values a={x.ravel()[bad[:5]].tolist()}, "
            f"b={y.ravel()[bad[:5]].tolist()}"
        )
    return (x - y) / (x + y + 1.0)


def style_features(counts_a: pd.DataFrame, counts_b: pd.DataFrame) -> pd.DataFrame:
    """Per-battle style features from the two answers' counts.

    Parameters
    ----------
    counts_a, counts_b : DataFrame, shape (N, F)
        Counts of the answers shown first and second (e.g. from :func:`answer_style`), with
        the same columns.

    Returns
    -------
    DataFrame, shape (N, F)
        ``(a − b) / (a + b + 1)`` per column, index of ``counts_a``.
    """
    if list(counts_a.columns) != list(counts_b.columns) or len(counts_a) != len(counts_b):
        raise ValidationError(
            "counts_a and counts_b must have the same columns and length; got "
            f"{list(counts_a.columns)} ({len(counts_a)}) and {list(counts_b.columns)} "
            f"({len(counts_b)})"
        )
    diff = normalized_difference(counts_a.to_numpy(dtype=float), counts_b.to_numpy(dtype=float))
    return pd.DataFrame(diff, columns=list(counts_a.columns), index=counts_a.index)
