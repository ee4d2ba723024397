"""Prompt cleaning: length rule, exact, shared-prefix and MinHash near duplicates.

The pipeline is written as **stage functions over batches** (a pandas DataFrame in, a
DataFrame out), so a Ray Data ``map_batches`` can call them unchanged, followed by
group-by steps on the keys they emit:

1. :func:`clean_keys_batch` (per batch, rows independent): script-aware word count, the
   exact-duplicate key (hash of the normalised text), the shared-prefix key (hash of the
   first ``prefix_words`` words) and the MinHash signature (bytes);
2. group-by steps (:func:`first_of_group`, :func:`prefix_duplicates`,
   :func:`~wizardarena.testset.dedup.lsh_candidates` on the LSH band keys) and the greedy
   resolution (:func:`~wizardarena.testset.dedup.greedy_representatives`) on the driver.

:func:`clean_prompts` drives the same stages locally, batch by batch; :func:`clean_with_keys`
runs the group-by steps through a :class:`GroupBy` executor: :class:`LocalGroupBy` here, or
the Ray Data one of :mod:`wizardarena.ray.testset`, which calls the same step functions on
hash-partitioned data. Every step keeps the
*first* prompt (input order) of a duplicate group and reports each dropped prompt with its
reason, the kept prompt it duplicates (``duplicate_of``) and their ``similarity``, which is
always at or above the step's threshold (near duplicates never chain; see
:mod:`wizardarena.testset.dedup`).

Length rule and tokens are script-aware: a "word" is a run of letters or digits in scripts
written with spaces and a single character in Chinese, Japanese, Thai, ... (see
:func:`~wizardarena.testset._ngrams.word_tokens`), so a complete Chinese request of nine
characters has nine words and is not "too short".

All steps are vectorised (numpy / pandas); nothing here does I/O.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pandas as pd

from wizardarena.exceptions import ValidationError
from wizardarena.testset._ngrams import mix64, word_tokens
from wizardarena.testset.dedup import minhash_duplicates, minhash_signatures

__all__ = [
    "CleanResult",
    "DropReason",
    "GroupBy",
    "LocalGroupBy",
    "check_clean_options",
    "clean_keys_batch",
    "clean_prompts",
    "clean_with_keys",
    "first_of_group",
    "normalize_text",
    "prefix_duplicates",
    "signatures_from_column",
]

class DropReason(str, enum.Enum):
    """Why a prompt was removed during cleaning."""

    TOO_SHORT = "too_short"
    EXACT_DUPLICATE = "exact_duplicate"
    PREFIX_DUPLICATE = "prefix_duplicate"
    NEAR_DUPLICATE_MINHASH = "near_duplicate_minhash"
    NEAR_DUPLICATE_EMBEDDING = "near_duplicate_embedding"


@dataclass(frozen=True)
class CleanResult:
    """Outcome of :func:`clean_prompts`.

    Attributes
    ----------
    kept : DataFrame, indexed by prompt_id
        The surviving prompts (canonical form, input order).
    dropped : DataFrame, indexed by prompt_id
        One row per removed prompt: ``reason`` (a :class:`DropReason` value), ``duplicate_of``
        (the kept prompt it duplicates; missing for ``too_short``), ``similarity`` (estimated
        Jaccard or cosine to ``duplicate_of``, at or above the step's threshold; 1.0 for
        exact; the shared share for prefix; NaN for ``too_short``), plus its ``text``.
    counts : Series, indexed by reason
        Number of prompts dropped per reason (every reason listed, zeros included).
    """

    kept: pd.DataFrame
    dropped: pd.DataFrame
    counts: pd.Series = field(repr=False)


def empty_report() -> pd.DataFrame:
    """An empty drop report with the right columns and dtypes."""
    return pd.DataFrame(
        {
            "reason": pd.Series([], dtype=object),
            "duplicate_of": pd.Series([], dtype=object),
            "similarity": pd.Series([], dtype=float),
            "text": pd.Series([], dtype=object),
        },
        index=pd.Index([], name="prompt_id", dtype=object),
    )


def make_report(
    frame: pd.DataFrame,
    positions: np.ndarray,
    reason: DropReason,
    duplicate_of: np.ndarray | None,
    similarity: np.ndarray | None,
) -> pd.DataFrame:
    """Drop-report rows for ``frame.iloc[positions]`` (``duplicate_of`` are positions too)."""
    ids = frame.index.to_numpy()
    n = len(positions)
    return pd.DataFrame(
        {
            "reason": np.full(n, reason.value, dtype=object),
            "duplicate_of": (
                ids[duplicate_of] if duplicate_of is not None else np.full(n, None, dtype=object)
            ),
            "similarity": (
                np.asarray(similarity, dtype=float) if similarity is not None
                else np.full(n, np.nan)
            ),
            "text": frame["text"].to_numpy()[positions],
        },
        index=pd.Index(ids[positions], name="prompt_id", dtype=object),
    )


def normalize_text(texts: pd.Series) -> pd.Series:
    """Normalise for exact-duplicate detection: NFKC, case-fold, collapse whitespace, strip."""
    return texts.map(lambda t: " ".join(unicodedata.normalize("NFKC", t).casefold().split()))


def first_of_group(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Group-by step: positions duplicated by an earlier equal key, and that first position.

    Parameters
    ----------
    keys : ndarray, shape (n,)
        One key per row, rows in input order.
    """
    codes, _ = pd.factorize(keys)
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    first = np.full(n_groups, -1, dtype=np.int64)
    pos = np.arange(len(codes), dtype=np.int64)
    first[codes[::-1]] = pos[::-1]  # the earliest position is written last
    dup = np.flatnonzero(first[codes] != pos)
    return dup, first[codes[dup]]


