"""Simulated battles from a judge that rewards style, with known true skills and style bias.

Used by the tests, the benchmarks and the documentation of style control.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy.special import expit

from wizardarena.exceptions import ValidationError
from wizardarena.sim.wire import WINNER_LABELS

__all__ = ["simulate_style_battles"]

#: the style features the simulated judge rewards, in the order of the count columns: answer
#: length in tokens, markdown headers, list items and bold spans (LMSYS style control)
STYLE_FEATURES: tuple[str, str, str, str] = ("tokens", "headers", "lists", "bold")

#: one markdown element of each counted kind (a header line, a list item, a bold span), as
#: the answer texts write them
_MARKUP = ("## Part {}", "- item {}", "**point {}**")
#: a token of the public style description: a run of word characters or one punctuation mark
_TOKEN = re.compile(r"\w+|[^\w\s]")
#: tokens that one element of each kind adds to an answer's length
_MARKUP_TOKENS = np.array([len(_TOKEN.findall(line.format(0))) for line in _MARKUP])
_FILLER = np.array(["alpha", "beta", "gamma", "delta", "omega"])


def _markdown_text(rng: np.random.Generator, counts: np.ndarray) -> str:
    """An answer text with the given (tokens, headers, lists, bold) counts."""
    tokens, *marks = (int(x) for x in counts)
    lines = [line.format(k) for line, n in zip(_MARKUP, marks) for k in range(n)]
    words = rng.choice(_FILLER, tokens - int(_MARKUP_TOKENS @ np.array(marks)))
    lines.append(" ".join(words.tolist()))
    return "\n".join(lines)


def _normalized_difference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``(a − b) / (a + b + 1)`` of two sides' non-negative counts: in (−1, 1), odd in a↔b."""
    return (a - b) / (a + b + 1.0)


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
    true model of style control (``wizardarena.rank(..., style=True)``) with
    unstandardised features.

    Parameters
    ----------
    models : mapping name -> {"skill": float, "verbosity": float, "markdown": float} or DataFrame
        True skill (Elo scale), verbosity (length doublings, default 0) and markdown intensity
        (default 0) per model; a DataFrame is indexed by name with those columns.
    n_battles : int
    style_bias : mapping feature -> float, optional
        Log-odds per unit of normalised difference, for the features ``tokens``,
        ``headers``, ``lists`` and ``bold`` (e.g. ``{"tokens": 1.0}``); no style effect by
        default.
    prompts : int, optional
        Adds ``question_id`` drawn uniformly from ``q0000`` ... (for the prompt bootstrap).
    base_tokens : float, default 300
    texts : bool, default False
        Also write markdown answer texts ``answer_a``, ``answer_b`` whose
        counts by :func:`wizardarena.answer_style` are the drawn counts (slow; for small logs).
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
        tok = np.maximum(tok, marks @ _MARKUP_TOKENS + 1)
        return np.column_stack([tok, marks]).astype(np.int64)

    ca, cb = draw(a), draw(b)
    logit = (skill[a] - skill[b]) * np.log(base) / scale
    for k, feat in enumerate(STYLE_FEATURES):
        if feat in bias:
            logit = logit + float(bias[feat]) * _normalized_difference(ca[:, k], cb[:, k])
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
