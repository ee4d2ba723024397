"""Bootstrap samplers over categories, and the one runner that fits replicates chunk by chunk.

Two resampling units, the same for every fit (plain, Davidson, style, position):

``battle``
    Resample battles with replacement (LMSYS). The likelihood depends on the battles only
    through the categories of :mod:`~wizardarena.ratings.design`, so one multinomial count
    vector over the categories (probabilities ``count / N``) is identical in distribution to
    resampling the N battles, at O(categories) per replicate instead of O(N).
``prompt``
    Cluster bootstrap: resample prompts (``question_id``) with replacement and keep all the
    battles of each drawn prompt. One prompt yields correlated games (the same answers
    judged in several pairings and both orders), so battle-level intervals are too narrow
    for an offline arena where every prompt is played many times.

Replicates are processed in chunks whose size depends only on the data (never on the
machine); each chunk has its own child generator spawned from ``rng``, so a seed gives
identical draws everywhere. Chunks run on a small thread pool (numpy's samplers, its
element-wise kernels and LAPACK release the GIL) with BLAS on one thread, so the workers do
not oversubscribe the cores.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol, TypeVar

import numpy as np
import scipy.sparse as sp

from wizardarena._blas import single_threaded_blas
from wizardarena.progress import Progress, ProgressCallback
from wizardarena.ratings.design import Categories, Stats

__all__ = [
    "BattleSampler",
    "PromptSampler",
    "Sampler",
    "chunk_sizes",
    "multinomial",
    "run_chunks",
    "sampler_for",
]

T = TypeVar("T")

#: target number of (replicate, design row) cells per chunk
_CELLS_PER_CHUNK = 1 << 18
_MAX_CHUNK = 250


def chunk_sizes(rounds: int, n_rows: int) -> list[int]:
    """Replicates per chunk: a function of the data size only (part of the seeded stream)."""
    size = int(min(_MAX_CHUNK, max(1, _CELLS_PER_CHUNK // max(n_rows, 1))))
    return [min(size, rounds - s) for s in range(0, rounds, size)]


#: below this many categories numpy's own multinomial is faster than Poisson splitting
_POISSON_MIN_CATEGORIES = 4096


def multinomial(
    g: np.random.Generator,
    total: int,
    probs: np.ndarray,
    size: int,
    *,
    poisson_mean: float | None = None,
) -> np.ndarray:
    """Exact multinomial draws, shape (size, K).

    Two exact methods, chosen by the shape of the problem:

    * fewer than 4096 categories: numpy's sequential-binomial multinomial;
    * otherwise Poisson splitting: independent ``x_k ~ Poisson(μ p_k)`` are, given their sum
      ``s``, a multinomial sample of ``s`` items, whatever ``μ``. The sum is corrected to
      ``total`` exactly: when ``s < total``, ``total − s`` more i.i.d. items are added; when
      ``s > total``, ``s − total`` of the ``s`` items are removed uniformly without
      replacement. Either way the result is ``Multinomial(total, p)`` in distribution. With
      ``μ = total − 2√total`` the sum almost always falls short, and the additions
      (≈ 2√total items per replicate) are vectorised.

    ``poisson_mean`` forces the Poisson method with that ``μ`` (tests use it to exercise the
    removal branch).
    """
    probs = np.asarray(probs, dtype=float)
    k = probs.shape[0]
    if poisson_mean is None:
        if k < _POISSON_MIN_CATEGORIES:
            return g.multinomial(total, probs, size=size)
    mu = max(total - 2.0 * np.sqrt(total), 0.0) if poisson_mean is None else poisson_mean
    x = g.poisson(mu * probs, size=(size, k))
    short = total - x.sum(axis=1)
    add = np.clip(short, 0, None)
    if add.any():
        x += _categorical_counts(g, add, probs, size)
    for r in np.flatnonzero(short < 0):  # rare: about 2% of replicates
        pos = g.choice(int(total - short[r]), size=int(-short[r]), replace=False)
        which = np.searchsorted(np.cumsum(x[r]), pos, side="right")
        x[r] -= np.bincount(which, minlength=k)
    return x


def _categorical_counts(g: np.random.Generator, n: int | np.ndarray, probs: np.ndarray,
                        size: int) -> np.ndarray:
    """Counts (size, K) of ``n`` (per row) i.i.d. draws from ``probs``."""
    k = probs.shape[0]
    per_row = np.broadcast_to(np.asarray(n, dtype=np.int64), (size,))
    cum = np.cumsum(probs)
    cum /= cum[-1]
    cats = np.minimum(np.searchsorted(cum, g.random(int(per_row.sum())), side="right"), k - 1)
    rows = np.repeat(np.arange(size), per_row)
    return np.bincount(rows * k + cats, minlength=size * k).reshape(size, k)


class Sampler(Protocol):
    """Draws the per-row statistics of ``n`` bootstrap replicates."""

    def __call__(self, g: np.random.Generator, n: int) -> Stats: ...


class BattleSampler:
    """Battle bootstrap: a multinomial count vector over the categories per replicate.

    With many battles per category the draw is :func:`multinomial` (O(categories)); with
    few (fewer than 8 per category on average, as with continuous style features, where
    almost every battle is its own category) the ``N`` battles are drawn by index and
    counted, which is exact too and cheaper there.
    """

    def __init__(self, cats: Categories) -> None:
        self.cats = cats
        self.total = cats.total
        self.probs = cats.count / cats.count.sum()
        k = len(cats)
        self.by_index = k >= _POISSON_MIN_CATEGORIES and self.total < 8 * k
        # battles are numbered category by category: a category's count is its first
        # battle's count plus those of its other battles (``first``; ``rest`` and
        # ``rest_cat``), when every category has a battle
        many = self.by_index and bool(np.any(cats.count != 1))
        self.expanded = (np.repeat(np.arange(k), cats.count)
                         if many and np.any(cats.count == 0) else None)
        self.first: np.ndarray | None = None
        if many and self.expanded is None:
            self.first = np.cumsum(cats.count) - cats.count
            self.rest_cat = np.repeat(np.arange(k), cats.count - 1)
            self.rest = np.delete(np.arange(self.total), self.first)

    def draw(self, g: np.random.Generator, n: int) -> np.ndarray:
        """Category counts of ``n`` replicates, shape (n, C)."""
        if not self.by_index:
            return multinomial(g, self.total, self.probs, n)
        k = len(self.cats)
        out = np.empty((n, k), dtype=np.int64)
        for r in range(n):
            out[r] = self._by_index(g)
        return out

    def _by_index(self, g: np.random.Generator) -> np.ndarray:
        """One replicate by drawing the N battles: which of 16 equal ranges of battles each
        draw falls in is one exact multinomial, then each range is drawn and counted on its
        own (the counting stays in cache; ``np.add.at``, several times faster than
        ``np.bincount`` on these sizes)."""
        total, k = self.total, len(self.cats)
        edges = np.linspace(0, total, _INDEX_RANGES + 1).astype(np.int64)
        width = np.diff(edges)
        per_range = g.multinomial(total, width / total)
        # per battle (summed per category at the end with ``first`` and ``rest``), unless
        # each category is one battle or the map is needed
        counts = np.zeros(total if self.first is not None else k, dtype=np.int64)
        for lo, w, m in zip(edges[:-1], width, per_range):
            idx = g.integers(0, w, m, dtype=np.uint32 if w < 2**32 else np.int64)
            if self.expanded is None:
                np.add.at(counts[lo:lo + w], idx, 1)
            else:  # a category without battles (weights only): count through the map
                cat = self.expanded[lo:lo + w]
                first = int(cat[0])
                hit = np.bincount(cat[idx] - first, minlength=int(cat[-1]) - first + 1)
                counts[first:first + hit.shape[0]] += hit
        if self.first is None:
            return counts
        out = counts[self.first]
        np.add.at(out, self.rest_cat, counts[self.rest])
        return out

    def __call__(self, g: np.random.Generator, n: int) -> Stats:
        return self.cats.stats(self.draw(g, n))


#: ranges of battles drawn separately by :meth:`BattleSampler._by_index`
_INDEX_RANGES = 16

#: per-prompt tables up to this many cells are held dense (BLAS products), else sparse
_DENSE_PROMPT_CELLS = 20_000_000


class PromptSampler:
    """Prompt (cluster) bootstrap: per-row statistics are ``m @ S``.

    ``m`` (length Q) holds how often each prompt was drawn (Q draws with replacement) and
    ``S`` (Q, R) the per-prompt row statistics (win, loss and, for Davidson, tie).
    """

    def __init__(self, cats: Categories) -> None:
        if cats.group is None:
            raise ValueError("the prompt bootstrap needs categories with prompt groups")
        q, r = cats.n_groups, cats.n_rows
        self.n_groups = q
        c = cats.count.astype(float)
        cols = [cats.win, cats.loss] + ([cats.tie] if cats.has_ties else [])
        self.mats: list[np.ndarray | sp.csr_matrix] = []
        for col in cols:
            mat = sp.csr_matrix((col * c, (cats.group, cats.row)), shape=(q, r))
            # dense BLAS wins only when the per-prompt table is mostly filled
            dense = q * r <= _DENSE_PROMPT_CELLS and mat.nnz >= 0.25 * q * r
            self.mats.append(mat.toarray() if dense else mat)
        self.has_ties = cats.has_ties

    def __call__(self, g: np.random.Generator, n: int) -> Stats:
        q = self.n_groups
        draws = g.integers(0, q, size=(n, q)) + (np.arange(n) * q)[:, None]
        mult = np.bincount(draws.ravel(), minlength=n * q).reshape(n, q).astype(float)
        out = [np.asarray(mult @ mat) for mat in self.mats]
        return out[0], out[1], (out[2] if self.has_ties else None)


def sampler_for(cats: Categories, unit: str) -> Sampler:
    """The sampler of a resampling unit (``"battle"`` or ``"prompt"``)."""
    return PromptSampler(cats) if unit == "prompt" else BattleSampler(cats)


def _workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def run_chunks(
    sampler: Callable[[np.random.Generator, int], Stats],
    rounds: int,
    n_rows: int,
    rng: np.random.Generator,
    work: Callable[[Stats], T],
    *,
    progress: ProgressCallback | None = None,
) -> list[T]:
    """Draw replicates chunk by chunk and apply ``work`` to each chunk, on a thread pool.

    Returns the per-chunk results in chunk order (deterministic given ``rng``).
    ``progress`` gets a :class:`~wizardarena.progress.Progress` event (stage
    ``"bootstrap"``, unit ``"round"``) after each finished chunk, from the pool's threads
    (one at a time).
    """
    sizes = chunk_sizes(rounds, n_rows)
    children = rng.spawn(len(sizes))
    lock = threading.Lock()
    finished = [0]

    def job(idx: int) -> T:
        out = work(sampler(children[idx], sizes[idx]))
        if progress is not None:
            with lock:
                finished[0] += sizes[idx]
                progress(Progress("bootstrap", finished[0], rounds, unit="round"))
        return out

    with single_threaded_blas():
        if len(sizes) == 1 or _workers() == 1:
            return [job(k) for k in range(len(sizes))]
        with ThreadPoolExecutor(_workers()) as pool:
            return list(pool.map(job, range(len(sizes))))