def clean_keys_batch(
    batch: pd.DataFrame,
    *,
    prefix_words: int | None = 40,
    shingle: int = 3,
    num_perm: int = 64,
    seed: int = 0,
) -> pd.DataFrame:
    """Batch stage: the keys every cleaning step groups by (rows are independent).

    Parameters
    ----------
    batch : DataFrame with a ``text`` column
        Any slice of the canonical prompts (``map_batches``-compatible).
    prefix_words : int or None, default 40
        Words in the shared-prefix key (None: no key).
    shingle, num_perm, seed :
        MinHash parameters (:func:`~wizardarena.testset.dedup.minhash_signatures`).

    Returns
    -------
    DataFrame, same index as ``batch``
        ``words`` (int64, script-aware word count in the first 20,000 characters),
        ``chars`` (int64, characters of the normalised text), ``exact_key`` (uint64),
        ``prefix_key`` (uint64; 0 when the prompt has fewer than ``prefix_words`` words),
        ``minhash`` (bytes, ``num_perm`` uint32
        values; see :func:`signatures_from_column`).
    """
    texts = batch["text"].tolist()
    norm = normalize_text(batch["text"]).tolist()
    exact = pd.util.hash_array(np.asarray(norm, dtype=object))
    tok = word_tokens(texts, max_chars=20_000)  # one tokenisation for every key
    words = tok.lengths
    prefix = np.zeros(len(texts), dtype=np.uint64)
    if prefix_words is not None:
        long_docs = np.flatnonzero(words >= prefix_words)
        if len(long_docs):
            idx = tok.offsets[long_docs][:, None] + np.arange(prefix_words)[None, :]
            vals = tok.ids[idx]
            h = np.full(len(long_docs), np.uint64(prefix_words), dtype=np.uint64)
            for k in range(prefix_words):
                h = mix64(h ^ vals[:, k])
            h[h == 0] = 1
            prefix[long_docs] = h
    sig = minhash_signatures(texts, shingle=shingle, num_perm=num_perm, seed=seed, tokens=tok)
    return pd.DataFrame(
        {
            "words": words,
            "chars": np.fromiter((len(t) for t in norm), dtype=np.int64, count=len(norm)),
            "exact_key": exact,
            "prefix_key": prefix,
            "minhash": [r.tobytes() for r in sig],
        },
        index=batch.index,
    )


def signatures_from_column(column: pd.Series | list[bytes], num_perm: int) -> np.ndarray:
    """MinHash signatures (uint32, shape (n, num_perm)) from :func:`clean_keys_batch` bytes."""
    values = list(column)
    if not values:
        return np.zeros((0, num_perm), dtype=np.uint32)
    return np.frombuffer(b"".join(values), dtype=np.uint32).reshape(len(values), num_perm)


