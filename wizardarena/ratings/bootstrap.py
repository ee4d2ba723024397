"""Bootstrap resampling of aggregated counts, vectorised over replicates.

Two resampling units:

``battle``
    Resample battles with replacement (LMSYS). Because the Bradley-Terry likelihood only
    depends on per-pair totals, drawing one multinomial vector over the unique
    ``(pair, outcome, weight)`` categories with probabilities ``count / N`` is identical in
    distribution to resampling the N rows, and costs O(categories) per replicate instead of
    O(N).
``prompt``
    Cluster bootstrap: resample prompts (``question_id``) with replacement and keep all the
    battles of each drawn prompt. One prompt yields correlated games (the same answers
    judged in several pairings and both orders), so battle-level intervals are too narrow
    for an offline arena where every prompt is played many times.

Replicates are drawn in fixed chunks, each with its own child generator spawned from
``rng``, so the result depends on the seed only (not on the number of threads); chunks run
on a small thread pool because numpy's samplers release the GIL.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import scipy.sparse as sp

from wizardarena.battles import Counts
from wizardarena.ratings.bradley_terry import PairData

__all__ = ["battle_replicates", "prompt_replicates"]

_CHUNK = 50  # replicates per child generator (fixed: part of the seeded stream's definition)


def _threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def _categories(pairs: PairData, count: np.ndarray) -> tuple[np.ndarray, np.ndarray, PairData]:
    """Merge unique rows whose contributions to the pair statistics are identical."""
    table = np.column_stack([pairs.row_pair, pairs.row_win, pairs.row_loss, pairs.row_tie])
    uniq, inverse = np.unique(table, axis=0, return_inverse=True)
    merged = np.bincount(inverse.ravel(), weights=count, minlength=uniq.shape[0])
    cats = PairData(
        n_models=pairs.n_models,
        i=pairs.i,
        j=pairs.j,
        row_pair=uniq[:, 0].astype(np.int64),
        row_win=uniq[:, 1],
        row_loss=uniq[:, 2],
        row_tie=uniq[:, 3],
    )
    return merged.astype(np.int64), inverse.ravel(), cats


def _draw_chunks(
    rounds: int, rng: np.random.Generator, draw: Callable[[np.random.Generator, int], Any]
) -> list[Any]:
    sizes = [min(_CHUNK, rounds - s) for s in range(0, rounds, _CHUNK)]
    children = rng.spawn(len(sizes))
    jobs = list(zip(children, sizes))
    if len(jobs) == 1 or _threads() == 1:
        return [draw(g, n) for g, n in jobs]
    with ThreadPoolExecutor(_threads()) as pool:
        return list(pool.map(lambda job: draw(job[0], job[1]), jobs))


def battle_replicates(
    pairs: PairData, count: np.ndarray, rounds: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pair (i wins, j wins, ties) of ``rounds`` battle-bootstrap replicates.

    Parameters
    ----------
    pairs : PairData
        From :func:`~wizardarena.ratings.bradley_terry.pair_data`.
    count : ndarray of int, shape (R,)
        Battles per unique row.
    rounds : int
    rng : numpy Generator

    Returns
    -------
    win, loss, tie : ndarray, shape (rounds, P)
    """
    cat_count, _, cats = _categories(pairs, count)
    total = int(cat_count.sum())
    probs = cat_count / total

    def draw(g: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return cats.stats(g.multinomial(total, probs, size=n))

    parts = _draw_chunks(rounds, rng, draw)
    w, l_, t = (np.concatenate([p[k] for p in parts], axis=0) for k in range(3))
    return w, l_, t


def prompt_replicates(
    pairs: PairData, counts: Counts, rounds: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pair (i wins, j wins, ties) of ``rounds`` prompt (cluster) bootstrap replicates.

    ``counts`` must have been built with ``group="question_id"``.
    """
    if counts.group is None:
        raise ValueError("prompt bootstrap needs counts grouped by question_id")
    q = counts.n_groups
    mats = []
    for contrib in (pairs.row_win, pairs.row_loss, pairs.row_tie):
        mats.append(
            sp.csr_matrix(
                (contrib * counts.count, (counts.group, pairs.row_pair)),
                shape=(q, pairs.n_pairs),
            )
        )
    uniform = np.full(q, 1.0 / q)

    def draw(g: np.random.Generator, n: int) -> tuple[np.ndarray, ...]:
        mult = g.multinomial(q, uniform, size=n).astype(float)  # (n, Q)
        return tuple(np.asarray((mat.T @ mult.T).T) for mat in mats)

    parts = _draw_chunks(rounds, rng, draw)
    w, l_, t = (np.concatenate([p[k] for p in parts], axis=0) for k in range(3))
    return w, l_, t
