"""Near-duplicate removal without chains: greedy representatives in input order.

Every near-duplicate step works the same way. Candidate pairs ``(i, j)`` with ``j < i``
(positions in input order) whose similarity reaches the threshold are found (MinHash LSH
buckets verified by the estimated Jaccard similarity, or embedding cosine); then prompts
are visited in input order and a prompt is **dropped only if it is within the threshold of
a prompt that is kept**. Kept prompts are the *representatives*. A dropped prompt names the
kept prompt it is most similar to, and that similarity is always at or above the threshold
(never a chain: connected components would let A~B~C drop C for a kept A it does not
resemble).

Thresholds for embeddings are calibrated from the embedder's own random-pair similarity
distribution (:func:`calibrate_cosine_threshold`), so one rule fits TF-IDF, neural and API
embeddings alike.

Everything here is vectorised numpy and pure (no I/O).
"""

from __future__ import annotations

import numpy as np

from wizardarena.exceptions import ValidationError
from wizardarena.testset._ngrams import Tokens, mix64, ngram_hashes, word_tokens

__all__ = [
    "CALIBRATION_ALPHA",
    "calibrate_cosine_threshold",
    "cosine_pairs",
    "embedding_duplicates",
    "greedy_representatives",
    "greedy_representatives_loop",
    "lsh_band_keys",
    "lsh_candidates",
    "minhash_duplicates",
    "minhash_params",
    "minhash_signatures",
    "resolve_pairs",
    "verify_candidates",
]

#: share of the median random-pair cosine *distance* under which two prompts are near
#: duplicates (see :func:`calibrate_cosine_threshold`)
CALIBRATION_ALPHA = 0.1


# ----------------------------------------------------------------------------- greedy


