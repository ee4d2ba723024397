"""The fast exact multinomial sampler against the multinomial's known moments."""

from __future__ import annotations

import numpy as np
import pytest

from wizardarena.ratings.sampling import chunk_sizes, multinomial


@pytest.mark.parametrize("branch", ["add", "remove"])
def test_poisson_corrected_multinomial_has_multinomial_moments(branch: str) -> None:
    g = np.random.default_rng(0)
    k, total, size = 5000, 30_000, 3000
    probs = g.dirichlet(np.full(k, 0.5))
    probs[[0, 1]] = [0.05, 0.02]
    probs /= probs.sum()
    mu = total + 4 * np.sqrt(total) if branch == "remove" else None
    x = multinomial(g, total, probs, size, poisson_mean=mu)
    assert x.shape == (size, k) and x.min() >= 0
    assert (x.sum(axis=1) == total).all()
    # means: aggregated chi-square over categories is consistent with the multinomial
    mean = x.mean(axis=0)
    np.testing.assert_allclose(mean[:2], total * probs[:2], rtol=0.01)
    # variances and covariance of the two large categories: N p (1 - p) and -N p_i p_j
    var = x[:, :2].var(axis=0, ddof=1)
    np.testing.assert_allclose(var, total * probs[:2] * (1 - probs[:2]), rtol=0.08)
    # half of the categories together: Binomial(N, q) variance N q (1 - q), not Poisson's N q
    q = probs[::2].sum()
    half = x[:, ::2].sum(axis=1)
    assert half.var(ddof=1) == pytest.approx(total * q * (1 - q), rel=0.08)
    # pooled goodness of fit of the sample means over all categories
    z = (mean - total * probs) / np.sqrt(total * probs * (1 - probs) / size)
    assert abs(z.mean()) < 0.1 and 0.9 < z.var() < 1.1


def test_chunk_sizes_depend_on_data_only() -> None:
    assert sum(chunk_sizes(1000, 8385)) == 1000
    assert chunk_sizes(1000, 8385)[0] == 31
    assert chunk_sizes(1000, 190) == [250, 250, 250, 250]
    assert chunk_sizes(5, 10) == [5]


def _reference_by_index(counts: np.ndarray, g: np.random.Generator) -> np.ndarray:
    """The by-index draw written plainly: the same stream (16 ranges, a multinomial over
    them, uint32 indices), every battle mapped to its category and counted."""
    total = int(counts.sum())
    edges = np.linspace(0, total, 17).astype(np.int64)
    width = np.diff(edges)
    per_range = g.multinomial(total, width / total)
    category = np.repeat(np.arange(counts.shape[0]), counts)
    out = np.zeros(counts.shape[0], dtype=np.int64)
    for lo, w, m in zip(edges[:-1], width, per_range):
        idx = g.integers(0, w, m, dtype=np.uint32)
        for battle in lo + idx.astype(np.int64):
            out[category[battle]] += 1
    return out


@pytest.mark.parametrize("kind", ["one battle each", "several", "some without battles"])
def test_by_index_draw_matches_a_plain_loop(kind: str) -> None:
    from wizardarena.ratings.design import Categories
    from wizardarena.ratings.sampling import BattleSampler

    g = np.random.default_rng(3)
    k = 6000
    counts = {"one battle each": np.ones(k, dtype=np.int64),
              "several": g.integers(1, 4, k),
              "some without battles": np.r_[g.integers(0, 3, k - 1), 1]}[kind]
    cats = Categories(row=np.arange(k), win=np.ones(k), loss=np.zeros(k), tie=np.zeros(k),
                      count=counts, group=None, n_groups=0, n_rows=k, has_ties=False)
    sampler = BattleSampler(cats)
    assert sampler.by_index
    for seed in range(3):
        np.testing.assert_array_equal(sampler.draw(np.random.default_rng(seed), 1)[0],
                                      _reference_by_index(counts, np.random.default_rng(seed)))


def test_by_index_battle_draws_are_multinomial() -> None:
    """With about one battle per category (continuous style features), replicates are drawn
    battle by battle, range by range: exact multinomial moments, every replicate N battles."""
    from wizardarena.ratings.design import Ties, build_design
    from wizardarena.ratings.sampling import BattleSampler

    g = np.random.default_rng(0)
    n = 20_000
    a = g.integers(0, 5, n)
    b = (a + g.integers(1, 5, n)) % 5
    x = np.round(g.standard_normal((n, 1)), 2)  # some rows repeat: categories of 2-3
    _, cats = build_design(5, a, b, g.integers(0, 2, n).astype(np.int8), ties=Ties.HALF,
                           x=x, feature_names=("f",))
    sampler = BattleSampler(cats)
    assert sampler.by_index and sampler.first is not None  # categories of several battles
    draws = sampler.draw(np.random.default_rng(1), 2000)
    assert (draws.sum(axis=1) == n).all()
    p = cats.count / n
    np.testing.assert_allclose(draws.mean(axis=0)[cats.count > 1],
                               cats.count[cats.count > 1], rtol=0.1)
    z = (draws.mean(axis=0) - n * p) / np.sqrt(n * p * (1 - p) / draws.shape[0])
    assert abs(z.mean()) < 0.1 and 0.9 < z.var() < 1.1
    ratio = draws.var(axis=0, ddof=1) / (n * p * (1 - p))
    assert 0.95 < ratio.mean() < 1.05
