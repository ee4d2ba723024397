"""Prompt cleaning: minimum length, exact, shared-prefix and near duplicates.

Every step keeps the *first* prompt (input order) of each duplicate group and reports each
dropped prompt with its reason, the ``duplicate_of`` prompt that was kept in its place and,
for near duplicates, their ``similarity``. Near duplicates form groups by connected
components of the "similar" graph (MinHash-estimated Jaccard on word shingles, or embedding
cosine): one prompt is kept per group, so ``similarity`` (measured against the kept prompt)
can be below the threshold for a prompt that joined the group through a chain.

All steps are vectorised (numpy / pandas / scipy); nothing here does I/O.
"""

from __future__ import annotations

import enum
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from wizardarena.exceptions import ValidationError
from wizardarena.testset._ngrams import mix64, ngram_hashes, word_tokens

__all__ = [
    "CleanResult",
    "DropReason",
    "clean_prompts",
    "cosine_pairs",
    "minhash_signatures",
    "near_duplicate_groups",
    "normalize_text",
]

_REPORT_COLUMNS = ["reason", "duplicate_of", "similarity"]


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
        Jaccard or cosine to ``duplicate_of``; 1.0 for exact/prefix, NaN for ``too_short``),
        plus its ``text``.
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


def _first_of_group(keys: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Positions duplicated by an earlier equal key, and the position of that first key."""
    codes, _ = pd.factorize(keys)
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    first = np.full(n_groups, -1, dtype=np.int64)
    # positions in reverse so that the earliest position is written last
    pos = np.arange(len(codes), dtype=np.int64)
    first[codes[::-1]] = pos[::-1]
    dup = np.flatnonzero(first[codes] != pos)
    return dup, first[codes[dup]]


def minhash_signatures(
    texts: list[str],
    *,
    shingle: int = 3,
    num_perm: int = 64,
    seed: int = 0,
    max_chars: int | None = 20_000,
) -> np.ndarray:
    """MinHash signatures of word-shingle sets, vectorised over all shingles.

    Parameters
    ----------
    texts : list of str, length n
    shingle : int, default 3
        Words per shingle; a text with fewer words uses its single whole-text shingle.
    num_perm : int, default 64
        Number of hash functions (signature length).
    seed : int, default 0
        Chooses the hash functions (the result is deterministic given ``seed``).
    max_chars : int or None, default 20000
        Only the first ``max_chars`` characters of each text are shingled.

    Returns
    -------
    ndarray of uint64, shape (n, num_perm)
        Texts without any word get the all-ones signature (equal to one another).
    """
    tokens = word_tokens(texts, max_chars=max_chars)
    n = tokens.n_docs
    hashes, doc = ngram_hashes(tokens.ids, tokens.offsets, shingle, salt=1)
    short = np.flatnonzero((tokens.lengths < shingle) & (tokens.lengths > 0))
    if len(short):
        # whole-text shingle for short texts: hash of their n-gram with n = their length
        sub_h = []
        sub_d = []
        for length in np.unique(tokens.lengths[short]):
            docs = short[tokens.lengths[short] == length]
            starts = tokens.offsets[docs]
            idx = starts[:, None] + np.arange(length)[None, :]
            vals = tokens.ids[idx].astype(np.uint64) + np.uint64(1)
            h = vals[:, 0].copy()
            for k in range(1, int(length)):
                h = h * np.uint64(0x100000001B3) + vals[:, k]
            sub_h.append(mix64(h ^ np.uint64(int(length))))
            sub_d.append(docs)
        hashes = np.concatenate([hashes, *sub_h])
        doc = np.concatenate([doc, *sub_d])
        order = np.argsort(doc, kind="stable")
        hashes, doc = hashes[order], doc[order]
    sig = np.full((n, num_perm), np.iinfo(np.uint64).max, dtype=np.uint64)
    if len(hashes) == 0:
        return sig
    has = np.bincount(doc, minlength=n) > 0
    starts = np.searchsorted(doc, np.arange(n))[has]
    rs = np.random.default_rng(seed)
    seeds = rs.integers(1, 2**63 - 1, size=num_perm, dtype=np.int64).astype(np.uint64)
    rows = np.flatnonzero(has)
    for k in range(num_perm):
        hk = mix64(hashes ^ seeds[k])
        sig[rows, k] = np.minimum.reduceat(hk, starts)
    return sig


def _components(
    n: int, i: np.ndarray, j: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Connected components of an undirected graph; returns (members dropped, their root)."""
    if len(i) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    graph = sp.coo_matrix((np.ones(len(i), dtype=np.int8), (i, j)), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    root = np.full(labels.max() + 1, n, dtype=np.int64)
    np.minimum.at(root, labels, np.arange(n, dtype=np.int64))
    r = root[labels]
    dropped = np.flatnonzero(r != np.arange(n))
    return dropped, r[dropped]


def near_duplicate_groups(
    signatures: np.ndarray, *, threshold: float = 0.7, bands: int | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Near-duplicate groups from MinHash signatures (LSH banding, then verification).

    Candidate pairs are consecutive members (in input order) of each LSH bucket; a pair is
    kept when the estimated Jaccard similarity (share of equal signature entries) reaches
    ``threshold``. Groups are the connected components of the kept pairs.

    Parameters
    ----------
    signatures : ndarray of uint64, shape (n, num_perm)
    threshold : float, default 0.7
        Minimum estimated Jaccard similarity of a duplicate pair, in (0, 1].
    bands : int, optional
        Number of LSH bands (``num_perm`` must be divisible by it); default: the divisor of
        ``num_perm`` whose banding threshold ``(1 / bands) ** (bands / num_perm)`` is closest
        to ``0.85 * threshold`` (high recall; verification removes false candidates).

    Returns
    -------
    dropped : ndarray of int64
        Positions of prompts that duplicate an earlier one (all but the first of each group).
    kept_as : ndarray of int64
        For each dropped prompt, the position of its group's first prompt (which is kept).
    similarity : ndarray of float
        Estimated Jaccard similarity between each dropped prompt and ``kept_as``.
    """
    n, num_perm = signatures.shape
    if not 0.0 < threshold <= 1.0:
        raise ValidationError(f"threshold must be in (0, 1]; got {threshold!r}")
    if bands is None:
        divisors = [b for b in range(1, num_perm + 1) if num_perm % b == 0]
        target = 0.85 * threshold
        bands = min(divisors, key=lambda b: abs((1.0 / b) ** (b / num_perm) - target))
    if bands < 1 or num_perm % bands:
        raise ValidationError(
            f"bands must divide the signature length {num_perm}; got {bands!r}"
        )
    rows = num_perm // bands
    pairs_i: list[np.ndarray] = []
    pairs_j: list[np.ndarray] = []
    for b in range(bands):
        block = signatures[:, b * rows : (b + 1) * rows]
        key = block[:, 0].copy()
        for r in range(1, rows):
            key = mix64(key ^ block[:, r])
        order = np.lexsort((np.arange(n), key))
        ks = key[order]
        same = np.flatnonzero(ks[1:] == ks[:-1])
        pairs_i.append(order[same + 1])
        pairs_j.append(order[same])
    i = np.concatenate(pairs_i) if pairs_i else np.zeros(0, np.int64)
    j = np.concatenate(pairs_j) if pairs_j else np.zeros(0, np.int64)
    if len(i):
        pair_key = np.unique(np.minimum(i, j) * n + np.maximum(i, j))
        i, j = pair_key // n, pair_key % n
        sim = (signatures[i] == signatures[j]).mean(axis=1)
        ok = sim >= threshold
        i, j = i[ok], j[ok]
    dropped, root = _components(n, i, j)
    sim_root = (
        (signatures[dropped] == signatures[root]).mean(axis=1) if len(dropped) else np.zeros(0)
    )
    return dropped, root, sim_root


def cosine_pairs(
    embeddings: np.ndarray,
    threshold: float,
    *,
    blocks: np.ndarray | None = None,
    chunk: int = 2048,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs ``(i, j)``, ``j < i``, with cosine similarity >= ``threshold``.

    Parameters
    ----------
    embeddings : ndarray, shape (n, d)
        L2-normalised rows (cosine = dot product).
    threshold : float
    blocks : ndarray of int, shape (n,), optional
        Only pairs inside the same block are compared (e.g. k-means clusters): exact within
        blocks, approximate overall. Default: all pairs (cost O(n^2 d)).
    chunk : int, default 2048
        Rows per matrix product (bounds memory to about ``chunk * n * 4`` bytes).

    Returns
    -------
    i, j : ndarray of int64
    sim : ndarray of float32
    """
    emb = np.asarray(embeddings, dtype=np.float32)
    n = emb.shape[0]
    groups: list[np.ndarray]
    if blocks is None:
        groups = [np.arange(n)]
    else:
        blocks = np.asarray(blocks)
        if blocks.shape != (n,):
            raise ValidationError(
                f"blocks must have shape ({n},) like the embeddings; got {blocks.shape}"
            )
        order = np.argsort(blocks, kind="stable")
        bounds = np.flatnonzero(np.diff(blocks[order])) + 1
        groups = [g for g in np.split(order, bounds) if len(g) > 1]
    out_i: list[np.ndarray] = []
    out_j: list[np.ndarray] = []
    out_s: list[np.ndarray] = []
    for g in groups:
        g = np.sort(g)
        sub = emb[g]
        m = len(g)
        for s in range(0, m, chunk):
            e = min(m, s + chunk)
            sims = sub[s:e] @ sub[:e].T
            ii, jj = np.nonzero(sims >= threshold)
            keep = jj < ii + s
            ii, jj = ii[keep], jj[keep]
            out_s.append(sims[ii, jj])
            out_i.append(g[ii + s])
            out_j.append(g[jj])
    if not out_i:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    return (
        np.concatenate(out_i).astype(np.int64),
        np.concatenate(out_j).astype(np.int64),
        np.concatenate(out_s),
    )


def embedding_duplicates(
    embeddings: np.ndarray,
    threshold: float,
    *,
    blocks: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Near-duplicate groups by embedding cosine; same outputs as :func:`near_duplicate_groups`."""
    if not -1.0 <= threshold <= 1.0:
        raise ValidationError(f"cosine threshold must be in [-1, 1]; got {threshold!r}")
    emb = np.asarray(embeddings, dtype=np.float32)
    i, j, _ = cosine_pairs(emb, threshold, blocks=blocks)
    dropped, root = _components(emb.shape[0], i, j)
    sim = np.einsum("ij,ij->i", emb[dropped], emb[root]) if len(dropped) else np.zeros(0)
    return dropped, root, sim.astype(float)


def clean_prompts(
    prompts: pd.DataFrame,
    *,
    min_chars: int = 10,
    exact: bool = True,
    prefix_chars: int | None = 200,
    minhash_threshold: float | None = 0.7,
    shingle: int = 3,
    num_perm: int = 64,
    rng: int | np.random.Generator | None = None,
) -> CleanResult:
    """Drop too-short prompts and duplicates, reporting every drop.

    Steps, in order, each on the survivors of the previous one: prompts whose normalised
    ``text`` has fewer than ``min_chars`` characters; exact duplicates after normalisation
    (NFKC, case-fold, whitespace collapsed); prompts sharing their first ``prefix_chars``
    normalised characters with an earlier one (templated prompts; only prompts at least that
    long); near duplicates by MinHash (estimated Jaccard of word ``shingle``-grams >=
    ``minhash_threshold``). Embedding near-duplicates are removed later, by
    :func:`~wizardarena.testset.build_testset`, once embeddings exist.

    Parameters
    ----------
    prompts : DataFrame
        Canonical prompts (:func:`~wizardarena.testset.prompts.normalize_prompts`).
    min_chars : int, default 10
    exact : bool, default True
    prefix_chars : int or None, default 200
        None disables the shared-prefix step.
    minhash_threshold : float or None, default 0.7
        None disables the MinHash step.
    shingle, num_perm : int
        MinHash parameters (see :func:`minhash_signatures`).
    rng : int, Generator or None
        Chooses the MinHash hash functions.

    Returns
    -------
    CleanResult
    """
    if "text" not in prompts.columns:
        raise ValidationError(
            "clean_prompts expects canonical prompts with a 'text' column; "
            "pass them through normalize_prompts first"
        )
    if min_chars < 0:
        raise ValidationError(f"min_chars must be >= 0; got {min_chars!r}")
    if prefix_chars is not None and prefix_chars < 1:
        raise ValidationError(f"prefix_chars must be >= 1 or None; got {prefix_chars!r}")
    gen = np.random.default_rng(rng)
    reports: list[pd.DataFrame] = []
    frame = prompts
    norm = normalize_text(frame["text"])

    lengths = norm.str.len().to_numpy()
    short = np.flatnonzero(lengths < min_chars)
    if len(short):
        reports.append(make_report(frame, short, DropReason.TOO_SHORT, None, None))
        keep = lengths >= min_chars
        frame, norm = frame[keep], norm[keep]

    if exact and len(frame):
        dup, first = _first_of_group(norm)
        if len(dup):
            reports.append(
                make_report(frame, dup, DropReason.EXACT_DUPLICATE, first, np.ones(len(dup)))
            )
            keep = np.ones(len(frame), bool)
            keep[dup] = False
            frame, norm = frame[keep], norm[keep]

    if prefix_chars is not None and len(frame):
        long_pos = np.flatnonzero(norm.str.len().to_numpy() >= prefix_chars)
        if len(long_pos):
            prefixes = norm.iloc[long_pos].str.slice(0, prefix_chars)
            dup, first = _first_of_group(prefixes)
            if len(dup):
                dup_pos, first_pos = long_pos[dup], long_pos[first]
                reports.append(
                    make_report(
                        frame, dup_pos, DropReason.PREFIX_DUPLICATE, first_pos,
                        np.ones(len(dup_pos)),
                    )
                )
                keep = np.ones(len(frame), bool)
                keep[dup_pos] = False
                frame, norm = frame[keep], norm[keep]

    if minhash_threshold is not None and len(frame) > 1:
        seed = int(gen.integers(2**31))
        sig = minhash_signatures(
            frame["text"].tolist(), shingle=shingle, num_perm=num_perm, seed=seed
        )
        dropped, root, sim = near_duplicate_groups(sig, threshold=minhash_threshold)
        if len(dropped):
            reports.append(
                make_report(frame, dropped, DropReason.NEAR_DUPLICATE_MINHASH, root, sim)
            )
            keep = np.ones(len(frame), bool)
            keep[dropped] = False
            frame = frame[keep]

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
