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

from wizardarena.exceptions import ValidationError

__all__ = [
    "UNSPACED_SCRIPTS",
    "CharCodes",
    "Tokens",
    "char_codes",
    "mix64",
    "ngram_hashes",
    "truncate_texts",
    "word_tokens",
]

#: Unicode blocks of scripts written without spaces between words (Han, Hiragana, Katakana,
#: Thai, Lao, Khmer, Myanmar, Tibetan, Yi, and the CJK compatibility / extension blocks):
#: every character of these scripts is a word of its own for tokenisation and length rules
UNSPACED_SCRIPTS = (
    "\u0e00-\u0e7f"  # Thai
    "\u0e80-\u0eff"  # Lao
    "\u0f00-\u0fff"  # Tibetan
    "\u1000-\u109f"  # Myanmar
    "\u1780-\u17ff"  # Khmer
    "\u2e80-\u2fdf"  # CJK radicals, Kangxi radicals
    "\u3005-\u3007\u3021-\u3029"  # CJK iteration mark, ideographic numbers
    "\u3040-\u30ff"  # Hiragana, Katakana
    "\u31f0-\u31ff"  # Katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\ua000-\ua4cf"  # Yi
    "\uf900-\ufaff"  # CJK compatibility ideographs
    "\uff66-\uff9f"  # half-width Katakana
    "\U00020000-\U0003134f"  # CJK extensions B-G
)
# a token is one character of an unspaced script, or a run of other word characters
_WORD = re.compile(f"[{UNSPACED_SCRIPTS}]|[^\\W{UNSPACED_SCRIPTS}]+")
_MULT = np.uint64(0x100000001B3)  # FNV-style multiplier, odd
_C1 = np.uint64(0x9E3779B97F4A7C15)
_C2 = np.uint64(0xBF58476D1CE4E5B9)
_C3 = np.uint64(0x94D049BB133111EB)


@dataclass(frozen=True)
class Tokens:
    """Word tokens of many documents, flattened.

    Attributes
    ----------
    ids : ndarray of uint64, shape (n_tokens,)
        Token ids: a deterministic 64-bit hash of each token string (the same in every
        call and process), documents concatenated.
    offsets : ndarray of int64, shape (n_docs + 1,)
        Document ``i`` owns ``ids[offsets[i]:offsets[i + 1]]``.
    """

    ids: np.ndarray
    offsets: np.ndarray

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


def truncate_texts(
    texts: Sequence[str], *, max_chars: int | None = None, max_tokens: int | None = None
) -> list[str]:
    """Cut each text to at most ``max_chars`` characters and ``max_tokens`` words.

    The one truncation rule of the embedder inputs that can be truncated: ``build_testset``'s
    ``max_chars`` / ``max_tokens`` and
    :class:`~wizardarena.testset.api_embedder.APIEmbedder`'s (``decontaminate`` does not
    truncate). A "token" is a word
    of :func:`word_tokens` (a character of Chinese, Japanese, Thai, ...); the text is cut
    right after its ``max_tokens``-th word, so the kept part is a prefix of the original
    (punctuation and spacing preserved). ``None`` leaves that limit off.
    """
    for name, v in (("max_chars", max_chars), ("max_tokens", max_tokens)):
        if v is not None and (not isinstance(v, (int, np.integer)) or v < 1):
            raise ValidationError(f"{name} must be an integer >= 1 or None; got {v!r}")
    out = list(texts)
    if max_chars is not None:
        out = [t[:max_chars] for t in out]
    if max_tokens is not None:
        cut = []
        for t in out:
            end = None
            for k, m in enumerate(_WORD.finditer(t)):
                if k == max_tokens - 1:
                    end = m.end()
                    break
            cut.append(t if end is None else t[:end])
        out = cut
    return out


def word_tokens(texts: Sequence[str], *, max_chars: int | None = None) -> Tokens:
    """Lower-cased word tokens of each text, as dense integer ids.

    Script-aware: a token is a run of word characters (``\\w``) in scripts written with
    spaces, and a single character in scripts written without them (Chinese, Japanese,
    Thai, ...; :data:`UNSPACED_SCRIPTS`), so word n-grams of a Chinese text are character
    n-grams instead of one "word" per clause.

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
        return Tokens(np.zeros(0, dtype=np.uint64), offsets)
    # ids are hashes of the token strings (not positions in this call's vocabulary), so the
    # same token gets the same id in every batch: batch-wise n-gram features stay comparable
    ids = pd.util.hash_array(flat)
    return Tokens(ids.astype(np.uint64, copy=False), offsets)


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

