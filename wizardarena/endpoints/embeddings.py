"""Decoding ``/embeddings`` responses: the vectors in input order, one matrix per call."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from wizardarena.endpoints.scrub import Scrubber
from wizardarena.exceptions import ClientError

__all__ = ["embedding_rows", "stack_embeddings"]


def embedding_rows(data: Any, n: int, where: str, scrub: Scrubber) -> np.ndarray:
    """The vectors of a decoded ``/embeddings`` response (one that
    :func:`~wizardarena.endpoints.failures.classify_response` accepted) in input order (by
    ``index``), float64 (n, d); :class:`~wizardarena.exceptions.ClientError` unless it holds
    ``n`` vectors of one length. ``where``: the (redacted) URL for messages."""
    try:
        rows = sorted(data["data"], key=lambda d: d["index"])
        arr = np.asarray([r["embedding"] for r in rows], dtype=np.float64)
    except (KeyError, TypeError, ValueError) as exc:
        raise ClientError(scrub(
            f"response of {where} is not an embeddings list: {exc}")) from None
    if arr.ndim != 2 or arr.shape[0] != n:
        raise ClientError(
            f"{where} returned {arr.shape[0] if arr.ndim else 0} vectors for {n} inputs")
    return arr


def stack_embeddings(parts: Sequence[np.ndarray], where: str) -> np.ndarray:
    """The batches of :func:`embedding_rows` as one matrix; ClientError if their
    dimensions differ."""
    dims = {p.shape[1] for p in parts}
    if len(dims) != 1:
        raise ClientError(f"{where} returned mixed dimensions {sorted(dims)}")
    return np.vstack(parts)
