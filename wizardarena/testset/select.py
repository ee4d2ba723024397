"""Clustering and subset selection: diverse (per cluster), candidates, hard (top scores), mix.

All functions are pure and deterministic given ``rng``; positions refer to rows of the
embedding matrix / the cleaned prompt frame.
"""

from __future__ import annotations

import enum
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from wizardarena.exceptions import DataWarning, ValidationError
from wizardarena.exceptions import parse_enum as _enum

__all__ = [
    "ClusterMethod",
    "Clustering",
    "Coverage",
    "DiverseMethod",
    "PickMethod",
    "cluster_embeddings",
    "coverage",
    "mean_nearest_distance",
    "per_cluster_order",
    "select_budget",
    "select_candidates",
    "select_central",
    "select_diverse",
    "select_facility_location",
    "select_hard",
    "select_kcenter",
]

#: above this many prompts, ``method="auto"`` uses MiniBatchKMeans instead of KMeans
AUTO_MINIBATCH_ABOVE = 20_000


class ClusterMethod(str, enum.Enum):
    """Clustering algorithm."""

    AUTO = "auto"  #: KMeans up to 20,000 prompts, MiniBatchKMeans above
    KMEANS = "kmeans"
    MINIBATCH = "minibatch"


class PickMethod(str, enum.Enum):
    """How the diverse prompts of a cluster are chosen."""

    RANDOM = "random"  #: seeded uniform sample of the cluster
    CENTROID = "centroid"  #: the prompts nearest the cluster centroid


@dataclass(frozen=True)
class Clustering:
    """A k-means clustering of the embeddings.

    Attributes
    ----------
    labels : ndarray of int64, shape (n,)
    centers : ndarray of float32, shape (k, d)
    distances : ndarray of float32, shape (n,)
        Euclidean distance of each point to its centre.
    n_clusters : int
        Clusters requested after clamping to ``n`` (some may end up empty).
    method : str
        The algorithm actually used.
    n_iter : int
        Iterations (KMeans) or mini-batch steps (MiniBatchKMeans) of the kept run.
    """

    labels: np.ndarray
    centers: np.ndarray
    distances: np.ndarray
    n_clusters: int
    method: str
    n_iter: int


def cluster_embeddings(
    embeddings: np.ndarray,
    n_clusters: int,
    *,
    method: ClusterMethod | str = ClusterMethod.AUTO,
    n_init: int = 3,
    n_init_minibatch: int | None = None,
    batch_size: int = 4096,
    max_iter: int = 100,
    rng: int | np.random.Generator | None = None,
) -> Clustering:
    """k-means over the (L2-normalised) prompt embeddings.

    Parameters
    ----------
    embeddings : ndarray, shape (n, d)
    n_clusters : int
        Clamped to ``n`` with a :class:`~wizardarena.exceptions.DataWarning` when larger.
    method : {"auto", "kmeans", "minibatch"}, default "auto"
    n_init : int, default 3
        KMeans restarts (the best inertia is kept).
    n_init_minibatch : int, optional
        MiniBatchKMeans restarts (default 1: one k-means++ start; its epochs are capped at
        20, with early stopping after 10 mini-batches without improvement).
    batch_size : int, default 4096
        MiniBatchKMeans batch size.
    max_iter : int, default 100
    rng : int, Generator or None

    Returns
    -------
    Clustering
    """
    from sklearn.cluster import KMeans, MiniBatchKMeans
    from sklearn.exceptions import ConvergenceWarning as SkConvergenceWarning

    x = np.asarray(embeddings, dtype=np.float32)
    if x.ndim != 2 or x.shape[0] < 1:
        raise ValidationError(f"embeddings must have shape (n >= 1, d); got {x.shape}")
    if not isinstance(n_clusters, (int, np.integer)) or n_clusters < 1:
        raise ValidationError(f"n_clusters must be an integer >= 1; got {n_clusters!r}")
    meth = _enum(ClusterMethod, method, "method")
    n = x.shape[0]
    k = int(n_clusters)
    if k > n:
        warnings.warn(
            f"n_clusters={k} is more than the {n} prompts; using {n} clusters",
            DataWarning,
            stacklevel=2,
        )
        k = n
    gen = np.random.default_rng(rng)
    seed = int(gen.integers(2**31))
    if meth is ClusterMethod.AUTO:
        meth = ClusterMethod.KMEANS if n <= AUTO_MINIBATCH_ABOVE else ClusterMethod.MINIBATCH
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SkConvergenceWarning)
        if meth is ClusterMethod.KMEANS:
            model = KMeans(n_clusters=k, n_init=n_init, max_iter=max_iter, random_state=seed)
        else:
            model = MiniBatchKMeans(
                n_clusters=k,
                n_init=1 if n_init_minibatch is None else n_init_minibatch,
                batch_size=max(batch_size, k),
                init_size=min(n, max(3 * batch_size, 3 * k)),
                max_iter=min(max_iter, 20),
                max_no_improvement=10,
                random_state=seed,
                reassignment_ratio=0.01,
            )
        model.fit(x)
    for w in caught:
        if issubclass(w.category, SkConvergenceWarning):
            warnings.warn(
                f"k-means: {w.message} (duplicate or very similar prompts?)",
                DataWarning,
                stacklevel=2,
            )
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    centers = np.asarray(model.cluster_centers_, dtype=np.float32)
    labels = np.asarray(model.labels_, dtype=np.int64)
    if meth is ClusterMethod.MINIBATCH:
        # labels_ of MiniBatchKMeans come from the last pass; recompute them exactly
        labels = _assign(x, centers)
    distances = np.empty(n, dtype=np.float32)
    for s in range(0, n, 65536):  # chunked: no (n, d) temporary
        diff = x[s : s + 65536] - centers[labels[s : s + 65536]]
        distances[s : s + 65536] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return Clustering(
        labels=labels,
        centers=centers,
        distances=distances,
        n_clusters=k,
        method=meth.value,
        n_iter=int(getattr(model, "n_iter_", getattr(model, "n_steps_", 0))),
    )


