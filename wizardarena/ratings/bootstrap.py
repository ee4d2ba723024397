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

Replicates are processed in chunks whose size depends only on the data (not on the
machine); each chunk has its own child generator spawned from ``rng``, so a seed gives
bit-identical results everywhere. Chunks run on a small thread pool (numpy's samplers,
element-wise kernels and LAPACK release the GIL), with BLAS limited to one thread per
worker so that the workers do not oversubscribe the cores.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import numpy as np
import scipy.sparse as sp

from wizardarena._blas import single_threaded_blas
from wizardarena.battles import Counts
from wizardarena.ratings.bradley_terry import PairData

__all__ = [
    "BattleSampler",
    "PromptSampler",
    "battle_replicates",
    "chunk_sizes",
    "multinomial",
    "prompt_replicates",
    "run_chunks",
]

T = TypeVar("T")
Stats = tuple[np.ndarray, np.ndarray, np.ndarray]

#: target number of (replicate, pair) cells per chunk: small enough to stay in cache
_CELLS_PER_CHUNK = 1 << 18


def chunk_sizes(rounds: int, n_pairs: int) -> list[int]:
    """Replicates per chunk: a function of the data size only (part of the seeded stream)."""
    size = int(min(250, max(8, _CELLS_PER_CHUNK // max(n_pairs, 1))))
    return [min(size, rounds - s) for s in range(0, rounds, size)]


#: below this many categories numpy's own multinomial is faster
_POISSON_MIN_CATEGORIES = 4096


def multinomial(
    g: np.random.Generator,
    total: int,
    probs: np.ndarray,
    size: int,
    *,
    poisson_mean: float | None = None,
) -> np.ndarray:
    """Exact multinomial draws, shape (size, K); about twice as fast as numpy's for large K.

    Independent Poisson counts ``x_k ~ Poisson(μ p_k)`` are, given their sum ``s``, a
    multinomial sample of ``s`` i.i.d. categorical items, whatever ``μ``. The sum is then
    corrected to ``total`` exactly: when ``s < total``, ``total − s`` more i.i.d. items are
    added; when ``s > total``, ``s − total`` of the ``s`` items are removed uniformly without
    replacement (the remaining items are still i.i.d. categorical). Either way the result is
    ``Multinomial(total, p)`` in distribution. With ``μ = total − 2√total`` the sum almost
    always falls short, and the additions (≈ 2√total items per replicate) are vectorised.
    For fewer than 4096 categories numpy's sequential-binomial multinomial is used.
    ``poisson_mean`` overrides ``μ`` (tests use it to exercise the removal branch).
    """
    probs = np.asarray(probs, dtype=float)
    k = probs.shape[0]
    if k < _POISSON_MIN_CATEGORIES and poisson_mean is None:
        return g.multinomial(total, probs, size=size)
    mu = max(total - 2.0 * np.sqrt(total), 0.0) if poisson_mean is None else poisson_mean
    x = g.poisson(mu * probs, size=(size, k))
    short = total - x.sum(axis=1)
    add = np.clip(short, 0, None)
    if add.any():
        cum = np.cumsum(probs)
        cum /= cum[-1]
        cats = np.minimum(np.searchsorted(cum, g.random(int(add.sum())), side="right"), k - 1)
        rows = np.repeat(np.arange(size), add)
        x += np.bincount(rows * k + cats, minlength=size * k).reshape(size, k)
    for r in np.flatnonzero(short < 0):  # rare: about 2% of replicates
        pos = g.choice(int(total - short[r]), size=int(-short[r]), replace=False)
        which = np.searchsorted(np.cumsum(x[r]), pos, side="right")
        x[r] -= np.bincount(which, minlength=k)
    return x


class BattleSampler:
    """Draws per-pair (i wins, j wins, ties) of battle-bootstrap replicates."""

    def __init__(self, pairs: PairData, count: np.ndarray) -> None:
        table = np.column_stack([pairs.row_pair, pairs.row_win, pairs.row_loss, pairs.row_tie])
        uniq, inverse = np.unique(table, axis=0, return_inverse=True)
        merged = np.bincount(inverse.ravel(), weights=count, minlength=uniq.shape[0])
        self.pairs = pairs
        self.categories = PairData(
            n_models=pairs.n_models,
            i=pairs.i,
            j=pairs.j,
            row_pair=uniq[:, 0].astype(np.int64),
            row_win=uniq[:, 1],
            row_loss=uniq[:, 2],
            row_tie=uniq[:, 3],
        )
        self.total = round(float(merged.sum()))
        self.probs = merged / merged.sum()

    def __call__(self, g: np.random.Generator, n: int) -> Stats:
        return self.categories.stats(multinomial(g, self.total, self.probs, n))


#: per-prompt tables up to this many cells are held dense (BLAS products), else sparse
_DENSE_PROMPT_CELLS = 20_000_000


class PromptSampler:
    """Draws per-pair statistics of prompt (cluster) bootstrap replicates.

    A replicate's pair statistics are ``m @ S`` where ``m`` (length Q) holds how often each
    prompt was drawn and ``S`` (Q, P) the per-prompt pair statistics. With ``ties="half"``
    only the scores ``w + t/2`` and totals ``w + l + t`` are needed, returned as
    ``(s, n − s, 0)`` (the half-tie likelihood is the same), which saves one product; with
    ``"drop"`` ``(w, l, 0)``; with ``"davidson"`` ``(w, l, t)``.
    """

    def __init__(self, pairs: PairData, counts: Counts, ties: str = "half") -> None:
        if counts.group is None:
            raise ValueError("prompt bootstrap needs counts grouped by question_id")
        q, p = counts.n_groups, pairs.n_pairs
        self.n_groups = q
        c = counts.count.astype(float)
        if ties == "half":
            s = (pairs.row_win + 0.5 * pairs.row_tie) * c
            cols = [s, (pairs.row_loss + 0.5 * pairs.row_tie) * c]
        elif ties == "drop":
            cols = [pairs.row_win * c, pairs.row_loss * c]
        else:
            cols = [pairs.row_win * c, pairs.row_loss * c, pairs.row_tie * c]
        self.mats: list[np.ndarray | sp.csr_matrix] = []
        for col in cols:
            mat = sp.csr_matrix((col, (counts.group, pairs.row_pair)), shape=(q, p))
            # dense BLAS wins only when the per-prompt table is mostly filled
            dense = q * p <= _DENSE_PROMPT_CELLS and mat.nnz >= 0.25 * q * p
            self.mats.append(mat.toarray() if dense else mat)
        self.n_pairs = p

    def __call__(self, g: np.random.Generator, n: int) -> Stats:
        q = self.n_groups
        # how often each prompt is drawn: Q draws with replacement per replicate
        draws = g.integers(0, q, size=(n, q)) + (np.arange(n) * q)[:, None]
        mult = np.bincount(draws.ravel(), minlength=n * q).reshape(n, q).astype(float)
        out = [np.asarray(mult @ mat) for mat in self.mats]
        if len(out) == 2:
            out.append(np.zeros((n, self.n_pairs)))
        return out[0], out[1], out[2]


def _workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def run_chunks(
    sampler: Callable[[np.random.Generator, int], Stats],
    rounds: int,
    n_pairs: int,
    rng: np.random.Generator,
    work: Callable[[Stats], T],
) -> list[T]:
    """Draw replicates chunk by chunk and apply ``work`` to each chunk, on a thread pool.

    Returns the per-chunk results in chunk order (deterministic given ``rng``).
    """
    sizes = chunk_sizes(rounds, n_pairs)
    children = rng.spawn(len(sizes))

    def job(idx: int) -> T:
        return work(sampler(children[idx], sizes[idx]))

    with single_threaded_blas():
        if len(sizes) == 1 or _workers() == 1:
            return [job(k) for k in range(len(sizes))]
        with ThreadPoolExecutor(_workers()) as pool:
            return list(pool.map(job, range(len(sizes))))


def _concat(parts: list[Stats]) -> Stats:
    w, l_, t = (np.concatenate([p[k] for p in parts], axis=0) for k in range(3))
    return w, l_, t


def battle_replicates(
    pairs: PairData, count: np.ndarray, rounds: int, rng: np.random.Generator
) -> Stats:
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
    sampler = BattleSampler(pairs, count)
    return _concat(run_chunks(sampler, rounds, pairs.n_pairs, rng, lambda s: s))


def prompt_replicates(
    pairs: PairData, counts: Counts, rounds: int, rng: np.random.Generator
) -> Stats:
    """Per-pair (i wins, j wins, ties) of ``rounds`` prompt (cluster) bootstrap replicates.

    ``counts`` must have been built with ``group="question_id"``.
    """
    sampler = PromptSampler(pairs, counts, ties="davidson")  # (w, l, t) separately
    return _concat(run_chunks(sampler, rounds, pairs.n_pairs, rng, lambda s: s))
