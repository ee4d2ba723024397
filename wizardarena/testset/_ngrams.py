"""Vectorised tokenisation and n-gram hashing shared by cleaning, embedding and decontamination.

Every text is turned into flat numpy arrays once (token ids or character codes plus document
offsets); n-grams are then hashed with wrapping ``uint64`` arithmetic over whole arrays, so
no Python loop runs per n-gram. Hashes are deterministic (no ``hash()``, no process salt).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

__all__ = [
    "CharCodes",
    "Tokens",
    "char_codes",
    "hashed_counts",
    "mix64",
    "ngram_hashes",
    "word_tokens",
]

_WORD = re.compile(r"\w+")
_MULT = np.uint64(0x100000001B3)  # FNV-style multiplier, odd
_C1 = np.uint64(0x9E3779B97F4A7C15)
_C2 = np.uint64(0xBF58476D1CE4E5B9)
_C3 = np.uint64(0x94D049BB133111EB)


@dataclass(frozen=True)
class Tokens:
    """Word tokens of many documents, flattened.

    Attributes
    ----------
    ids : ndarray of int64, shape (n_tokens,)
        Token ids (dense, ``0 .. vocab_size - 1``), documents concatenated.
    offsets : ndarray of int64, shape (n_docs + 1,)
        Document ``i`` owns ``ids[offsets[i]:offsets[i + 1]]``.
    vocab_size : int
        Number of distinct tokens.
    """

    ids: np.ndarray
    offsets: np.ndarray
    vocab_size: int

    @property
    def n_docs(self) -> int:
        """Number of documents."""
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per document, shape (n_docs,)."""
        return np.diff(self.offsets)


@dataclass(frozen=True)
class CharCodes:
    """Unicode code points of many documents, flattened (same layout as :class:`Tokens`)."""

    codes: np.ndarray
    offsets: np.ndarray

    @property
    def n_docs(self) -> int:
        """Number of documents."""
        return len(self.offsets) - 1


def mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a bijective, well-mixing hash of ``uint64`` values (vectorised)."""
    z = np.asarray(x, dtype=np.uint64) + _C1
    z = (z ^ (z >> np.uint64(30))) * _C2
    z = (z ^ (z >> np.uint64(27))) * _C3
    return z ^ (z >> np.uint64(31))


def word_tokens(texts: Sequence[str], *, max_chars: int | None = None) -> Tokens:
    """Lower-cased ``\\w+`` tokens of each text, as dense integer ids.

    Parameters
    ----------
    texts : sequence of str, length n_docs
    max_chars : int or None, default None
        Only the first ``max_chars`` characters of each text are tokenised.
    """
    if max_chars is not None:
        lowered = [t[:max_chars].lower() for t in texts]
    else:
        lowered = [t.lower() for t in texts]
    toks = [_WORD.findall(t) for t in lowered]
    lengths = np.fromiter((len(t) for t in toks), dtype=np.int64, count=len(toks))
    offsets = np.zeros(len(toks) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.array(list(itertools.chain.from_iterable(toks)), dtype=object)
    if flat.size == 0:
        return Tokens(np.zeros(0, dtype=np.int64), offsets, 0)
    codes, uniques = pd.factorize(flat)
    return Tokens(codes.astype(np.int64, copy=False), offsets, len(uniques))


def char_codes(texts: Sequence[str], *, max_chars: int | None = None) -> CharCodes:
    """Code points of each lower-cased, whitespace-collapsed text (first ``max_chars`` chars)."""
    cleaned = [" ".join(t.lower().split()) for t in texts]
    if max_chars is not None:
        cleaned = [t[:max_chars] for t in cleaned]
    lengths = np.fromiter((len(t) for t in cleaned), dtype=np.int64, count=len(cleaned))
    offsets = np.zeros(len(cleaned) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    joined = "".join(cleaned)
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    return CharCodes(codes, offsets)


def ngram_hashes(
    values: np.ndarray, offsets: np.ndarray, n: int, *, salt: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Hash every contiguous n-gram that lies inside one document.

    Parameters
    ----------
    values : ndarray of integers, shape (n_items,)
        Token ids or character codes, documents concatenated.
    offsets : ndarray of int64, shape (n_docs + 1,)
    n : int
        N-gram length (>= 1).
    salt : int, default 0
        Mixed into every hash, so n-grams of different kinds do not collide.

    Returns
    -------
    hashes : ndarray of uint64, shape (n_ngrams,)
    doc : ndarray of int64, shape (n_ngrams,)
        The document of each n-gram; non-decreasing.
    """
    total = int(offsets[-1])
    n_docs = len(offsets) - 1
    if total < n or n_docs == 0:
        return np.zeros(0, dtype=np.uint64), np.zeros(0, dtype=np.int64)
    v = np.asarray(values).astype(np.uint64) + np.uint64(1)
    m = total - n + 1
    h = v[:m].copy()
    for k in range(1, n):
        h *= _MULT
        h += v[k : m + k]
    lengths = np.diff(offsets)
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
    starts = np.arange(m, dtype=np.int64)
    valid = doc_of[:m] == doc_of[starts + n - 1]
    h = h[valid]
    h ^= np.uint64((salt * 0x2545F4914F6CDD1D + n) & 0xFFFFFFFFFFFFFFFF)
    return mix64(h), doc_of[:m][valid]


def hashed_counts(
    hashes: np.ndarray, doc: np.ndarray, n_docs: int, n_features: int
) -> sp.csr_matrix:
    """Count matrix of hashed features (the hashing trick), shape (n_docs, n_features)."""
    cols = (hashes % np.uint64(n_features)).astype(np.int64)
    data = np.ones(len(cols), dtype=np.float32)
    mat = sp.coo_matrix((data, (doc, cols)), shape=(n_docs, n_features)).tocsr()
    mat.sum_duplicates()
    return mat
