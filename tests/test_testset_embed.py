"""Embedders (wizardarena.testset.embed)."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from wizardarena.exceptions import MissingExtraError, ValidationError
from wizardarena.testset.embed import (
    APIEmbedder,
    Precomputed,
    SentenceTransformerEmbedder,
    TfidfEmbedder,
    check_embeddings,
    resolve_embedder,
)
from wizardarena.testset.prompts import example_prompts


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread() -> Iterator[None]:
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return example_prompts()["text"].tolist()


def test_tfidf_shape_norm_and_determinism(texts: list[str]) -> None:
    e1 = TfidfEmbedder(dim=64, rng=0)(texts)
    e2 = TfidfEmbedder(dim=64, rng=0)(texts)
    assert e1.shape == (300, 64)
    assert e1.dtype == np.float32
    assert np.allclose(np.linalg.norm(e1, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(e1, e2)


def test_tfidf_neighbours_share_topic(texts: list[str]) -> None:
    topics = example_prompts()["topic"].to_numpy()
    emb = TfidfEmbedder(dim=64, rng=0)(texts)
    sims = emb @ emb.T
    np.fill_diagonal(sims, -np.inf)
    nn = sims.argmax(axis=1)
    assert (topics[nn] == topics).mean() > 0.9


def test_randomized_and_exact_svd_agree_on_neighbourhoods(texts: list[str]) -> None:
    exact = TfidfEmbedder(dim=32, rng=0, exact_below=10_000)(texts)
    rand = TfidfEmbedder(dim=32, rng=0, exact_below=0, n_iter=7)(texts)
    # same subspace up to rotation: the Gram matrices (cosines) nearly agree
    diff = np.abs(exact @ exact.T - rand @ rand.T)
    assert np.median(diff) < 0.05


def test_fit_sample_path_is_deterministic(texts: list[str]) -> None:
    a = TfidfEmbedder(dim=16, fit_sample=100, rng=3)(texts)
    b = TfidfEmbedder(dim=16, fit_sample=100, rng=3)(texts)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (300, 16)


def test_tfidf_tiny_inputs() -> None:
    assert TfidfEmbedder()([]).shape == (0, 1)
    one = TfidfEmbedder()(["just one text"])
    assert one.shape[0] == 1 and np.isclose(np.linalg.norm(one), 1.0)
    two = TfidfEmbedder(dim=8)(["alpha beta", "gamma delta"])
    assert two.shape == (2, 1)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dim": 0}, "dim"),
        ({"word_ngrams": None, "char_ngrams": None}, "both be None"),
        ({"word_ngrams": (2, 1)}, "word_ngrams"),
        ({"fit_sample": 1}, "fit_sample"),
    ],
)
def test_tfidf_validates(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        TfidfEmbedder(**kwargs)  # type: ignore[arg-type]


def test_precomputed_by_position_and_by_id() -> None:
    arr = np.arange(12, dtype=float).reshape(4, 3) + 1
    p = Precomputed(arr)
    out = p.lookup(["a", "b"], np.array([2, 0]))
    np.testing.assert_allclose(out[0], arr[2] / np.linalg.norm(arr[2]), rtol=1e-6)
    frame = pd.DataFrame(arr, index=["w", "x", "y", "z"])
    byid = Precomputed(frame).lookup(["z", "w"], None)
    np.testing.assert_allclose(byid[1], arr[0] / np.linalg.norm(arr[0]), rtol=1e-6)
    mapping = Precomputed({"k": [0.0, 2.0]}).lookup(["k"], None)
    np.testing.assert_allclose(mapping, [[0.0, 1.0]])
    with pytest.raises(ValidationError, match="lack 1 prompt ids"):
        Precomputed(frame).lookup(["nope"], None)
    with pytest.raises(ValidationError, match="aligned by input position"):
        p.lookup(["a"], None)
    with pytest.raises(ValidationError, match="2-D"):
        Precomputed(np.zeros(3))


def test_check_embeddings_rejects_bad_output() -> None:
    with pytest.raises(ValidationError, match="shape \\(3, d\\)"):
        check_embeddings(np.zeros((2, 4)), 3, "f")
    bad = np.ones((3, 2))
    bad[1, 0] = np.nan
    with pytest.raises(ValidationError, match="rows \\[1\\]"):
        check_embeddings(bad, 3, "f")


def test_resolve_embedder() -> None:
    assert isinstance(resolve_embedder(None), TfidfEmbedder)
    assert isinstance(resolve_embedder("tfidf"), TfidfEmbedder)
    assert isinstance(resolve_embedder(np.ones((2, 2))), Precomputed)
    assert isinstance(resolve_embedder("st:some/model"), SentenceTransformerEmbedder)

    def f(t: list[str]) -> np.ndarray:
        return np.ones((len(t), 2))

    assert resolve_embedder(f) is f
    with pytest.raises(ValidationError, match="embedder must be"):
        resolve_embedder("word2vec")
    with pytest.raises(ValidationError, match="embedder must be"):
        resolve_embedder(3)


@pytest.mark.skipif(
    importlib.util.find_spec("sentence_transformers") is not None,
    reason="sentence-transformers is installed",
)
def test_sentence_transformers_missing_extra_is_reported() -> None:
    emb = SentenceTransformerEmbedder("all-MiniLM-L6-v2")
    with pytest.raises(MissingExtraError, match="wizardarena\\[embeddings\\]"):
        emb(["a text"])


class _FakeClient:
    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []

    def embed(self, texts: list[str], **kwargs: object) -> np.ndarray:
        self.calls.append(kwargs)
        return np.array([[len(t), 1.0] for t in texts])


def test_api_embedder_uses_client_embed() -> None:
    client = _FakeClient()
    out = APIEmbedder(client, model="emb", batch_size=7)(["ab", "abcd"])
    assert client.calls == [{"batch_size": 7, "model": "emb"}]
    assert out.shape == (2, 2)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0)
    with pytest.raises(ValidationError, match="embed\\(texts\\)"):
        APIEmbedder(object())


def test_api_embedder_against_simulated_server(texts: list[str]) -> None:
    server = pytest.importorskip("wizardarena.sim.server")
    from wizardarena.arena.client import Client

    with server.SimArena({"m": 1000.0}, rng=0) as sim, Client(
        sim.base_url, api_key_env=None
    ) as client:
        emb = APIEmbedder(client, model="sim-embed")(texts[:20])
    assert emb.shape[0] == 20
    assert np.allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)
