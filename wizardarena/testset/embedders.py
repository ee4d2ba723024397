"""The embedders an ``embedder=`` option names: a sentence-transformers model, and the spec
resolved (``None``/``"tfidf"``, ``"st:<model>"``, precomputed vectors or a callable).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.exceptions import ValidationError, missing_extra
from wizardarena.testset.embed import Embedder, Precomputed, check_embeddings
from wizardarena.testset.tfidf import TfidfEmbedder

__all__ = ["EmbedderLike", "SentenceTransformerEmbedder", "resolve_embedder"]


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
