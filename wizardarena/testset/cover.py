"""Subsets that cover the prompts: coverage rules for a budget, and the coverage measure.

Rules (:class:`DiverseMethod`): facility location (greedy, lazy evaluations; sparsified
above a size), k-center (farthest-first traversal), and central (k-means with k = budget,
the prompt nearest each centre); the WizardArena recipe (``kmeans``: clusters, then picks per
cluster) is in :mod:`wizardarena.testset.select`. :func:`coverage` measures how near every
prompt is to a selected one, next to random subsets of the same size.

All functions are pure and deterministic given ``rng``; positions refer to rows of the
embedding matrix.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wizardarena.exceptions import ValidationError, parse_enum
from wizardarena.testset.select import PickMethod, cluster_embeddings, select_diverse

__all__ = [
    "Coverage",
    "DiverseMethod",
    "coverage",
    "mean_nearest_distance",
    "select_budget",
    "select_central",
    "select_facility_location",
    "select_kcenter",
]


class DiverseMethod(str, enum.Enum):
    """How the diverse subset is chosen (see docs/testset.md for when to use which)."""

    #: facility location: maximise sum over prompts of the similarity to their nearest
    #: selected prompt (greedy with lazy evaluations; (1 - 1/e)-approximate)
    FACILITY = "facility"
    #: k-center: farthest-first traversal (minimises the largest distance to a selected
    #: prompt)
    KCENTER = "kcenter"
    #: k-means with k = budget, the prompt nearest each centre
    CENTRAL = "central"
    #: the WizardArena recipe: k-means with ``n_clusters``, ``per_cluster`` prompts each
    KMEANS = "kmeans"


@dataclass(frozen=True)
class Coverage:
    """How well a subset covers the prompts: the distance of every prompt to its nearest
    selected prompt (Euclidean between unit embeddings, ``sqrt(2 - 2 cos)``), next to
    random subsets of the same size.

    Attributes
    ----------
    method : str
    size : int
        Prompts selected.
    mean_distance : float
        Mean distance of a prompt to its nearest selected prompt (lower covers better).
    random_mean, random_sd : float
        The same for ``n_random`` random subsets of the same size (mean and sd).
    n_random : int
    evaluated_on : int
        Prompts the distances were averaged over (all, or a seeded sample).
    """

    method: str
    size: int
    mean_distance: float
    random_mean: float
    random_sd: float
    n_random: int
    evaluated_on: int

    def to_series(self) -> pd.Series:
        """The fields as a Series (for printing)."""
        return pd.Series(self.__dict__, name="coverage")


def _nearest_sim(x: np.ndarray, sel: np.ndarray, chunk_elems: int = 2**24) -> np.ndarray:
    """For each row of ``x``, the highest cosine to a row of ``sel`` (chunked)."""
    out = np.empty(x.shape[0], dtype=np.float32)
    step = max(1, chunk_elems // max(1, sel.shape[0]))
    for s in range(0, x.shape[0], step):
        out[s : s + step] = (x[s : s + step] @ sel.T).max(axis=1)
    return out


def mean_nearest_distance(x: np.ndarray, selected: np.ndarray, *,
                          rows: np.ndarray | None = None) -> float:
    """Mean over rows of ``x`` (or over ``rows``, vectors like those of ``x``) of the
    distance to the nearest row of ``x[selected]``."""
    sim = _nearest_sim(x if rows is None else rows, x[np.asarray(selected, dtype=np.int64)])
    return float(np.sqrt(np.maximum(0.0, 2.0 - 2.0 * sim.astype(np.float64))).mean())


def _sample_positions(n: int, sample: int | None, gen: np.random.Generator) -> np.ndarray:
    """All ``n`` positions, or a sorted sample of ``sample`` of them drawn from ``gen``."""
    if sample is not None and n > sample:
        return np.sort(gen.choice(n, size=sample, replace=False))
    return np.arange(n)


def coverage(
    embeddings: np.ndarray,
    selected: np.ndarray,
    *,
    method: str = "",
    n_random: int = 10,
    sample: int | None = 20_000,
    rng: int | np.random.Generator | None = None,
) -> Coverage:
    """Coverage of ``selected`` and of ``n_random`` random subsets of the same size.

    Parameters
    ----------
    embeddings : ndarray, shape (n, d), unit rows
    selected : ndarray of int
        Positions of the selected prompts.
    n_random : int, default 10
    sample : int or None, default 20000
        Average over a seeded sample of this many prompts (all when None or n <= sample);
        the nearest selected prompt is searched among all selected prompts.
    """
    x = np.asarray(embeddings, dtype=np.float32)
    n = x.shape[0]
    sel = np.asarray(selected, dtype=np.int64)
    gen = np.random.default_rng(rng)
    eval_idx = _sample_positions(n, sample, gen)
    xe = x[eval_idx]

    def mean_dist(s: np.ndarray) -> float:
        return mean_nearest_distance(x, s, rows=xe)

    rand = [mean_dist(gen.choice(n, size=len(sel), replace=False)) for _ in range(n_random)]
    return Coverage(
        method=method,
        size=len(sel),
        mean_distance=mean_dist(sel) if len(sel) else float("nan"),
        random_mean=float(np.mean(rand)) if rand else float("nan"),
        random_sd=float(np.std(rand, ddof=1)) if len(rand) > 1 else float("nan"),
        n_random=n_random,
        evaluated_on=len(eval_idx),
    )


def _ground(
    embeddings: np.ndarray,
    budget: int,
    sample: int | None,
    rng: int | np.random.Generator | None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """The prompts a rule works on (all, or a seeded sample), their float32 rows, and the
    budget clamped to their number."""
    x = np.asarray(embeddings, dtype=np.float32)
    ground = _sample_positions(x.shape[0], sample, np.random.default_rng(rng))
    return ground, x[ground], min(int(budget), len(ground))


def select_facility_location(
    embeddings: np.ndarray,
    budget: int,
    *,
    sample: int | None = 10_000,
    exact_below: int = 5_000,
    n_neighbors: int = 64,
    batch: int = 64,
    rng: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Facility location: greedy maximisation of ``sum_i max_{j in S} (1 + cos(i, j))``.

    Up to ``exact_below`` prompts, the exact greedy with lazy evaluations, vectorised: upper
    bounds of the marginal gains are kept; the ``batch`` candidates with the highest bounds
    are re-evaluated in one matrix product, and the best of them is taken when its exact
    gain is at least every other bound (submodularity keeps stale bounds valid upper
    bounds). Above, the objective is sparsified to each prompt's ``n_neighbors`` most
    similar candidates (as apricot does), and the greedy is exact on it with incremental
    gain updates.

    Parameters
    ----------
    embeddings : ndarray, shape (n, d), unit rows
    budget : int
        Prompts to select (clamped to n).
    sample : int or None, default 10000
        Above this many prompts, both the prompts to cover and the candidates are a seeded
        sample of this size (10 per selected prompt at a budget of 1,000).
    exact_below : int, default 5000
    n_neighbors : int, default 64
    batch : int, default 64
        Candidates re-evaluated at once (exact path).

    Returns
    -------
    ndarray of int64
        Positions, in the order they were selected.
    """
    ground, g, budget = _ground(embeddings, budget, sample, rng)
    m = g.shape[0]
    if m > exact_below:
        return ground[_facility_sparse(g, budget, min(n_neighbors, m))]
    cur = np.zeros(m, dtype=np.float32)  # 1 + cos to the nearest selected (0: none yet)
    # first gains in closed form: sum_i (1 + x_i . x_j) = m + (sum_i x_i) . x_j
    bound = (m + g @ g.sum(axis=0)).astype(np.float64)
    chosen: list[int] = []
    taken = np.zeros(m, dtype=bool)
    while len(chosen) < budget:
        cand = np.flatnonzero(~taken)
        top = cand[np.lexsort((cand, -bound[cand]))[: batch + 1]]
        evalc, rest_bound = top[:batch], (bound[top[batch]] if len(top) > batch else -np.inf)
        sims = 1.0 + g @ g[evalc].T  # (m, b)
        gains = np.maximum(sims - cur[:, None], 0.0).sum(axis=0, dtype=np.float64)
        bound[evalc] = gains
        best = int(np.lexsort((evalc, -gains))[0])
        if gains[best] >= rest_bound:
            j = int(evalc[best])
            chosen.append(j)
            taken[j] = True
            np.maximum(cur, sims[:, best], out=cur)
    return ground[np.asarray(chosen, dtype=np.int64)]


