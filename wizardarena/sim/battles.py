"""Simulated battle logs drawn from known true ratings (pure, seeded).

For tests of rating pipelines, ours and users': a log whose truth is known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.special import expit, ndtr

from wizardarena.exceptions import ValidationError
from wizardarena.sim.wire import WINNER_LABELS

__all__ = ["simulate_battles"]


def simulate_battles(
    ratings: Mapping[str, float] | pd.Series,
    n_battles: int,
    *,
    tie_rate: float = 0.0,
    prompts: int | Sequence[str] | None = None,
    prompt_effect: float = 0.0,
    pair_weights: Mapping[tuple[str, str], float] | np.ndarray | None = None,
    first_slot: float = 0.0,
    scale: float = 400.0,
    base: float = 10.0,
    rng: int | np.random.Generator | None = None,
) -> pd.DataFrame:
    """Draw a battle log from Bradley-Terry with known ratings.

    Each battle picks a pair (by ``pair_weights``), a random order, and, with ``prompts``, a
    prompt uniformly at random. The outcome is drawn so that the *expected score* of
    ``model_a`` (win = 1, tie = ½) is exactly ``1 / (1 + base^((r_b − r_a)/scale))``: ties have
    probability ``tie_rate · 2 · min(p, 1 − p)`` and take half their mass from each side.
    Hence the half-tie Bradley-Terry MLE is consistent for the given ratings (up to the
    centring or anchor you choose), with or without ties.

    Per-prompt correlation (``prompt_effect`` = ρ in [0, 1)) uses a Gaussian copula: every
    (prompt, model) has a latent ``z ~ N(0, 1)``, and the uniform that decides the outcome is
    ``Φ(ρ (z_a − z_b)/√2 + √(1 − ρ²) ε)``. It is exactly uniform for each battle, so the
    marginal outcome probabilities (and the truth) are unchanged, while battles on the same
    prompt with the same models are positively correlated — as games on one prompt are in an
    offline arena. With ρ > 0, battle-level intervals are too narrow and the prompt bootstrap
    is needed.

    Parameters
    ----------
    ratings : mapping or Series
        True rating per model (Elo scale), at least two models.
    n_battles : int
        Number of rows.
    tie_rate : float in [0, 1], default 0
        Tie probability between equally rated models.
    prompts : int or sequence of str, optional
        Number of prompts (ids ``q0000``, ...) or the ids; adds a ``question_id`` column.
    prompt_effect : float in [0, 1), default 0
        Copula correlation ρ within a prompt; needs ``prompts``.
    pair_weights : mapping or ndarray (M, M), optional
        Relative frequency of each unordered pair (keys ``(model, model)`` or a matrix in
        the order of ``ratings``; missing pairs get 0). Uniform over all pairs by default.
    first_slot : float, default 0
        Position bias of the judge, in Elo points added to the model shown first
        (``model_a``): its expected score is ``1 / (1 + base^((r_b − r_a − first_slot) /
        scale))``. Each battle's order is random (each model first half the time).
    scale, base : float
        The Elo scale of ``ratings``.
    rng : int, Generator or None
        Seed or generator.

    Returns
    -------
    DataFrame
        Columns ``model_a``, ``model_b``, ``winner`` (FastChat labels), and ``question_id``
        when ``prompts`` is given.
    """
    gen = np.random.default_rng(rng)
    table = ratings.to_dict() if isinstance(ratings, pd.Series) else ratings
    if not isinstance(table, Mapping) or len(table) < 2:
        raise ValidationError("ratings must map at least two model names to ratings")
    names = [str(k) for k in table]
    r = np.array([float(v) for v in table.values()])
    if not np.all(np.isfinite(r)):
        raise ValidationError(f"ratings must be finite numbers; got {dict(zip(names, r))}")
    if not isinstance(n_battles, (int, np.integer)) or n_battles < 1:
        raise ValidationError(f"n_battles must be a positive integer; got {n_battles!r}")
    if not 0.0 <= tie_rate <= 1.0:
        raise ValidationError(f"tie_rate must be in [0, 1]; got {tie_rate!r}")
    if not 0.0 <= prompt_effect < 1.0:
        raise ValidationError(f"prompt_effect must be in [0, 1); got {prompt_effect!r}")
    if prompt_effect > 0 and prompts is None:
        raise ValidationError("prompt_effect needs prompts (the number of prompts or their ids)")
    m = len(names)
    iu, ju = np.triu_indices(m, k=1)
    if pair_weights is None:
        w = np.ones(iu.size)
    elif isinstance(pair_weights, Mapping):
        pos = {n: k for k, n in enumerate(names)}
        mat = np.zeros((m, m))
        for key, val in pair_weights.items():
            x, y = key
            if x not in pos or y not in pos or x == y:
                raise ValidationError(f"pair_weights key {key!r} must be two different models")
            mat[pos[x], pos[y]] += float(val)
        w = mat[iu, ju] + mat[ju, iu]
    else:
        mat = np.asarray(pair_weights, dtype=float)
        if mat.shape != (m, m):
            raise ValidationError(f"pair_weights must have shape ({m}, {m}); got {mat.shape}")
        w = mat[iu, ju] + mat[ju, iu]
    if np.any(~np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
        raise ValidationError("pair_weights must be finite, non-negative and not all zero")
    pair = gen.choice(iu.size, size=int(n_battles), p=w / w.sum())
    swap = gen.random(int(n_battles)) < 0.5
    a = np.where(swap, ju[pair], iu[pair])
    b = np.where(swap, iu[pair], ju[pair])
    if not np.isfinite(first_slot):
        raise ValidationError(f"first_slot must be a finite number; got {first_slot!r}")
    p = expit((r[a] - r[b] + float(first_slot)) / scale * np.log(base))
    q_ids: np.ndarray | None = None
    if prompts is not None:
        ids = [f"q{k:04d}" for k in range(int(prompts))] if isinstance(
            prompts, (int, np.integer)) else [str(x) for x in prompts]
        if not ids:
            raise ValidationError("prompts must be a positive number or a non-empty list")
        q = gen.integers(0, len(ids), size=int(n_battles))
        q_ids = np.asarray(ids, dtype=object)[q]
        z = gen.standard_normal((len(ids), m))
        eps = gen.standard_normal(int(n_battles))
        rho = float(prompt_effect)
        u = ndtr(rho * (z[q, a] - z[q, b]) / np.sqrt(2.0) + np.sqrt(1 - rho * rho) * eps)
    else:
        u = gen.random(int(n_battles))
    p_tie = tie_rate * 2.0 * np.minimum(p, 1.0 - p)
    p_a = p - p_tie / 2.0
    outcome = np.where(u < p_a, 0, np.where(u < p_a + p_tie, 2, 1))
    names_arr = np.asarray(names, dtype=object)
    out = pd.DataFrame(
        {
            "model_a": names_arr[a],
            "model_b": names_arr[b],
            "winner": np.asarray(WINNER_LABELS, dtype=object)[outcome],
        }
    )
    if q_ids is not None:
        out["question_id"] = q_ids
    return out
