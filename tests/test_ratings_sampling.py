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
