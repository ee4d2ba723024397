"""Style features of answers for style control, and a simulator of style-biased battles.

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
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import expit

from wizardarena.battles import WINNER_LABELS
from wizardarena.exceptions import ValidationError

__all__ = [
    "STYLE_FEATURES",
    "answer_style",
    "normalized_difference",
    "simulate_style_battles",
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


def _markdown_text(rng: np.random.Generator, counts: np.ndarray) -> str:
    tokens, headers, lists, bold = (int(x) for x in counts)
    lines = [f"## Part {h}" for h in range(headers)]
    lines += [f"- item {i}" for i in range(lists)]
    lines += [f"**point {k}**" for k in range(bold)]
    used = 4 * headers + 3 * lists + 6 * bold  # tokens of the markdown lines above
    words = rng.choice(np.array(["alpha", "beta", "gamma", "delta", "omega"]), tokens - used)
    lines.append(" ".join(words.tolist()))
    return "\n".join(lines)


def simulate_style_battles(
    models: Mapping[str, Mapping[str, float]] | pd.DataFrame,
    n_battles: int,
    *,
    style_bias: Mapping[str, float] | None = None,
    prompts: int | None = None,
    base_tokens: float = 300.0,
    texts: bool = False,
    scale: float = 400.0,
    base: float = 10.0,
    rng: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Draw battles from a judge that rewards style, with known true skills.

    Every battle draws two different models uniformly and a style for each answer:
    ``tokens ≈ base_tokens · 2^(verbosity + 0.5 ε)`` and Poisson headers, list items and bold
    spans with means ``markdown · (2, 5, 3)``. The judge's log-odds that ``model_a`` wins are
    ``(s_a − s_b) · ln(base)/scale + Σ_f style_bias[f] · (c_af − c_bf)/(c_af + c_bf + 1)``: the
    true model of :func:`~wizardarena.ratings.style.fit_style` with unstandardised features.

    Parameters
    ----------
    models : mapping name -> {"skill": float, "verbosity": float, "markdown": float} or DataFrame
        True skill (Elo scale), verbosity (length doublings, default 0) and markdown intensity
        (default 0) per model; a DataFrame is indexed by name with those columns.
    n_battles : int
    style_bias : mapping feature -> float, optional
        Log-odds per unit of normalised difference, for features in :data:`STYLE_FEATURES`
        (e.g. ``{"tokens": 1.0}``); no style effect by default.
    prompts : int, optional
        Adds ``question_id`` drawn uniformly from ``q0000`` ... (for the prompt bootstrap).
    base_tokens : float, default 300
    texts : bool, default False
        Also write markdown answer texts ``answer_a``, ``answer_b`` whose
        :func:`answer_style` counts are the drawn counts (slow; for small logs).
    scale, base : float
        Elo scale of ``skill``.
    rng : int, Generator or None

    Returns
    -------
    DataFrame
        ``model_a, model_b, winner`` (FastChat labels), ``tokens_a, tokens_b, headers_a,
        headers_b, lists_a, lists_b, bold_a, bold_b`` (int64), optionally ``question_id``,
        ``answer_a``, ``answer_b``.
    """
    gen = np.random.default_rng(rng)
    frame = pd.DataFrame(models).T if not isinstance(models, pd.DataFrame) else models.copy()
    if len(frame) < 2 or "skill" not in frame.columns:
        raise ValidationError(
            "models must give at least two models, each with a 'skill' (and optionally "
            f"'verbosity', 'markdown'); got columns {list(frame.columns)} for {len(frame)} models"
        )
    for col in ("verbosity", "markdown"):
        frame[col] = frame[col].fillna(0.0) if col in frame.columns else 0.0
    if not isinstance(n_battles, (int, np.integer)) or n_battles < 1:
        raise ValidationError(f"n_battles must be a positive integer; got {n_battles!r}")
    bias = dict(style_bias or {})
    unknown = sorted(set(bias) - set(STYLE_FEATURES))
    if unknown:
        raise ValidationError(f"style_bias keys must be in {list(STYLE_FEATURES)}; got {unknown}")
    names = np.asarray([str(x) for x in frame.index], dtype=object)
    skill = frame["skill"].to_numpy(dtype=float)
    verb = frame["verbosity"].to_numpy(dtype=float)
    md = frame["markdown"].to_numpy(dtype=float)
    m, n = len(names), int(n_battles)
    a = gen.integers(0, m, n)
    b = (a + gen.integers(1, m, n)) % m

    def draw(idx: np.ndarray) -> np.ndarray:
        doublings = verb[idx] + 0.5 * gen.standard_normal(n)
        tok = np.maximum(1, np.round(base_tokens * 2.0**doublings))
        lam = np.clip(md[idx], 0, None)[:, None] * np.array([2.0, 5.0, 3.0])
        marks = gen.poisson(lam)
        # an answer has at least the tokens of its markdown (see _markdown_text) plus one word
        tok = np.maximum(tok, marks @ np.array([4, 3, 6]) + 1)
        return np.column_stack([tok, marks]).astype(np.int64)

    ca, cb = draw(a), draw(b)
    logit = (skill[a] - skill[b]) * np.log(base) / scale
    for k, feat in enumerate(STYLE_FEATURES):
        if feat in bias:
            logit = logit + float(bias[feat]) * normalized_difference(ca[:, k], cb[:, k])
    a_wins = gen.random(n) < expit(logit)
    out = pd.DataFrame(
        {
            "model_a": names[a],
            "model_b": names[b],
            "winner": np.where(a_wins, WINNER_LABELS[0], WINNER_LABELS[1]).astype(object),
        }
    )
    for k, feat in enumerate(STYLE_FEATURES):
        out[f"{feat}_a"] = ca[:, k]
        out[f"{feat}_b"] = cb[:, k]
    if prompts is not None:
        qnum = gen.integers(0, int(prompts), n).astype(str)
        out["question_id"] = np.char.add("q", np.char.zfill(qnum, 4)).astype(object)
    if texts:
        out["answer_a"] = [_markdown_text(gen, c) for c in ca]
        out["answer_b"] = [_markdown_text(gen, c) for c in cb]
    return out
