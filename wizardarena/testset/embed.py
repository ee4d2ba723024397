"""Pluggable prompt embedders: the interface, precomputed vectors, and running an embedder.

An embedder is any callable ``embedder(texts) -> ndarray of shape (n, d)``
(:class:`Embedder`); :func:`embed_texts` runs one over the prompts (fitted once and applied
batch by batch when it has ``fit`` and ``transform``) and :func:`check_embeddings` checks
what it returns. The embedders:

:class:`~wizardarena.testset.tfidf.TfidfEmbedder` (default, no download)
    TF-IDF of hashed word uni+bigrams and character n-grams, TruncatedSVD plus a sketch of
    the residual, L2-normalised. Fitted on a seeded sample, applied batch by batch.
:class:`~wizardarena.testset.embedders.SentenceTransformerEmbedder`
    a sentence-transformers model by name or local path (optional extra ``embeddings``,
    imported lazily).
:class:`~wizardarena.testset.api_embedder.APIEmbedder`
    any OpenAI-compatible ``/v1/embeddings`` endpoint, with adaptive concurrency.
:class:`Precomputed`
    vectors you already have, looked up by prompt id (or by input position).

:func:`~wizardarena.testset.embedders.resolve_embedder` turns the spec an ``embedder=``
option takes into one of them. Every embedder returns float32 rows with unit L2 norm
(cosine = dot product).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from wizardarena.exceptions import ValidationError
from wizardarena.progress import Progress, ProgressCallback

__all__ = [
    "Embedder",
    "Precomputed",
    "check_embeddings",
    "embed_texts",
    "l2_normalize",
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


def embed_texts(
    embedder: Any,
    texts: Sequence[str],
    *,
    batch_size: int = 20_000,
    progress: ProgressCallback | None = None,
) -> np.ndarray:
    """Embed ``texts`` with any embedder: checked (shape, finite), L2-normalised float32.

    An embedder with ``fit`` and ``transform``
    (:class:`~wizardarena.testset.tfidf.TfidfEmbedder`) is fitted once on ``texts`` (its own
    seeded sample) and applied ``batch_size`` rows at a time into one preallocated array
    (the streaming path; a Ray ``map_batches`` can call ``transform``); any other embedder
    is called once with all texts.
    """
    texts = list(texts)
    n = len(texts)
    name = repr(embedder)

    def tick(done: int) -> None:
        if progress is not None:
            progress(Progress("embed", done, n, unit="prompt"))

    tick(0)
    if callable(getattr(embedder, "fit", None)) and callable(
        getattr(embedder, "transform", None)
    ):
        embedder.fit(texts)
        out: np.ndarray | None = None
        for s in range(0, n, batch_size):
            chunk = texts[s : s + batch_size]
            part = check_embeddings(embedder.transform(chunk), len(chunk), name)
            if out is None:
                out = np.empty((n, part.shape[1]), dtype=np.float32)
            elif part.shape[1] != out.shape[1]:
                raise ValidationError(
                    f"{name} returned {part.shape[1]} dimensions for rows {s}.. and "
                    f"{out.shape[1]} before"
                )
            out[s : s + len(chunk)] = part
            tick(s + len(chunk))
        return out if out is not None else np.zeros((0, 1), dtype=np.float32)
    result = check_embeddings(embedder(texts), n, name)
    tick(n)
    return result