def greedy_representatives(
    n: int,
    i: np.ndarray,
    j: np.ndarray,
    sim: np.ndarray,
    *,
    max_rounds: int = 64,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Greedy representatives in input order over verified similar pairs.

    Visiting positions ``0 .. n-1`` in order, a position is kept unless one of its earlier
    neighbours (an edge ``(i, j)``, ``j < i``) is kept. Computed in vectorised rounds (the
    first undecided position always becomes decided, and usually many do at once); after
    ``max_rounds`` rounds the remaining undecided positions are finished by a plain loop.

    Parameters
    ----------
    n : int
        Number of positions.
    i, j : ndarray of int64, shape (m,)
        Similar pairs; each must satisfy ``j < i``.
    sim : ndarray of float, shape (m,)
        Their similarity (all at or above the caller's threshold).

    Returns
    -------
    dropped : ndarray of int64
        Positions dropped, increasing.
    kept_as : ndarray of int64
        For each dropped position, its most similar *kept* earlier neighbour.
    similarity : ndarray of float
        That similarity.
    """
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    sim = np.asarray(sim, dtype=float)
    if len(i) and not np.all(j < i):
        raise ValidationError("greedy_representatives needs pairs (i, j) with j < i")
    status = np.zeros(n, dtype=np.int8)  # 0 undecided, 1 kept, 2 dropped
    if len(i) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    order = np.argsort(i, kind="stable")
    i, j, sim = i[order], j[order], sim[order]
    has_earlier = np.zeros(n, dtype=bool)
    has_earlier[i] = True
    status[~has_earlier] = 1
    for _ in range(max_rounds):
        und = status[i] == 0
        if not und.any():
            break
        ii, sj = i[und], status[j[und]]
        kept_nb = np.zeros(n, dtype=bool)
        kept_nb[ii[sj == 1]] = True
        open_nb = np.zeros(n, dtype=bool)
        open_nb[ii[sj == 0]] = True
        cand = np.unique(ii)
        status[cand[kept_nb[cand]]] = 2
        status[cand[~kept_nb[cand] & ~open_nb[cand]]] = 1
    rest = np.flatnonzero(status == 0)
    if len(rest):
        starts = np.searchsorted(i, rest, side="left")
        ends = np.searchsorted(i, rest, side="right")
        for p, s, e in zip(rest.tolist(), starts.tolist(), ends.tolist()):
            status[p] = 2 if (status[j[s:e]] == 1).any() else 1
    # attribute each drop to its most similar kept earlier neighbour
    use = (status[i] == 2) & (status[j] == 1)
    di, dj, ds = i[use], j[use], sim[use]
    best = np.lexsort((dj, -ds, di))  # by dropped position, then highest similarity
    di, dj, ds = di[best], dj[best], ds[best]
    first = np.r_[True, di[1:] != di[:-1]] if len(di) else np.zeros(0, bool)
    return di[first], dj[first], ds[first]


def greedy_representatives_loop(
    n: int, i: np.ndarray, j: np.ndarray, sim: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plain-loop reference of :func:`greedy_representatives` (for tests)."""
    nbrs: dict[int, list[tuple[int, float]]] = {}
    for a, b, s in zip(np.asarray(i).tolist(), np.asarray(j).tolist(), np.asarray(sim).tolist()):
        nbrs.setdefault(a, []).append((b, s))
    kept = np.ones(n, dtype=bool)
    out_d, out_k, out_s = [], [], []
    for p in range(n):
        cands = [(b, s) for b, s in nbrs.get(p, []) if kept[b]]
        if cands:
            kept[p] = False
            b, s = max(cands, key=lambda bs: (bs[1], -bs[0]))
            out_d.append(p)
            out_k.append(b)
            out_s.append(s)
    return np.array(out_d, np.int64), np.array(out_k, np.int64), np.array(out_s, float)


# ----------------------------------------------------------------------------- MinHash


def minhash_signatures(
    texts: list[str],
    *,
    shingle: int = 3,
    num_perm: int = 64,
    seed: int = 0,
    max_chars: int | None = 20_000,
    tokens: Tokens | None = None,
) -> np.ndarray:
    """MinHash signatures of word-shingle sets (a batch stage: rows are independent).

    Words are script-aware (:func:`~wizardarena.testset._ngrams.word_tokens`: a character
    of Chinese, Japanese, Thai ... is a word), token ids are global hashes, so a row's
    signature does not depend on the other rows of its batch.

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
    tokens : Tokens, optional
        ``word_tokens(texts, max_chars=max_chars)`` when the caller has it already.

    Returns
    -------
    ndarray of uint32, shape (n, num_perm)
        Hash function ``k`` is the multiply-shift hash ``(a_k * h + b_k) mod 2**64`` (odd
        ``a_k``) of the 64-bit shingle hash ``h``; the signature keeps the top 32 bits of
        each minimum. Texts without any word get the all-ones signature.
    """
    if tokens is None:
        tokens = word_tokens(texts, max_chars=max_chars)
    n = tokens.n_docs
    lengths = tokens.lengths
    hashes, doc = ngram_hashes(tokens.ids, tokens.offsets, shingle, salt=1)
    short = np.flatnonzero((lengths < shingle) & (lengths > 0))
    if len(short):
        # whole-text shingle for short texts: the n-gram hash with n = their length
        sub_h, sub_d = [], []
        for length in np.unique(lengths[short]):
            docs = short[lengths[short] == length]
            idx = tokens.offsets[docs][:, None] + np.arange(length)[None, :]
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
    sig = np.full((n, num_perm), np.iinfo(np.uint32).max, dtype=np.uint32)
    if len(hashes) == 0:
        return sig
    has = np.bincount(doc, minlength=n) > 0
    starts = np.searchsorted(doc, np.arange(n))[has]
    a, b = minhash_params(num_perm, seed)
    rows = np.flatnonzero(has)
    hk = np.empty_like(hashes)
    for k in range(num_perm):
        np.multiply(hashes, a[k], out=hk)
        hk += b[k]
        sig[rows, k] = (np.minimum.reduceat(hk, starts) >> np.uint64(32)).astype(np.uint32)
    return sig


def minhash_params(num_perm: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The multiply-shift parameters ``(a, b)`` of :func:`minhash_signatures` (``a`` odd)."""
    gen = np.random.default_rng(seed)
    a = gen.integers(0, 2**63, size=num_perm, dtype=np.int64).astype(np.uint64)
    b = gen.integers(0, 2**63, size=num_perm, dtype=np.int64).astype(np.uint64)
    return (a << np.uint64(1)) | np.uint64(1), b


def default_bands(num_perm: int, threshold: float) -> int:
    """The divisor ``b`` of ``num_perm`` whose LSH threshold ``(1/b)^(b/num_perm)`` is
    closest to ``0.85 * threshold`` (high recall; verification removes false candidates)."""
    divisors = [b for b in range(1, num_perm + 1) if num_perm % b == 0]
    target = 0.85 * threshold
    return min(divisors, key=lambda b: abs((1.0 / b) ** (b / num_perm) - target))


def lsh_band_keys(
    signatures: np.ndarray, bands: int, *, only: int | None = None
) -> np.ndarray:
    """LSH band keys (a batch stage), shape (n, bands), uint64: equal key = same bucket.

    The band index is mixed into the key, so keys of different bands never collide and
    all bands can be grouped in one group-by. ``only=b`` returns band ``b`` alone, shape
    (n, 1).
    """
    n, num_perm = signatures.shape
    if bands < 1 or num_perm % bands:
        raise ValidationError(
            f"bands must divide the signature length {num_perm}; got {bands!r}"
        )
    rows = num_perm // bands
    which = range(bands) if only is None else [only]
    out = np.empty((n, len(which)), dtype=np.uint64)
    for c, b in enumerate(which):
        block = signatures[:, b * rows : (b + 1) * rows].astype(np.uint64)
        key = mix64(block[:, 0] ^ np.uint64(b * 0x9E3779B1 + 1))
        for r in range(1, rows):
            key = mix64(key ^ block[:, r])
        out[:, c] = key
    return out


def lsh_candidates(
    keys: np.ndarray, positions: np.ndarray, *, window: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Candidate pairs from grouped LSH keys (the group-by step).

    Parameters
    ----------
    keys : ndarray of uint64, shape (m,)
        One bucket key per (row, band) (e.g. ``lsh_band_keys(...).ravel()``).
    positions : ndarray of int64, shape (m,)
        The input position of each key's row.
    window : int, default 8
        Inside a bucket (members in input order) each member is paired with the bucket's
        first member and with the ``window`` members before it; bounds the work on large
        buckets of templated prompts (pairs found are all verified; a pair beyond the
        window and not with the first member is not compared).

    Returns
    -------
    i, j : ndarray of int64
        Unique pairs with ``j < i``.
    """
    order = np.lexsort((positions, keys))
    k, p = keys[order], positions[order]
    m = len(k)
    if m < 2:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    new = np.r_[True, k[1:] != k[:-1]]
    start = np.maximum.accumulate(np.where(new, np.arange(m), 0))
    out_i: list[np.ndarray] = []
    out_j: list[np.ndarray] = []
    idx = np.arange(m)
    first_ok = idx > start
    out_i.append(p[first_ok])
    out_j.append(p[start[first_ok]])
    for w in range(1, window + 1):
        ok = (idx - w) > start
        ok[:w] = False
        out_i.append(p[ok])
        out_j.append(p[idx[ok] - w])
    i = np.concatenate(out_i)
    j = np.concatenate(out_j)
    keep = i != j
    i, j = i[keep], j[keep]
    hi, lo = np.maximum(i, j), np.minimum(i, j)
    pair = np.unique(hi.astype(np.uint64) << np.uint64(32) | lo.astype(np.uint64))
    return (pair >> np.uint64(32)).astype(np.int64), (pair & np.uint64(0xFFFFFFFF)).astype(
        np.int64
    )


def minhash_duplicates(
    signatures: np.ndarray,
    *,
    threshold: float = 0.7,
    bands: int | None = None,
    window: int = 8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Near duplicates by MinHash: LSH candidates, verification, greedy representatives.

    Parameters
    ----------
    signatures : ndarray, shape (n, num_perm)
        Rows in input order (:func:`minhash_signatures`).
    threshold : float, default 0.7
        Minimum estimated Jaccard similarity (share of equal signature entries), in (0, 1].
    bands : int, optional
        LSH bands (must divide ``num_perm``); default :func:`default_bands`.
    window : int, default 8
        See :func:`lsh_candidates`.

    Returns
    -------
    dropped, kept_as, similarity
        As :func:`greedy_representatives`: every ``similarity`` is >= ``threshold`` and
        every ``kept_as`` is kept.
    """
    n, num_perm = signatures.shape
    bands = check_minhash_options(num_perm, threshold, bands)
    pos = np.arange(n, dtype=np.int64)
    found: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    # band by band: candidates of one band are verified before the next band is grouped,
    # so memory holds one band's candidates, not all of them
    for b in range(bands):
        i, j = lsh_candidates(lsh_band_keys(signatures, bands, only=b)[:, 0], pos,
                              window=window)
        found.append(verify_candidates(signatures, i, j, threshold))
    return resolve_pairs(n, *(np.concatenate(parts) for parts in zip(*found)))


def check_minhash_options(num_perm: int, threshold: float, bands: int | None) -> int:
    """Validate the MinHash threshold and bands; return the bands (default
    :func:`default_bands`)."""
    if not 0.0 < threshold <= 1.0:
        raise ValidationError(f"threshold must be in (0, 1]; got {threshold!r}")
    if bands is None:
        bands = default_bands(num_perm, threshold)
    if bands < 1 or num_perm % bands:
        raise ValidationError(
            f"bands must divide the signature length {num_perm}; got {bands!r}"
        )
    return bands


def verify_candidates(
    signatures: np.ndarray, i: np.ndarray, j: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The candidate pairs ``(i, j)`` (rows of ``signatures``) whose estimated Jaccard
    similarity (share of equal signature entries) reaches ``threshold``, with it."""
    step = max(1, 2**22 // max(1, signatures.shape[1]))
    sim = np.empty(len(i))
    for s in range(0, len(i), step):
        sim[s : s + step] = (
            signatures[i[s : s + step]] == signatures[j[s : s + step]]
        ).mean(axis=1)
    ok = sim >= threshold
    return i[ok], j[ok], sim[ok]


def resolve_pairs(
    n: int, i: np.ndarray, j: np.ndarray, sim: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Verified pairs (a pair may come from several LSH bands) to greedy representatives:
    each pair once, then :func:`greedy_representatives`."""
    if len(i) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    _, first = np.unique(i.astype(np.uint64) << np.uint64(32) | j.astype(np.uint64),
                         return_index=True)
    return greedy_representatives(n, i[first], j[first], np.asarray(sim)[first])


# ----------------------------------------------------------------------------- embeddings


def calibrate_cosine_threshold(
    embeddings: np.ndarray,
    *,
    alpha: float = CALIBRATION_ALPHA,
    n_pairs: int = 20_000,
    rng: int | np.random.Generator | None = None,
) -> tuple[float, float]:
    """Near-duplicate cosine threshold fitted to an embedder's own similarity scale.

    Rule: draw ``n_pairs`` random pairs of distinct prompts, take the median cosine
    similarity ``m``; two prompts are near duplicates when their cosine *distance*
    ``1 - cos`` is at most ``alpha`` times the median random-pair distance::

        threshold = 1 - alpha * (1 - m)

    With ``alpha = 0.1``: TF-IDF (median about 0.02) gives about 0.90; an embedder whose
    random pairs already have cosine 0.79 (multilingual-e5) gives 0.979 instead of a fixed
    0.9 that would merge unrelated prompts.

    Returns
    -------
    threshold : float
    median : float
        The median random-pair cosine it was derived from.
    """
    if not 0.0 < alpha < 1.0:
        raise ValidationError(f"alpha must be in (0, 1); got {alpha!r}")
    emb = np.asarray(embeddings, dtype=np.float32)
    n = emb.shape[0]
    if n < 2:
        return 1.0, float("nan")
    gen = np.random.default_rng(rng)
    a = gen.integers(n, size=n_pairs)
    b = gen.integers(n - 1, size=n_pairs)
    b = b + (b >= a)  # distinct
    cos = np.einsum("ij,ij->i", emb[a], emb[b])
    med = float(np.median(cos))
    return float(min(1.0, 1.0 - alpha * (1.0 - med))), med


def cosine_pairs(
    embeddings: np.ndarray,
    threshold: float,
    *,
    blocks: np.ndarray | None = None,
    chunk_elems: int = 2**24,
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
    chunk_elems : int, default 2**24
        Similarity entries per matrix product (bounds memory to ``4 * chunk_elems`` bytes).

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
        step = max(1, chunk_elems // m)
        for s in range(0, m, step):
            e = min(m, s + step)
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
    lengths: np.ndarray | None = None,
    min_length_ratio: float = 0.5,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Near duplicates by embedding cosine: greedy representatives (no chains).

    Parameters
    ----------
    embeddings : ndarray, shape (n, d), unit rows
    threshold : float
    blocks : ndarray, optional
        See :func:`cosine_pairs`.
    lengths : ndarray, shape (n,), optional
        Text lengths (characters). A pair whose shorter text is less than
        ``min_length_ratio`` of the longer one is never a near duplicate: embedders see only
        the start of long texts (TF-IDF 2,000 characters, MiniLM 256 tokens), so a prompt
        and a ten times longer one that begins the same way (the same problem, then a
        different question about it) would look identical.
    min_length_ratio : float, default 0.5

    Returns
    -------
    As :func:`greedy_representatives`; every similarity is >= ``threshold``.
    """
    if not -1.0 <= threshold <= 1.0:
        raise ValidationError(f"cosine threshold must be in [-1, 1]; got {threshold!r}")
    emb = np.asarray(embeddings, dtype=np.float32)
    i, j, s = cosine_pairs(emb, threshold, blocks=blocks)
    if lengths is not None and len(i):
        ln = np.asarray(lengths, dtype=np.float64)
        ok = np.minimum(ln[i], ln[j]) >= min_length_ratio * np.maximum(ln[i], ln[j])
        i, j, s = i[ok], j[ok], s[ok]
    return greedy_representatives(emb.shape[0], i, j, s.astype(float))
