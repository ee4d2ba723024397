"""Clustering and selection (wizardarena.testset.select)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from wizardarena.exceptions import DataWarning, ValidationError
from wizardarena.testset.select import (
    Clustering,
    cluster_embeddings,
    per_cluster_order,
    select_candidates,
    select_diverse,
    select_hard,
)


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread() -> Iterator[None]:
    with threadpool_limits(1):
        yield


def _blobs(
    rng: np.random.Generator, k: int = 5, m: int = 20, d: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    centers = rng.normal(size=(k, d)) * 5
    labels = np.repeat(np.arange(k), m)
    x = centers[labels] + rng.normal(size=(k * m, d)) * 0.3
    return x.astype(np.float32), labels


@pytest.mark.parametrize("method", ["kmeans", "minibatch"])
def test_clustering_recovers_blobs(method: str) -> None:
    from sklearn.metrics import adjusted_rand_score

    x, truth = _blobs(np.random.default_rng(0))
    c = cluster_embeddings(x, 5, method=method, batch_size=32, rng=1)
    assert adjusted_rand_score(truth, c.labels) > 0.95
    assert c.centers.shape == (5, 8)
    np.testing.assert_allclose(
        c.distances, np.linalg.norm(x - c.centers[c.labels], axis=1), rtol=1e-5
    )


def test_clustering_is_deterministic_and_clamps() -> None:
    x, _ = _blobs(np.random.default_rng(0), k=2, m=3)
    a = cluster_embeddings(x, 4, rng=7)
    b = cluster_embeddings(x, 4, rng=7)
    np.testing.assert_array_equal(a.labels, b.labels)
    with pytest.warns(DataWarning, match="n_clusters=10 is more than the 6 prompts"):
        c = cluster_embeddings(x, 10, rng=0)
    assert c.n_clusters == 6


def test_clustering_validates() -> None:
    with pytest.raises(ValidationError, match="n_clusters"):
        cluster_embeddings(np.ones((3, 2)), 0)
    with pytest.raises(ValidationError, match="method must be one of"):
        cluster_embeddings(np.ones((3, 2)), 2, method="dbscan")
    with pytest.raises(ValidationError, match="shape"):
        cluster_embeddings(np.ones(3), 2)


def _clustering(labels: np.ndarray, distances: np.ndarray) -> Clustering:
    k = int(labels.max()) + 1
    return Clustering(labels, np.zeros((k, 2), np.float32), distances, k, "kmeans", 1)


def test_per_cluster_order_matches_plain_loop() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 6, size=50)
    key = rng.permutation(50)
    order, rank = per_cluster_order(labels, key=key)
    for lab in range(6):
        members = [i for i in np.argsort(key) if labels[i] == lab]
        got = [int(order[t]) for t in range(50) if labels[order[t]] == lab]
        assert got == members
        assert [int(rank[t]) for t in range(50) if labels[order[t]] == lab] == list(
            range(len(members))
        )


def test_select_diverse_counts_and_centroid_pick() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2])
    dist = np.array([0.5, 0.1, 0.9, 0.3, 0.2, 0.0], dtype=np.float32)
    c = _clustering(labels, dist)
    picked = select_diverse(c, 2, method="centroid", rng=0)
    assert picked.tolist() == [0, 1, 3, 4, 5]
    one = select_diverse(c, 1, method="centroid", rng=0)
    assert one.tolist() == [1, 4, 5]
    rand = select_diverse(c, 1, method="random", rng=0)
    assert len(rand) == 3 and len(set(labels[rand])) == 3
    assert select_diverse(c, 1, rng=5).tolist() == select_diverse(c, 1, rng=5).tolist()
    with pytest.raises(ValidationError, match="per_cluster"):
        select_diverse(c, 0)
    with pytest.raises(ValidationError, match="pick must be one of"):
        select_diverse(c, 1, method="farthest")


def test_random_pick_is_uniform_within_cluster() -> None:
    labels = np.zeros(4, dtype=np.int64)
    c = _clustering(labels, np.zeros(4, np.float32))
    counts = np.zeros(4)
    for seed in range(400):
        counts[select_diverse(c, 1, rng=seed)] += 1
    assert counts.min() > 60  # ~100 each


def test_candidates_include_diverse_first() -> None:
    labels = np.repeat(np.arange(3), 10)
    c = _clustering(labels, np.zeros(30, np.float32))
    diverse = np.array([0, 11, 29])
    cand = select_candidates(c, 3, include=diverse, rng=0)
    assert set(diverse) <= set(cand)
    assert np.bincount(labels[cand]).tolist() == [3, 3, 3]
    assert select_candidates(c, None).tolist() == list(range(30))
    with pytest.raises(ValidationError, match="candidates_per_cluster"):
        select_candidates(c, 0)


def test_select_hard_top_scores_ties_and_nan() -> None:
    scores = np.array([5.0, np.nan, 9.0, 7.0, 7.0, 1.0])
    top = select_hard(scores, 3, rng=0)
    assert top[0] == 2 and set(top[1:]) == {3, 4}
    tie_pick = {int(select_hard(scores, 2, rng=s)[1]) for s in range(30)}
    assert tie_pick == {3, 4}  # the tie is broken by rng, both ways
    with pytest.warns(DataWarning, match="only 5 candidates"):
        allf = select_hard(scores, 6, rng=0)
    assert 1 not in allf and len(allf) == 5
    assert select_hard(scores, 0).tolist() == []
    with pytest.raises(ValidationError, match="hard"):
        select_hard(scores, -1)


def _plain_facility(x: np.ndarray, budget: int) -> list[int]:
    """Plain greedy facility location (no lazy evaluation), the reference."""
    cur = np.zeros(len(x))
    chosen: list[int] = []
    for _ in range(budget):
        gains = [
            -np.inf if j in chosen else np.maximum(1 + x @ x[j] - cur, 0).sum()
            for j in range(len(x))
        ]
        j = int(np.argmax(gains))
        chosen.append(j)
        cur = np.maximum(cur, 1 + x @ x[j])
    return chosen


@pytest.mark.parametrize("seed", range(4))
def test_lazy_facility_location_equals_plain_greedy(seed: int) -> None:
    from wizardarena.testset.cover import select_facility_location

    x, _ = _blobs(np.random.default_rng(seed), k=6, m=15)
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float64)
    got = select_facility_location(x.astype(np.float32), 12, batch=3, rng=0)
    want = _plain_facility(x, 12)
    assert got.tolist() == want


def test_kcenter_is_farthest_first() -> None:
    from wizardarena.testset.cover import select_kcenter

    x, _ = _blobs(np.random.default_rng(1), k=5, m=10)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    got = select_kcenter(x, 6, rng=0).tolist()
    chosen = [int(np.argmax(x @ x.mean(axis=0)))]
    while len(chosen) < 6:
        best = (x @ x[chosen].T).max(axis=1)
        best[chosen] = np.inf
        chosen.append(int(np.argmin(best)))
    assert got == chosen


def test_rules_cover_every_blob_where_two_random_picks_per_cluster_do_not() -> None:
    from wizardarena.testset.cover import coverage, select_budget

    x, truth = _blobs(np.random.default_rng(2), k=8, m=25)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    for method in ("facility", "kcenter", "central"):
        sel = select_budget(x, 8, method, rng=0)
        assert len(sel) == 8 and len(set(truth[sel])) == 8, method
        cov = coverage(x, sel, method=method, rng=0)
        assert cov.mean_distance < cov.random_mean
    with pytest.raises(ValidationError, match="diverse_method must be one of"):
        select_budget(x, 3, "dpp")


def test_selection_on_a_sample_above_the_limit() -> None:
    from wizardarena.testset.cover import coverage, select_facility_location

    x, truth = _blobs(np.random.default_rng(3), k=10, m=60)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    sel = select_facility_location(x, 10, sample=200, rng=0)
    assert len(set(sel.tolist())) == 10 and len(set(truth[sel])) >= 9
    cov = coverage(x, sel, sample=150, rng=0)
    assert cov.evaluated_on == 150


def test_sparse_facility_location_is_close_to_exact() -> None:
    from wizardarena.testset.cover import mean_nearest_distance, select_facility_location

    x, truth = _blobs(np.random.default_rng(4), k=12, m=50)
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
    exact = select_facility_location(x, 24, rng=0)
    sparse = select_facility_location(x, 24, exact_below=0, n_neighbors=40, rng=0)
    assert len(set(sparse.tolist())) == 24 and len(set(truth[sparse])) == 12
    assert mean_nearest_distance(x, sparse) <= 1.05 * mean_nearest_distance(x, exact)
    # with every prompt as a neighbour the sparsified objective is the exact one
    full = select_facility_location(x, 24, exact_below=0, n_neighbors=600, rng=0)
    assert full.tolist() == exact.tolist()


def test_coverage_matches_its_plain_definition_on_a_sample() -> None:
    """coverage(): the evaluated rows are one seeded sample, then the random subsets come
    from the same stream; each mean is the plain nearest-distance mean over that sample."""
    from wizardarena.testset.cover import _nearest_sim, coverage

    gen = np.random.default_rng(3)
    x = gen.normal(size=(400, 8)).astype(np.float32)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    sel = np.arange(0, 400, 17)
    for rng in (11, np.random.default_rng(11)):
        cov = coverage(x, sel, n_random=4, sample=150, rng=rng)
        ref = np.random.default_rng(11)
        rows = x[np.sort(ref.choice(400, size=150, replace=False))]

        def plain(s: np.ndarray, rows: np.ndarray = rows) -> float:
            d = 2.0 - 2.0 * _nearest_sim(rows, x[s]).astype(np.float64)
            return float(np.sqrt(np.maximum(0.0, d)).mean())

        rand = [plain(ref.choice(400, size=len(sel), replace=False)) for _ in range(4)]
        assert cov.evaluated_on == 150
        assert cov.mean_distance == plain(sel)
        assert cov.random_mean == float(np.mean(rand))
        assert cov.random_sd == float(np.std(rand, ddof=1))