def prefix_duplicates(
    prefix_key: np.ndarray, words: np.ndarray, prefix_words: int, min_share: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Group-by step: prompts sharing their first ``prefix_words`` words with an earlier one.

    A prompt is dropped only when the shared prefix is at least ``min_share`` of both it
    and the group's first prompt (which is kept): two instances of one template whose
    instances are most of the text are different requests and stay.

    Returns
    -------
    dropped, kept_as, similarity
        ``similarity`` = shared prefix / words of the longer of the two (>= ``min_share``).
    """
    has = np.flatnonzero(prefix_key != 0)
    if len(has) < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    dup, first = first_of_group(prefix_key[has])
    d, f = has[dup], has[first]
    share = prefix_words / np.maximum(words[d], words[f]).astype(float)
    ok = share >= min_share
    return d[ok], f[ok], share[ok]


def clean_prompts(
    prompts: pd.DataFrame,
    *,
    min_words: int = 2,
    min_chars: int | None = None,
    exact: bool = True,
    prefix_words: int | None = 40,
    prefix_share: float = 0.5,
    minhash_threshold: float | None = 0.7,
    shingle: int = 3,
    num_perm: int = 64,
    batch_size: int = 20_000,
    rng: int | np.random.Generator | None = None,
) -> CleanResult:
    """Drop too-short prompts and duplicates, reporting every drop.

    Steps, in order, each on the survivors of the previous one:

    - ``too_short``: fewer than ``min_words`` words (script-aware: each Chinese, Japanese,
      Thai ... character is a word), or, when ``min_chars`` is set, fewer than
      ``min_chars`` characters after normalisation;
    - ``exact_duplicate``: equal after NFKC, case-folding and whitespace collapsing;
    - ``prefix_duplicate``: the same first ``prefix_words`` words as an earlier prompt,
      when that shared prefix is at least ``prefix_share`` of both prompts;
    - ``near_duplicate_minhash``: estimated Jaccard similarity of word ``shingle``-grams
      >= ``minhash_threshold`` with a *kept* earlier prompt (LSH candidates, greedy
      representatives; see :mod:`wizardarena.testset.dedup`).

    Embedding near duplicates are removed later, by
    :func:`~wizardarena.testset.build_testset`, once embeddings exist.

    Parameters
    ----------
    prompts : DataFrame
        Canonical prompts (:func:`~wizardarena.testset.prompts.normalize_prompts`).
    min_words : int, default 2
    min_chars : int or None, default None
    exact : bool, default True
    prefix_words : int or None, default 40
        None disables the shared-prefix step.
    prefix_share : float, default 0.5
    minhash_threshold : float or None, default 0.7
        None disables the MinHash step.
    shingle, num_perm : int
        MinHash parameters.
    batch_size : int, default 20000
        Rows per batch of the key stage (bounds memory; the result does not depend on it).
    rng : int, Generator or None
        Chooses the MinHash hash functions.

    Returns
    -------
    CleanResult
    """
    check_clean_options(prompts, min_words=min_words, min_chars=min_chars,
                        prefix_words=prefix_words, prefix_share=prefix_share,
                        batch_size=batch_size)
    seed = int(np.random.default_rng(rng).integers(2**31))
    n = len(prompts)
    # the stage's signature bytes go into one preallocated array batch by batch (no
    # concatenated column of a million small bytes objects)
    signatures = np.empty((n, num_perm), dtype=np.uint32)
    parts = []
    for s in range(0, max(n, 1), batch_size):
        part = clean_keys_batch(
            prompts.iloc[s : s + batch_size], prefix_words=prefix_words, shingle=shingle,
            num_perm=num_perm, seed=seed,
        )
        signatures[s : s + len(part)] = signatures_from_column(part.pop("minhash"), num_perm)
        parts.append(part)
    keys = pd.concat(parts)
    del parts
    return clean_with_keys(
        prompts, keys, signatures, min_words=min_words, min_chars=min_chars, exact=exact,
        prefix_words=prefix_words, prefix_share=prefix_share,
        minhash_threshold=minhash_threshold,
    )


def check_clean_options(prompts: pd.DataFrame, *, min_words: int, min_chars: int | None,
                        prefix_words: int | None, prefix_share: float,
                        batch_size: int) -> None:
    """Validate the options of :func:`clean_prompts` (every engine's)."""
    if "text" not in prompts.columns:
        raise ValidationError(
            "clean_prompts expects canonical prompts with a 'text' column; "
            "pass them through normalize_prompts first"
        )
    if not isinstance(min_words, (int, np.integer)) or min_words < 0:
        raise ValidationError(f"min_words must be an integer >= 0; got {min_words!r}")
    if min_chars is not None and min_chars < 0:
        raise ValidationError(f"min_chars must be >= 0 or None; got {min_chars!r}")
    if prefix_words is not None and prefix_words < 1:
        raise ValidationError(f"prefix_words must be >= 1 or None; got {prefix_words!r}")
    if not 0.0 < prefix_share <= 1.0:
        raise ValidationError(f"prefix_share must be in (0, 1]; got {prefix_share!r}")
    if batch_size < 1:
        raise ValidationError(f"batch_size must be >= 1; got {batch_size!r}")


class GroupBy(Protocol):
    """Runs the group-by steps of :func:`clean_with_keys` on the rows still in play.

    ``live`` holds the positions (rows of the prompts and keys) still in play, increasing;
    every result is in positions *relative to* ``live`` (as the step functions give them
    on ``keys[live]``).
    """

    def exact(self, keys: pd.DataFrame, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:func:`first_of_group` on ``exact_key``."""
        ...

    def prefix(self, keys: pd.DataFrame, live: np.ndarray, prefix_words: int,
               min_share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`prefix_duplicates`."""
        ...

    def minhash(self, signatures: np.ndarray, live: np.ndarray,
                threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """:func:`~wizardarena.testset.dedup.minhash_duplicates`."""
        ...


class LocalGroupBy:
    """The group-by steps in this process, on the key arrays."""

    def exact(self, keys: pd.DataFrame, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return first_of_group(keys["exact_key"].to_numpy()[live])

    def prefix(self, keys: pd.DataFrame, live: np.ndarray, prefix_words: int,
               min_share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return prefix_duplicates(keys["prefix_key"].to_numpy()[live],
                                 keys["words"].to_numpy()[live], prefix_words, min_share)

    def minhash(self, signatures: np.ndarray, live: np.ndarray,
                threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return minhash_duplicates(signatures[live], threshold=threshold)


def clean_with_keys(
    prompts: pd.DataFrame,
    keys: pd.DataFrame,
    signatures: np.ndarray,
    *,
    min_words: int,
    min_chars: int | None,
    exact: bool,
    prefix_words: int | None,
    prefix_share: float,
    minhash_threshold: float | None,
    groups: GroupBy | None = None,
) -> CleanResult:
    """The group-by and greedy steps of :func:`clean_prompts` on precomputed keys
    (:func:`clean_keys_batch` output aligned with ``prompts``, its ``minhash`` column as a
    (n, num_perm) uint32 array ``signatures``), run by ``groups`` (default
    :class:`LocalGroupBy`)."""
    g: GroupBy = groups if groups is not None else LocalGroupBy()
    reports: list[pd.DataFrame] = []
    frame = prompts
    live = np.arange(len(prompts))  # rows of ``keys`` and ``signatures`` still in ``frame``

    short = keys["words"].to_numpy() < min_words
    if min_chars is not None:
        short |= keys["chars"].to_numpy() < min_chars
    if short.any():
        reports.append(make_report(frame, np.flatnonzero(short), DropReason.TOO_SHORT, None,
                                   None))
        frame, live = frame[~short], live[~short]

    def drop(pos: np.ndarray, reason: DropReason, kept: np.ndarray, sim: np.ndarray) -> None:
        nonlocal frame, live
        if len(pos):
            reports.append(make_report(frame, pos, reason, kept, sim))
            keep = np.ones(len(frame), bool)
            keep[pos] = False
            frame, live = frame[keep], live[keep]

    if exact and len(frame):
        dup, first = g.exact(keys, live)
        drop(dup, DropReason.EXACT_DUPLICATE, first, np.ones(len(dup)))
    if prefix_words is not None and len(frame):
        dup, first, share = g.prefix(keys, live, prefix_words, prefix_share)
        drop(dup, DropReason.PREFIX_DUPLICATE, first, share)
    if minhash_threshold is not None and len(frame) > 1:
        dup, first, sim = g.minhash(signatures, live, minhash_threshold)
        drop(dup, DropReason.NEAR_DUPLICATE_MINHASH, first, sim)
    return finish(frame, reports)


def finish(kept: pd.DataFrame, reports: list[pd.DataFrame]) -> CleanResult:
    """Assemble a :class:`CleanResult` from the kept frame and the step reports."""
    dropped = pd.concat(reports) if reports else empty_report()
    counts = dropped["reason"].value_counts().reindex(
        [r.value for r in DropReason], fill_value=0
    )
    counts.index.name = "reason"
    counts.name = "dropped"
    return CleanResult(kept=kept, dropped=dropped, counts=counts.astype(np.int64))
