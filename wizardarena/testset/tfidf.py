"""The default embedder: TF-IDF of hashed word and character n-grams, reduced.

:class:`TfidfEmbedder` needs no download: TF-IDF of hashed word uni+bigrams and character
n-grams, TruncatedSVD plus a sketch of the residual, L2-normalised. It is fitted on a seeded
sample and applied batch by batch (:func:`wizardarena.testset.embed.embed_texts`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from wizardarena.exceptions import ValidationError
from wizardarena.testset._ngrams import char_codes, mix64, ngram_hashes, word_tokens
from wizardarena.testset.embed import l2_normalize

__all__ = ["TfidfEmbedder"]


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


@dataclass(frozen=True)
class _Block:
    """A fitted TF-IDF block over its ``n_features`` hash buckets."""

    lookup: np.ndarray  # int32 (n_features,): column of a kept bucket, -1 for a rare one
    idf: np.ndarray  # float32 (n_features,): IDF of every bucket (rare: as if df = 1)
    offset: int  # first column of this block in the concatenated kept features
    sketch_row: np.ndarray  # int64 (n_features,): sketch dimension of each bucket
    sketch_sign: np.ndarray  # float32 (n_features,): +1 / -1


@dataclass(frozen=True)
class _Fitted:
    blocks: tuple[_Block, ...]
    n_kept: int
    components: tuple[np.ndarray, ...]  # per block (n_kept_b, k) float32, C-contiguous; k=0
    #                                     when not reduced
    sketch_dim: int
    sketch_of_components: np.ndarray | None  # (m, k): the sketch of each component


class TfidfEmbedder:
    """TF-IDF (hashed word and character n-grams) -> TruncatedSVD ⊕ residual sketch.

    Two blocks are built and weighted equally: word n-grams (default unigrams and bigrams of
    script-aware words: a Chinese or Japanese character is a word, so these are character
    uni- and bigrams there; first ``max_chars`` characters) and character n-grams (default
    4-grams of the lower-cased, whitespace-collapsed first ``char_max_chars`` characters).
    Each block is hashed into ``n_features`` buckets, keeps the buckets present in at least
    ``min_df`` documents of the fitting sample (at most ``max_features``), gets sublinear TF
    (``1 + log tf``) times smooth IDF, and is L2-normalised.

    The output concatenates the projection on the top ``dim - sketch_dim`` singular vectors
    (randomized TruncatedSVD fitted on at most ``fit_sample`` rows, a seeded sample) and a
    ``sketch_dim``-dimensional count-sketch of what the projection leaves out (the residual),
    (weighted ``sketch_weight``), then L2-normalises. Without the sketch, a prompt in a script
    the SVD barely covers (Japanese among English prompts) keeps only a small shared part of
    its vector, which normalisation blows up: unrelated Japanese prompts then look like near
    copies (cosine 0.99). With it, such prompts keep their own, unshared part and stay apart.

    Streaming: :meth:`fit` on a sample, then :meth:`transform` batch by batch (rows are
    independent); calling the embedder does both, ``batch_size`` rows at a time.

    Parameters
    ----------
    dim : int, default 256
        Output dimension (the SVD part is clamped to ``n_texts - 1`` and the features).
    sketch_dim : int, default 64
        Dimensions of the residual sketch (at most ``dim // 4``; 0 disables it).
    sketch_weight : float, default 0.5
        Weight of the sketch before the final normalisation. At 1 the dot product estimates
        the sparse TF-IDF cosine, whose many unique n-grams add noise that measurably hurt
        diverse selection; 0.5 keeps rare-script prompts apart (2-4 pairs of Arena-Hard
        v2.0 above the near-duplicate threshold instead of 33 without a sketch) and selects
        as well as no sketch (benchmarks/RESULTS.md).
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
        Minimum document frequency (in the fitting sample) of a kept bucket (1 when fewer
        than 10 texts).
    max_features : int, default 2**17
        At most this many buckets per block are kept (the most frequent ones).
    fit_sample : int, default 20000
        Rows used to fit the vocabulary, IDF and SVD.
    n_iter : int, default 2
        Power iterations of the randomized SVD.
    exact_below : int, default 3000
        With at most this many fitting rows the SVD is exact (eigendecomposition of the row
        Gram matrix), faster than the randomized solver for small inputs.
    batch_size : int, default 20000
        Rows per transform batch when the embedder is called (bounds memory).
    rng : int, Generator or None
        Seeds the SVD, its row sample and the sketch (deterministic given ``rng``).

    Notes
    -----
    Calling the embedder fits it on the texts of that call (vocabulary and basis depend on
    the corpus), so embed texts that must be compared in one call, or :meth:`fit` once and
    :meth:`transform` the rest.
    """

    def __init__(
        self,
        *,
        dim: int = 256,
        sketch_dim: int = 64,
        sketch_weight: float = 0.35,
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
        batch_size: int = 20_000,
        rng: int | np.random.Generator | None = 0,
    ) -> None:
        if dim < 1:
            raise ValidationError(f"dim must be >= 1; got {dim!r}")
        if sketch_dim < 0:
            raise ValidationError(f"sketch_dim must be >= 0; got {sketch_dim!r}")
        if not sketch_weight > 0:
            raise ValidationError(f"sketch_weight must be > 0; got {sketch_weight!r}")
        if word_ngrams is None and char_ngrams is None:
            raise ValidationError("word_ngrams and char_ngrams cannot both be None")
        for name, rng_ in (("word_ngrams", word_ngrams), ("char_ngrams", char_ngrams)):
            if rng_ is not None and (len(rng_) != 2 or rng_[0] < 1 or rng_[1] < rng_[0]):
                raise ValidationError(
                    f"{name} must be (low, high) with 1 <= low <= high; got {rng_!r}"
                )
        if fit_sample < 2:
            raise ValidationError(f"fit_sample must be >= 2; got {fit_sample!r}")
        if batch_size < 1:
            raise ValidationError(f"batch_size must be >= 1; got {batch_size!r}")
        self.dim = dim
        self.sketch_dim = sketch_dim
        self.sketch_weight = sketch_weight
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
        self.batch_size = batch_size
        self.rng = rng
        self._fitted: _Fitted | None = None

    def __repr__(self) -> str:
        return (
            f"TfidfEmbedder(dim={self.dim}, sketch_dim={self.sketch_dim}, "
            f"word_ngrams={self.word_ngrams}, char_ngrams={self.char_ngrams})"
        )

    # -- features --------------------------------------------------------------------------
    def _hashed(self, texts: Sequence[str]) -> list[tuple[np.ndarray, np.ndarray]]:
        """(bucket, doc) arrays of every n-gram, one pair per block."""
        out = []
        specs: list[tuple[np.ndarray, np.ndarray, tuple[int, int], int]] = []
        if self.word_ngrams is not None:
            tok = word_tokens(texts, max_chars=self.max_chars)
            specs.append((tok.ids, tok.offsets, self.word_ngrams, 10))
        if self.char_ngrams is not None:
            cc = char_codes(texts, max_chars=self.char_max_chars)
            specs.append((cc.codes, cc.offsets, self.char_ngrams, 100))
        for values, offsets, ngrams, salt in specs:
            hs, ds = [], []
            for k in range(ngrams[0], ngrams[1] + 1):
                h, d = ngram_hashes(values, offsets, k, salt=salt + k)
                hs.append((h % np.uint64(self.n_features)).astype(np.int64))
                ds.append(d)
            out.append((np.concatenate(hs), np.concatenate(ds)))
        return out

    def _weighted(self, hashed: list[tuple[np.ndarray, np.ndarray]], n: int,
                  blocks: Sequence[_Block]) -> list[sp.csr_matrix]:
        """Per block: the L2-normalised TF-IDF rows over all hash buckets (kept and rare),
        times the block weight, shape (n, n_features)."""
        out = []
        w = np.float32(1.0 / np.sqrt(len(blocks)))
        for (cols, doc), blk in zip(hashed, blocks):
            mat = sp.coo_matrix(
                (np.ones(len(cols), np.float32), (doc, cols)), shape=(n, self.n_features)
            ).tocsr()
            mat.sum_duplicates()
            mat.data = np.log1p(mat.data, dtype=np.float32) * blk.idf[mat.indices]
            norms = np.sqrt(np.asarray(mat.multiply(mat).sum(axis=1)).ravel()).astype(
                np.float32
            )
            norms[norms == 0] = 1.0
            out.append(sp.csr_matrix(sp.diags(w / norms) @ mat, dtype=np.float32))
        return out

    def _kept_blocks(self, weighted: list[sp.csr_matrix],
                     fitted: _Fitted) -> list[sp.csr_matrix]:
        """Per block, its kept-feature columns (n, n_kept_b), without re-sorting."""
        out = []
        for mat, blk in zip(weighted, fitted.blocks):
            mapped = blk.lookup[mat.indices]
            ok = mapped >= 0
            counts = np.add.reduceat(ok.astype(np.int64), mat.indptr[:-1]) if mat.nnz else None
            if counts is not None:
                counts[np.diff(mat.indptr) == 0] = 0  # reduceat quirk on empty rows
                indptr = np.r_[0, np.cumsum(counts)].astype(np.int64)
            else:
                indptr = np.zeros(mat.shape[0] + 1, dtype=np.int64)
            n_b = int((blk.lookup >= 0).sum())
            out.append(sp.csr_matrix((mat.data[ok], mapped[ok], indptr),
                                     shape=(mat.shape[0], n_b)))
        return out

    def _kept(self, weighted: list[sp.csr_matrix], fitted: _Fitted) -> sp.csr_matrix:
        """The kept-feature columns of the weighted blocks, concatenated (n, n_kept)."""
        blocks = self._kept_blocks(weighted, fitted)
        if len(blocks) == 1:
            return blocks[0]
        return sp.hstack(blocks, format="csr", dtype=np.float32)

    def features(self, texts: Sequence[str]) -> sp.csr_matrix:
        """The L2-normalised sparse TF-IDF matrix over the kept features (fits on ``texts``
        first when the embedder is not fitted); rare n-grams are left out."""
        texts = list(texts)
        if self._fitted is None:
            self.fit(texts)
        fitted = self._fitted
        assert fitted is not None
        return self._kept(self._weighted(self._hashed(texts), len(texts), fitted.blocks),
                          fitted)

    # -- fit / transform -------------------------------------------------------------------
    def fit(self, texts: Sequence[str]) -> TfidfEmbedder:
        """Fit vocabulary, IDF, SVD basis and sketch on (a seeded sample of) ``texts``."""
        from sklearn.decomposition import TruncatedSVD

        texts = list(texts)
        n_all = len(texts)
        gen = np.random.default_rng(self.rng)
        seed = int(gen.integers(2**31))
        if n_all > self.fit_sample:
            idx = np.sort(gen.choice(n_all, size=self.fit_sample, replace=False))
            texts = [texts[i] for i in idx]
        n = len(texts)
        min_df = self.min_df if n >= 10 else 1
        m = min(self.sketch_dim, self.dim // 4)
        hashed = self._hashed(texts)
        blocks = []
        offset = 0
        for b, (cols, doc) in enumerate(hashed):
            pairs = np.unique(doc.astype(np.uint64) * np.uint64(self.n_features)
                              + cols.astype(np.uint64))
            df = np.bincount((pairs % np.uint64(self.n_features)).astype(np.int64),
                             minlength=self.n_features)
            keep = np.flatnonzero(df >= min_df)
            if len(keep) > self.max_features:
                top = np.argsort(-df[keep], kind="stable")[: self.max_features]
                keep = np.sort(keep[top])
            lookup = np.full(self.n_features, -1, dtype=np.int32)
            lookup[keep] = np.arange(len(keep), dtype=np.int32)
            # smooth IDF; buckets outside the vocabulary (rare, or unseen in the sample) get
            # the IDF of a document frequency of 1
            idf = (np.log((1.0 + n) / (1.0 + np.maximum(df, 1))) + 1.0).astype(np.float32)
            h = mix64(np.arange(self.n_features, dtype=np.uint64)
                      ^ np.uint64((seed + 7919 * b) & 0xFFFFFFFF))
            row = (h % np.uint64(max(m, 1))).astype(np.int64)
            sign = np.where((h >> np.uint64(40)) & np.uint64(1), 1.0, -1.0).astype(np.float32)
            blocks.append(_Block(lookup, idf, offset, row, sign))
            offset += len(keep)
        x = self._kept(self._weighted(hashed, n, blocks),
                       _Fitted(tuple(blocks), offset, (), m, None))
        k = min(self.dim - m, n - 1, offset - 1)
        if k < 1:
            self._fitted = _Fitted(tuple(blocks), offset, (), 0, None)
            return self
        if n <= self.exact_below:
            components = _exact_components(x, k)
        else:
            svd = TruncatedSVD(
                n_components=k, algorithm="randomized", n_iter=self.n_iter, random_state=seed
            )
            svd.fit(x)
            components = svd.components_.astype(np.float32)
        sketch_comp = None
        if m > 0:
            # sketch of each component: kept column c of block b sits in bucket keep_b[c]
            sketch_comp = np.zeros((m, k), dtype=np.float32)
            for blk in blocks:
                kept_buckets = np.flatnonzero(blk.lookup >= 0)
                cols = blk.lookup[kept_buckets].astype(np.int64) + blk.offset
                np.add.at(
                    sketch_comp,
                    blk.sketch_row[kept_buckets],
                    (components[:, cols] * blk.sketch_sign[kept_buckets]).T,
                )
        per_block = []
        for blk, nxt in zip(blocks, [*[b.offset for b in blocks[1:]], offset]):
            per_block.append(np.ascontiguousarray(components[:, blk.offset : nxt].T))
        self._fitted = _Fitted(tuple(blocks), offset, tuple(per_block), m, sketch_comp)
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` with the fitted model; float32 (n, d), unit rows. Rows are
        independent, so any batching gives the same result."""
        if self._fitted is None:
            raise ValidationError("TfidfEmbedder.transform needs fit() first")
        texts = list(texts)
        n = len(texts)
        fitted = self._fitted
        weighted = self._weighted(self._hashed(texts), n, fitted.blocks)
        if not fitted.components:
            dense = self._kept(weighted, fitted).toarray()
            if dense.shape[1] == 0:
                dense = np.zeros((n, 1), np.float32)
            return l2_normalize(dense)
        # the projection block by block (no concatenated copy of the sparse matrix)
        proj = np.zeros((n, fitted.components[0].shape[1]), dtype=np.float32)
        for xb, comp_t in zip(self._kept_blocks(weighted, fitted), fitted.components):
            proj += np.asarray(xb @ comp_t, dtype=np.float32)
        if fitted.sketch_of_components is None:
            return l2_normalize(proj)
        # count-sketch of the whole TF-IDF vector (rare n-grams included) minus the sketch
        # of its projection: a sketch of everything the SVD part does not carry
        m = fitted.sketch_dim
        flat = np.zeros(n * m, dtype=np.float64)
        for mat, blk in zip(weighted, fitted.blocks):
            coo = mat.tocoo()
            flat += np.bincount(
                coo.row.astype(np.int64) * m + blk.sketch_row[coo.col],
                weights=coo.data * blk.sketch_sign[coo.col], minlength=n * m,
            )
        resid = flat.reshape(n, m).astype(np.float32)
        resid -= proj @ fitted.sketch_of_components.T
        resid *= np.float32(self.sketch_weight)
        return l2_normalize(np.hstack([proj, resid]))

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        """Fit on ``texts`` (a seeded sample of them) and embed them, batch by batch."""
        texts = list(texts)
        if not texts:
            return np.zeros((0, 1), dtype=np.float32)
        self.fit(texts)
        parts = [
            self.transform(texts[s : s + self.batch_size])
            for s in range(0, len(texts), self.batch_size)
        ]
        return parts[0] if len(parts) == 1 else np.vstack(parts)
