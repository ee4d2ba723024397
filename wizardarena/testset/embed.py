"""Pluggable prompt embedders.

An embedder is any callable ``embedder(texts) -> ndarray of shape (n, d)``. This module
provides:

:class:`TfidfEmbedder` (default, no download)
    TF-IDF of hashed word uni+bigrams and character n-grams, TruncatedSVD, L2-normalised.
    The n-gram counting is vectorised with numpy (no Python loop per n-gram) and the SVD is
    fitted on a seeded sample of rows, so 100k prompts embed in seconds.
:class:`SentenceTransformerEmbedder`
    a sentence-transformers model by name or local path (optional extra ``embeddings``,
    imported lazily).
:class:`APIEmbedder`
    any OpenAI-compatible ``/v1/embeddings`` endpoint through
    :class:`wizardarena.arena.client.Client`.
:class:`Precomputed`
    vectors you already have, looked up by prompt id (or by input position).

Every embedder returns float32 rows with unit L2 norm (cosine = dot product).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd
import scipy.sparse as sp

from wizardarena.exceptions import ValidationError, missing_extra
from wizardarena.testset._ngrams import char_codes, hashed_counts, ngram_hashes, word_tokens

__all__ = [
    "APIEmbedder",
    "Embedder",
    "Precomputed",
    "SentenceTransformerEmbedder",
    "TfidfEmbedder",
    "l2_normalize",
    "resolve_embedder",
]


@runtime_checkable
class Embedder(Protocol):
    """Anything that maps a list of texts to an array of shape (n, d)."""

    def __call__(self, texts: Sequence[str]) -> np.ndarray:  # pragma: no cover - protocol
        ...


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm, as float32 (zero rows stay zero)."""
    arr = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(arr, axis=1, keepdims=True)
    np.maximum(norms, np.float32(1e-12), out=norms)
    return arr / norms


def check_embeddings(arr: np.ndarray, n: int, where: str) -> np.ndarray:
    """Validate an embedding matrix (shape (n, d), finite) and L2-normalise it."""
    a = np.asarray(arr)
    if a.ndim != 2 or a.shape[0] != n or a.shape[1] < 1:
        raise ValidationError(
            f"{where} must return an array of shape ({n}, d) for {n} texts; got shape {a.shape}"
        )
    if not np.issubdtype(a.dtype, np.number):
        raise ValidationError(f"{where} must return numbers; got dtype {a.dtype}")
    bad = np.flatnonzero(~np.isfinite(a).all(axis=1))
    if len(bad):
        raise ValidationError(
            f"{where} returned non-finite values in rows {bad[:5].tolist()}"
        )
    return l2_normalize(a)


def _tfidf_block(counts: sp.csr_matrix, min_df: int, max_features: int) -> sp.csr_matrix:
    """Sublinear TF x smooth IDF on the columns with document frequency >= min_df (at most
    the ``max_features`` most frequent), L2-normalised rows."""
    counts = counts.tocsc()
    df = np.diff(counts.indptr)
    cols = np.flatnonzero(df >= min_df)
    if len(cols) > max_features:
        top = np.argsort(-df[cols], kind="stable")[:max_features]
        cols = np.sort(cols[top])
    mat = counts[:, cols].tocsr()
    n = mat.shape[0]
    idf = (np.log((1.0 + n) / (1.0 + df[cols])) + 1.0).astype(np.float32)
    mat.data = np.log1p(mat.data, dtype=np.float32)
    mat = mat @ sp.diags(idf, format="csr")
    norms = np.sqrt(np.asarray(mat.multiply(mat).sum(axis=1)).ravel()).astype(np.float32)
    norms[norms == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / norms) @ mat, dtype=np.float32)


def _exact_components(x: sp.csr_matrix, k: int) -> np.ndarray:
    """Top-``k`` right singular vectors of ``x`` via the eigendecomposition of ``x x^T``.

    Returns float32 of shape (k, n_features); signs are fixed so that the largest-magnitude
    entry of each component is positive (deterministic output).
    """
    gram = np.asarray((x @ x.T).toarray(), dtype=np.float64)
    vals, vecs = np.linalg.eigh(gram)
    order = np.argsort(vals)[::-1][:k]
    vals, vecs = np.maximum(vals[order], 1e-12), vecs[:, order]
    comp = np.asarray((x.T @ vecs).T, dtype=np.float64) / np.sqrt(vals)[:, None]
    flip = np.sign(comp[np.arange(k), np.argmax(np.abs(comp), axis=1)])
    flip[flip == 0] = 1.0
    return (comp * flip[:, None]).astype(np.float32)