def _assign(x: np.ndarray, centers: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """Nearest centre of each row (chunked squared-distance argmin)."""
    c2 = (centers * centers).sum(axis=1)
    out = np.empty(x.shape[0], dtype=np.int64)
    for s in range(0, x.shape[0], chunk):
        block = x[s : s + chunk]
        out[s : s + chunk] = np.argmin(c2[None, :] - 2.0 * (block @ centers.T), axis=1)
    return out


def per_cluster_order(
    labels: np.ndarray,
    *,
    key: np.ndarray,
    priority: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Sort positions by (cluster, priority, key) and number them within their cluster.

    Returns
    -------
    order : ndarray of int64, shape (n,)
        Positions, grouped by cluster.
    rank : ndarray of int64, shape (n,)
        ``rank[t]`` is the 0-based rank of ``order[t]`` inside its cluster.
    """
    n = len(labels)
    keys: tuple[np.ndarray, ...] = (np.arange(n), key)
    if priority is not None:
        keys = (*keys, priority)
    order = np.lexsort((*keys, labels))
    sorted_labels = labels[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_labels)) + 1]
    group_start = np.repeat(starts, np.diff(np.r_[starts, n]))
    rank = np.arange(n) - group_start
    return order.astype(np.int64), rank.astype(np.int64)


def select_diverse(
    clustering: Clustering,
    per_cluster: int,
    *,
    method: PickMethod | str = PickMethod.RANDOM,
    rng: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Pick ``per_cluster`` prompts from each cluster (all of a smaller cluster).

    Parameters
    ----------
    clustering : Clustering
    per_cluster : int
    method : {"random", "centroid"}, default "random"
    rng : int, Generator or None
        Used by ``"random"`` and to break exact distance ties for ``"centroid"``.

    Returns
    -------
    ndarray of int64
        Sorted positions of the picked prompts.
    """
    if not isinstance(per_cluster, (int, np.integer)) or per_cluster < 1:
        raise ValidationError(f"per_cluster must be an integer >= 1; got {per_cluster!r}")
    meth = _enum(PickMethod, method, "pick")
    gen = np.random.default_rng(rng)
    n = len(clustering.labels)
    tiebreak = gen.permutation(n)
    if meth is PickMethod.RANDOM:
        order, rank = per_cluster_order(clustering.labels, key=tiebreak)
    else:
        order, rank = per_cluster_order(
            clustering.labels, key=tiebreak, priority=clustering.distances
        )
    return np.sort(order[rank < per_cluster])


def select_candidates(
    clustering: Clustering,
    per_cluster: int | None,
    *,
    include: np.ndarray | None = None,
    rng: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Candidates for difficulty scoring: up to ``per_cluster`` per cluster.

    Prompts in ``include`` (e.g. the diverse picks) come first in their cluster; the rest is
    a seeded random sample. ``per_cluster=None`` returns every position.

    Returns
    -------
    ndarray of int64
        Sorted positions.
    """
    n = len(clustering.labels)
    if per_cluster is None:
        return np.arange(n, dtype=np.int64)
    if not isinstance(per_cluster, (int, np.integer)) or per_cluster < 1:
        raise ValidationError(
            f"candidates_per_cluster must be an integer >= 1 or None; got {per_cluster!r}"
        )
    gen = np.random.default_rng(rng)
    priority = np.ones(n, dtype=np.int64)
    if include is not None:
        priority[np.asarray(include, dtype=np.int64)] = 0
    order, rank = per_cluster_order(
        clustering.labels, key=gen.permutation(n), priority=priority
    )
    return np.sort(order[rank < per_cluster])


def select_hard(
    scores: np.ndarray,
    n: int,
    *,
    rng: int | np.random.Generator | None = None,
) -> np.ndarray:
    """Positions of the ``n`` highest finite scores, ties broken by ``rng``.

    NaN scores (unscored or unparseable) are never selected. Warns with
    :class:`~wizardarena.exceptions.DataWarning` when fewer than ``n`` scores are finite.

    Returns
    -------
    ndarray of int64
        Positions, hardest first.
    """
    s = np.asarray(scores, dtype=float)
    if not isinstance(n, (int, np.integer)) or n < 0:
        raise ValidationError(f"hard must be an integer >= 0; got {n!r}")
    gen = np.random.default_rng(rng)
    finite = np.flatnonzero(np.isfinite(s))
    if len(finite) < n:
        warnings.warn(
            f"hard={n} but only {len(finite)} candidates have a finite difficulty score; "
            f"the hard subset has {len(finite)} prompts",
            DataWarning,
            stacklevel=2,
        )
    perm = finite[gen.permutation(len(finite))]
    order = perm[np.argsort(-s[perm], kind="stable")]
    return order[:n].astype(np.int64)


# ----------------------------------------------------------------------------- coverage


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
    meth = _enum(DiverseMethod, method, "diverse_method")
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
