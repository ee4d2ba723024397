"""Clustering and selection per cluster: k-means, the diverse picks (WizardArena), the
candidates for difficulty scoring, and the hard subset (top scores).

All functions are pure and deterministic given ``rng``; positions refer to rows of the
embedding matrix / the cleaned prompt frame. The coverage rules (facility location,
k-center, central) and the coverage measure are in :mod:`wizardarena.testset.cover`.
"""

from __future__ import annotations

import enum
import warnings
from dataclasses import dataclass

import numpy as np

from wizardarena.exceptions import DataWarning, ValidationError, parse_enum

__all__ = [
    "AUTO_MINIBATCH_ABOVE",
    "ClusterMethod",
    "Clustering",
    "PickMethod",
    "cluster_embeddings",
    "per_cluster_order",
    "select_candidates",
    "select_diverse",
    "select_hard",
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
    meth = parse_enum(ClusterMethod, method, "method")
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
    meth = parse_enum(PickMethod, method, "pick")
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