class TfidfEmbedder:
    """TF-IDF (hashed word and character n-grams) -> TruncatedSVD -> L2 normalisation.

    Two blocks are built and weighted equally: word n-grams (default unigrams and bigrams of
    lower-cased ``\\w+`` tokens, first ``max_chars`` characters) and character n-grams
    (default 4-grams of the lower-cased, whitespace-collapsed first ``char_max_chars``
    characters). Each block is hashed into ``n_features`` buckets, keeps the buckets present
    in at least ``min_df`` documents, gets sublinear TF (``1 + log tf``) times smooth IDF, and
    is L2-normalised; the union is reduced with randomized TruncatedSVD fitted on at most
    ``fit_sample`` rows (seeded sample) and applied to all rows.

    Parameters
    ----------
    dim : int, default 256
        Output dimension (clamped to ``n_texts - 1`` and the number of features).
    word_ngrams : tuple of int, default (1, 2)
        Inclusive range of word n-gram lengths; ``None`` disables the word block.
    char_ngrams : tuple of int, default (4, 4)
        Inclusive range of character n-gram lengths; ``None`` disables the char block.
    max_chars : int, default 2000
        Characters of each text used for word n-grams.
    char_max_chars : int, default 500
        Characters of each text used for character n-grams.
    n_features : int, default 2**20
        Hash buckets per block.
    min_df : int, default 2
        Minimum document frequency of a kept bucket (1 when fewer than 10 texts).
    max_features : int, default 2**17
        At most this many buckets per block are kept (the most frequent ones); bounds the
        SVD's dense work matrices.
    fit_sample : int, default 20000
        Rows used to fit the SVD.
    n_iter : int, default 2
        Power iterations of the randomized SVD (<= 2 skips the LU renormalisation).
    exact_below : int, default 3000
        With at most this many fitting rows the SVD is computed exactly (eigendecomposition
        of the row Gram matrix), which is faster than the randomized solver for small inputs.
    rng : int, Generator or None
        Seeds the SVD and its row sample (the output is deterministic given ``rng``).

    Notes
    -----
    The embedder is fitted on the texts of each call (the TF-IDF vocabulary and SVD basis
    depend on the corpus), so embed texts that must be compared in one call.
    """

    def __init__(
        self,
        *,
        dim: int = 256,
        word_ngrams: tuple[int, int] | None = (1, 2),
        char_ngrams: tuple[int, int] | None = (4, 4),
        max_chars: int = 2000,
        char_max_chars: int = 500,
        n_features: int = 2**20,
        min_df: int = 2,
        max_features: int = 2**17,
        fit_sample: int = 20_000,
        n_iter: int = 2,
        exact_below: int = 3000,
        rng: int | np.random.Generator | None = 0,
    ) -> None:
        if dim < 1:
            raise ValidationError(f"dim must be >= 1; got {dim!r}")
        if word_ngrams is None and char_ngrams is None:
            raise ValidationError("word_ngrams and char_ngrams cannot both be None")
        for name, rng_ in (("word_ngrams", word_ngrams), ("char_ngrams", char_ngrams)):
            if rng_ is not None and (len(rng_) != 2 or rng_[0] < 1 or rng_[1] < rng_[0]):
                raise ValidationError(
                    f"{name} must be (low, high) with 1 <= low <= high; got {rng_!r}"
                )
        if fit_sample < 2:
            raise ValidationError(f"fit_sample must be >= 2; got {fit_sample!r}")
        self.dim = dim
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.max_chars = max_chars
        self.char_max_chars = char_max_chars
        self.n_features = n_features
        self.min_df = min_df
        self.max_features = max_features
        self.fit_sample = fit_sample
        self.n_iter = n_iter
        self.exact_below = exact_below
        self.rng = rng

    def __repr__(self) -> str:
        return (
            f"TfidfEmbedder(dim={self.dim}, word_ngrams={self.word_ngrams}, "
            f"char_ngrams={self.char_ngrams})"
        )

    def _block(self, values: np.ndarray, offsets: np.ndarray, ngrams: tuple[int, int],
               salt: int, n: int, min_df: int) -> sp.csr_matrix:
        """One TF-IDF block from the hashed n-grams (lengths ``ngrams``) of a token stream."""
        hs, ds = [], []
        for k in range(ngrams[0], ngrams[1] + 1):
            h, d = ngram_hashes(values, offsets, k, salt=salt + k)
            hs.append(h)
            ds.append(d)
        counts = hashed_counts(np.concatenate(hs), np.concatenate(ds), n, self.n_features)
        return _tfidf_block(counts, min_df, self.max_features)

    def features(self, texts: Sequence[str]) -> sp.csr_matrix:
        """The L2-normalised sparse TF-IDF matrix, shape (n, n_kept_features)."""
        n = len(texts)
        min_df = self.min_df if n >= 10 else 1
        blocks = []
        if self.word_ngrams is not None:
            tok = word_tokens(texts, max_chars=self.max_chars)
            blocks.append(self._block(tok.ids, tok.offsets, self.word_ngrams, 10, n, min_df))
        if self.char_ngrams is not None:
            cc = char_codes(texts, max_chars=self.char_max_chars)
            blocks.append(self._block(cc.codes, cc.offsets, self.char_ngrams, 100, n, min_df))
        if len(blocks) == 1:
            return blocks[0]
        w = np.float32(1.0 / np.sqrt(len(blocks)))
        return sp.hstack([b * w for b in blocks], format="csr", dtype=np.float32)

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; returns float32 of shape (n, d) with unit rows."""
        from sklearn.decomposition import TruncatedSVD

        texts = list(texts)
        n = len(texts)
        if n == 0:
            return np.zeros((0, 1), dtype=np.float32)
        x = self.features(texts)
        k = min(self.dim, n - 1, x.shape[1] - 1)
        if k < 1:
            # one text, or a single feature: nothing to reduce
            dense = x.toarray() if x.shape[1] else np.zeros((n, 1), np.float32)
            if dense.shape[1] == 0:
                dense = np.zeros((n, 1), np.float32)
            return l2_normalize(dense)
        gen = np.random.default_rng(self.rng)
        seed = int(gen.integers(2**31))
        fit_rows = x
        if n > self.fit_sample:
            idx = np.sort(gen.choice(n, size=self.fit_sample, replace=False))
            fit_rows = x[idx]
        if fit_rows.shape[0] <= self.exact_below:
            components = _exact_components(fit_rows, k)
        else:
            svd = TruncatedSVD(
                n_components=k, algorithm="randomized", n_iter=self.n_iter, random_state=seed
            )
            svd.fit(fit_rows)
            components = svd.components_.astype(np.float32)
        out = np.asarray(x @ components.T, dtype=np.float32)
        return l2_normalize(out)


class SentenceTransformerEmbedder:
    """A sentence-transformers model (optional extra ``embeddings``).

    Parameters
    ----------
    model : str
        Model name or local path, passed to ``SentenceTransformer``.
    batch_size : int, default 64
    device : str, optional
        e.g. ``"cpu"`` or ``"cuda"``; default: the library's choice.
    **kwargs
        Passed to the ``SentenceTransformer`` constructor.
    """

    def __init__(
        self, model: str, *, batch_size: int = 64, device: str | None = None, **kwargs: Any
    ) -> None:
        self.model_name = model
        self.batch_size = batch_size
        self.device = device
        self.kwargs = kwargs
        self._model: Any = None

    def __repr__(self) -> str:
        return f"SentenceTransformerEmbedder({self.model_name!r})"

    def _load(self) -> Any:
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError:
                raise missing_extra(
                    "sentence_transformers", "embeddings", "SentenceTransformerEmbedder"
                ) from None
            self._model = SentenceTransformer(self.model_name, device=self.device, **self.kwargs)
        return self._model

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; returns float32 of shape (n, d) with unit rows."""
        texts = list(texts)
        model = self._load()
        out = model.encode(
            texts, batch_size=self.batch_size, show_progress_bar=False,
            convert_to_numpy=True, normalize_embeddings=True,
        )
        return check_embeddings(np.asarray(out), len(texts), repr(self))