def _facility_sparse(g: np.ndarray, budget: int, k: int, chunk_elems: int = 2**24) -> np.ndarray:
    """Greedy facility location on the k-nearest-neighbour sparsified similarity."""
    m = g.shape[0]
    nbr = np.empty((m, k), dtype=np.int64)
    val = np.empty((m, k), dtype=np.float32)
    step = max(1, chunk_elems // m)
    for s in range(0, m, step):
        sims = g[s : s + step] @ g.T
        part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        nbr[s : s + step] = part
        val[s : s + step] = np.take_along_axis(sims, part, axis=1)
    val += 1.0  # similarity 1 + cos >= 0
    # column view: for candidate j, the prompts i that have j among their neighbours
    cols = nbr.ravel()
    order = np.argsort(cols, kind="stable")
    col_rows = (order // k).astype(np.int64)
    col_vals = val.ravel()[order]
    col_ptr = np.searchsorted(cols[order], np.arange(m + 1))
    cur = np.zeros(m, dtype=np.float32)
    gains = np.bincount(cols, weights=val.ravel(), minlength=m).astype(np.float64)
    taken = np.zeros(m, dtype=bool)
    chosen: list[int] = []
    for _ in range(budget):
        gains[taken] = -np.inf
        j = int(np.argmax(gains))
        chosen.append(j)
        taken[j] = True
        r = col_rows[col_ptr[j] : col_ptr[j + 1]]
        sv = col_vals[col_ptr[j] : col_ptr[j + 1]]
        better = sv > cur[r]
        r, sv = r[better], sv[better]
        if not len(r):
            continue
        old = cur[r]
        ent_c = nbr[r]  # (|r|, k) candidates whose contribution from these rows changes
        ent_v = val[r]
        delta = np.maximum(ent_v - sv[:, None], 0.0) - np.maximum(ent_v - old[:, None], 0.0)
        np.add.at(gains, ent_c.ravel(), delta.ravel().astype(np.float64))
        cur[r] = sv
    return np.asarray(chosen, dtype=np.int64)


def select_kcenter(
    embeddings: np.ndarray,
    budget: int,
    *,
    sample: int | None = 10_000,
    rng: int | np.random.Generator | None = None,
) -> np.ndarray:
    """k-center by farthest-first traversal, starting from the prompt nearest the mean.

    Returns positions in the order selected (over a seeded sample above ``sample`` prompts).
    """
    ground, g, budget = _ground(embeddings, budget, sample, rng)
    if budget == 0:
        return np.zeros(0, dtype=np.int64)
    first = int(np.argmax(g @ g.mean(axis=0)))
    chosen = [first]
    best = g @ g[first]  # highest cosine to a selected prompt
    best[first] = np.inf
    while len(chosen) < budget:
        j = int(np.argmin(best))
        chosen.append(j)
        np.maximum(best, g @ g[j], out=best)
        best[j] = np.inf
    return ground[np.asarray(chosen, dtype=np.int64)]


def select_central(
    embeddings: np.ndarray,
    budget: int,
    *,
    rng: int | np.random.Generator | None = None,
) -> np.ndarray:
    """k-means with k = budget, then the prompt nearest each centre (empty clusters skip).

    Returns sorted positions.
    """
    x = np.asarray(embeddings, dtype=np.float32)
    k = min(int(budget), x.shape[0])
    c = cluster_embeddings(x, k, rng=rng)
    return select_diverse(c, 1, method=PickMethod.CENTROID, rng=rng)


def select_budget(
    embeddings: np.ndarray,
    budget: int,
    method: DiverseMethod | str,
    *,
    sample: int | None = 10_000,
    rng: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Dispatch to a coverage rule (``facility``, ``kcenter`` or ``central``); sorted positions."""
    meth = parse_enum(DiverseMethod, method, "diverse_method")
    if not isinstance(budget, (int, np.integer)) or budget < 0:
        raise ValidationError(f"the diverse budget must be an integer >= 0; got {budget!r}")
    if budget == 0:
        return np.zeros(0, dtype=np.int64)
    if meth is DiverseMethod.FACILITY:
        out = select_facility_location(embeddings, budget, sample=sample, rng=rng)
    elif meth is DiverseMethod.KCENTER:
        out = select_kcenter(embeddings, budget, sample=sample, rng=rng)
    elif meth is DiverseMethod.CENTRAL:
        out = select_central(embeddings, budget, rng=rng)
    else:
        raise ValidationError(
            "select_budget handles facility, kcenter and central; the kmeans recipe is "
            "select_diverse(cluster_embeddings(...), per_cluster)"
        )
    return np.sort(out)