class APIEmbedder:
    """Embeddings from an OpenAI-compatible ``/v1/embeddings`` endpoint.

    Parameters
    ----------
    client : wizardarena.arena.client.Client or str
        A client, or a base URL (``"http://host:port/v1"``) to build one from.
    model : str, optional
        Embedding model name (default: the client's model).
    batch_size : int, default 128
        Texts per request.
    **client_kwargs
        Used only when ``client`` is a URL (e.g. ``api_key_env=``).
    """

    def __init__(
        self,
        client: Any,
        *,
        model: str | None = None,
        batch_size: int = 128,
        **client_kwargs: Any,
    ) -> None:
        self._owns = isinstance(client, str)
        if isinstance(client, str):
            from wizardarena.arena.client import Client

            client = Client(client, model=model, **client_kwargs)
        if not callable(getattr(client, "embed", None)):
            raise ValidationError(
                "client must have an embed(texts) method (wizardarena.arena.client.Client); "
                f"got {type(client).__name__}"
            )
        self.client = client
        self.model = model
        self.batch_size = batch_size

    def __repr__(self) -> str:
        return f"APIEmbedder(model={self.model!r})"

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``; returns float32 of shape (n, d) with unit rows."""
        texts = list(texts)
        kwargs: dict[str, Any] = {"batch_size": self.batch_size}
        if self.model is not None:
            kwargs["model"] = self.model
        out = self.client.embed(texts, **kwargs)
        return check_embeddings(out, len(texts), repr(self))

    def close(self) -> None:
        """Close the client if this embedder created it."""
        if self._owns:
            self.client.close()


class Precomputed:
    """Embeddings you already have.

    Parameters
    ----------
    vectors : ndarray of shape (n, d), DataFrame indexed by prompt id, or mapping id -> vector
        An ndarray is aligned with the *input* prompts by position (before cleaning); a
        DataFrame or mapping is looked up by ``prompt_id``.
    """

    def __init__(self, vectors: np.ndarray | pd.DataFrame | Mapping[str, Sequence[float]]):
        if isinstance(vectors, pd.DataFrame):
            self._by_id: pd.DataFrame | None = vectors.set_axis(vectors.index.astype(str))
            self._array: np.ndarray | None = None
        elif isinstance(vectors, Mapping):
            self._by_id = pd.DataFrame.from_dict(
                {str(k): np.asarray(v, dtype=float) for k, v in vectors.items()}, orient="index"
            )
            self._array = None
        else:
            arr = np.asarray(vectors)
            if arr.ndim != 2:
                raise ValidationError(
                    f"precomputed embeddings must be 2-D (n, d); got shape {arr.shape}"
                )
            self._array = arr
            self._by_id = None

    def __repr__(self) -> str:
        shape = self._array.shape if self._array is not None else self._by_id.shape  # type: ignore[union-attr]
        return f"Precomputed(shape={shape})"

    def lookup(self, prompt_ids: Sequence[str], positions: np.ndarray | None) -> np.ndarray:
        """Vectors for ``prompt_ids`` (DataFrame/mapping) or ``positions`` (array input)."""
        if self._array is not None:
            if positions is None:
                raise ValidationError(
                    "array-precomputed embeddings are aligned by input position; "
                    "use a DataFrame or mapping keyed by prompt id here"
                )
            return check_embeddings(self._array[positions], len(positions), repr(self))
        by_id = self._by_id
        if by_id is None:  # pragma: no cover - exactly one of _array/_by_id is set
            raise ValidationError("precomputed embeddings are empty")
        missing = pd.Index(prompt_ids).difference(by_id.index)
        if len(missing):
            raise ValidationError(
                f"precomputed embeddings lack {len(missing)} prompt ids, e.g. "
                f"{missing[:5].tolist()}"
            )
        return check_embeddings(
            by_id.loc[list(prompt_ids)].to_numpy(), len(prompt_ids), repr(self)
        )

    def n_rows(self) -> int | None:
        """Rows of an array input (None for keyed input)."""
        return None if self._array is None else int(self._array.shape[0])


EmbedderLike = Embedder | Callable[[Sequence[str]], np.ndarray] | Precomputed | np.ndarray | str


def resolve_embedder(spec: Any, *, rng: int | np.random.Generator | None = None) -> Any:
    """Turn an embedder spec into an embedder.

    ``None`` or ``"tfidf"`` -> :class:`TfidfEmbedder` (seeded with ``rng``); an ndarray,
    DataFrame or mapping -> :class:`Precomputed`; a string ``"st:NAME"`` ->
    :class:`SentenceTransformerEmbedder`; a callable is used as is.
    """
    if spec is None or (isinstance(spec, str) and spec == "tfidf"):
        return TfidfEmbedder(rng=rng)
    if isinstance(spec, Precomputed):
        return spec
    if isinstance(spec, (np.ndarray, pd.DataFrame, Mapping)):
        return Precomputed(spec)
    if isinstance(spec, str):
        if spec.startswith("st:"):
            return SentenceTransformerEmbedder(spec[3:])
        raise ValidationError(
            f"embedder must be 'tfidf', 'st:<model name or path>', an array or a callable; "
            f"got {spec!r}"
        )
    if callable(spec):
        return spec
    raise ValidationError(
        f"embedder must be 'tfidf', an embedder callable, or precomputed vectors; "
        f"got {type(spec).__name__}"
    )
