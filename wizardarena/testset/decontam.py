"""Decontamination: remove training prompts that (nearly) copy test prompts.

A training prompt is removed when any of these holds, checked in this order (the first one
that applies is its reported ``reason``):

``ngram``
    it shares a word n-gram of length ``ngram`` (default 13, as in GPT-3's decontamination)
    with a test prompt (lower-cased ``\\w+`` tokens);
``cosine``
    its embedding cosine similarity to some test prompt is at least ``threshold``;
``top_k``
    it is among the ``top_k`` nearest training prompts of some test prompt (off by default:
    this removes ``top_k`` prompts per test prompt whatever their similarity).

Both sides are embedded in one call of the embedder (the default TF-IDF embedder is fitted
on their union), so their vectors are comparable. The matching is exact (blockwise matrix
products and hashed n-grams with 64-bit hashes), not approximate.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from wizardarena._blas import with_single_threaded_blas
from wizardarena.exceptions import ValidationError
from wizardarena.progress import Progress, ProgressCallback, ProgressOption, progress_callback
from wizardarena.testset._ngrams import ngram_hashes, word_tokens
from wizardarena.testset.dedup import calibrate_cosine_threshold
from wizardarena.testset.embed import Precomputed, check_embeddings
from wizardarena.testset.embedders import resolve_embedder
from wizardarena.testset.prompts import PromptText, normalize_prompts

__all__ = ["DecontamReason", "DecontaminationResult", "decontaminate"]



class DecontamReason(str, enum.Enum):
    """Why a training prompt was removed."""

    NGRAM = "ngram"
    COSINE = "cosine"
    TOP_K = "top_k"


@dataclass(frozen=True)
class DecontaminationResult:
    """Outcome of :func:`decontaminate`.

    Attributes
    ----------
    kept : DataFrame, indexed by prompt_id
        Training prompts that survive (canonical form plus their input columns, input order).
    removed : DataFrame, indexed by prompt_id
        One row per removed training prompt: ``reason`` (a :class:`DecontamReason` value),
        ``matched_id`` (the test prompt it matched), ``similarity`` (cosine to
        ``matched_id``), ``text``.
    mask : ndarray of bool, shape (n_train,)
        True for kept prompts, aligned with the training input.
    nearest : DataFrame, indexed by prompt_id
        For every training prompt: ``nearest_test_id`` and its ``cosine``.
    threshold : float or None
        The cosine threshold applied (calibrated when ``threshold="auto"``).
    """

    kept: pd.DataFrame
    removed: pd.DataFrame
    mask: np.ndarray
    nearest: pd.DataFrame
    threshold: float | None = None

    @property
    def counts(self) -> pd.Series:
        """Removed prompts per reason (every reason listed)."""
        c = self.removed["reason"].value_counts().reindex(
            [r.value for r in DecontamReason], fill_value=0
        )
        c.index.name = "reason"
        return c.rename("removed").astype(np.int64)


def _test_frame(against: Any, text: PromptText | str) -> pd.DataFrame:
    from wizardarena.testset.testset import TestSet

    if isinstance(against, TestSet):
        return against.mix
    return normalize_prompts(against, text=text)


def _ngram_matches(
    train_texts: list[str], test_texts: list[str], n: int
) -> np.ndarray:
    """For each train text, the index of a test text sharing a word n-gram, else -1."""
    n_train = len(train_texts)
    out = np.full(n_train, -1, dtype=np.int64)
    if n_train == 0 or not test_texts:
        return out
    tok = word_tokens(test_texts + train_texts)
    h, d = ngram_hashes(tok.ids, tok.offsets, n, salt=7)
    is_test = d < len(test_texts)
    th, td = h[is_test], d[is_test]
    rh, rd = h[~is_test], d[~is_test] - len(test_texts)
    if len(th) == 0 or len(rh) == 0:
        return out
    order = np.argsort(th, kind="stable")
    th, td = th[order], td[order]
    pos = np.searchsorted(th, rh)
    pos_c = np.minimum(pos, len(th) - 1)
    hit = th[pos_c] == rh
    # the first matching n-gram (in text order) of each train prompt decides its match
    hit_docs, first = np.unique(rd[hit], return_index=True)
    out[hit_docs] = td[pos_c[hit]][first]
    return out


def _nearest_and_topk(
    train: np.ndarray, test: np.ndarray, top_k: int | None, chunk_elems: int = 2**24
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nearest test prompt of every train prompt, and the union of every test's top-k train."""
    n_train, n_test = train.shape[0], test.shape[0]
    best = np.full(n_train, -1, dtype=np.int64)
    best_sim = np.full(n_train, -np.inf, dtype=np.float32)
    k = 0 if not top_k else min(int(top_k), n_train)
    top_idx = np.zeros((n_test, 0), dtype=np.int64)
    top_sim = np.zeros((n_test, 0), dtype=np.float32)
    step = max(1, chunk_elems // max(1, n_test))
    for s in range(0, n_train, step):
        block = train[s : s + step] @ test.T  # (b, n_test)
        arg = np.argmax(block, axis=1)
        best[s : s + step] = arg
        best_sim[s : s + step] = block[np.arange(block.shape[0]), arg]
        if k:
            cand_sim = np.concatenate([top_sim, block.T], axis=1)
            new_idx = np.broadcast_to(
                np.arange(s, s + block.shape[0]), (n_test, block.shape[0])
            )
            cand_idx = np.concatenate([top_idx, new_idx], axis=1)
            if cand_sim.shape[1] > k:
                part = np.argpartition(-cand_sim, k - 1, axis=1)[:, :k]
                top_sim = np.take_along_axis(cand_sim, part, axis=1)
                top_idx = np.take_along_axis(cand_idx, part, axis=1)
            else:
                top_sim, top_idx = cand_sim, cand_idx
    in_top = np.full(n_train, -1, dtype=np.int64)
    if k:
        flat_train = top_idx.ravel()
        flat_test = np.repeat(np.arange(n_test), top_idx.shape[1])
        in_top[flat_train] = flat_test
    return best, best_sim, in_top


@with_single_threaded_blas
def decontaminate(
    train_prompts: Any,
    against: Any,
    *,
    threshold: float | str | None = "auto",
    top_k: int | None = None,
    ngram: int | None = 13,
    embedder: Any = None,
    text: PromptText | str = PromptText.FIRST_USER,
    rng: int | np.random.Generator | None = None,
    progress: ProgressOption = True,
) -> DecontaminationResult:
    """Remove training prompts that copy or nearly copy a test prompt.

    Parameters
    ----------
    train_prompts : DataFrame, list or path
        Anything :func:`~wizardarena.testset.prompts.normalize_prompts` accepts.
    against : TestSet, DataFrame, list or path
        The test prompts (a :class:`~wizardarena.testset.TestSet` contributes its mix).
    threshold : "auto", float or None, default "auto"
        Cosine similarity at or above which a training prompt is removed; None disables.
        ``"auto"`` calibrates it from the embedder's random-pair similarities of both sides
        together, with the rule near-duplicate removal uses
        (:func:`~wizardarena.testset.dedup.calibrate_cosine_threshold`), so it fits any
        embedder; the value used is ``result.threshold``.
    top_k : int or None, default None
        Also remove the ``top_k`` nearest training prompts of every test prompt.
    ngram : int or None, default 13
        Remove training prompts sharing a word n-gram of this length with a test prompt;
        None disables.
    embedder : embedder spec, optional
        See :func:`~wizardarena.testset.embedders.resolve_embedder`; default TF-IDF.
        Precomputed vectors must be keyed by prompt id and cover both sides.
    text : {"first_user", "all_user"}, default "first_user"
        Which turns are compared.
    rng : int, Generator or None
        Seeds the default embedder.
    progress : bool or callable, default True
        A progress bar (``True``: ``tqdm.auto``, drawn in notebooks and on terminals, not
        in logs), none (``False``), or a callable given
        :class:`~wizardarena.progress.Progress` events (stage ``"decontaminate"``, 3
        steps). See :mod:`wizardarena.progress`.

    Returns
    -------
    DecontaminationResult
    """
    with progress_callback(progress) as report:
        return _decontaminate(train_prompts, against, threshold=threshold, top_k=top_k,
                              ngram=ngram, embedder=embedder, text=text, rng=rng,
                              progress=report)


def _decontaminate(
    train_prompts: Any, against: Any, *, threshold: float | str | None, top_k: int | None,
    ngram: int | None, embedder: Any, text: PromptText | str,
    rng: int | np.random.Generator | None, progress: ProgressCallback | None,
) -> DecontaminationResult:
    if isinstance(threshold, str):
        if threshold != "auto":
            raise ValidationError(
                f"threshold must be 'auto', a float in [-1, 1] or None; got {threshold!r}"
            )
    elif threshold is not None and not -1.0 <= threshold <= 1.0:
        raise ValidationError(f"threshold must be in [-1, 1] or None; got {threshold!r}")
    if top_k is not None and (not isinstance(top_k, (int, np.integer)) or top_k < 0):
        raise ValidationError(f"top_k must be an integer >= 0 or None; got {top_k!r}")
    if ngram is not None and (not isinstance(ngram, (int, np.integer)) or ngram < 1):
        raise ValidationError(f"ngram must be an integer >= 1 or None; got {ngram!r}")
    train = normalize_prompts(train_prompts, text=text)
    test = _test_frame(against, text)
    n_train, n_test = len(train), len(test)
    train_texts = train["text"].tolist()
    test_texts = test["text"].tolist()

    if progress is not None:
        progress(Progress("decontaminate", 0, 3, unit="step"))
    ng = _ngram_matches(train_texts, test_texts, ngram) if ngram else np.full(n_train, -1)
    if progress is not None:
        progress(Progress("decontaminate", 1, 3, unit="step"))

    emb_spec = resolve_embedder(embedder, rng=rng)
    need_emb = n_train > 0 and n_test > 0
    used: float | None = None if threshold == "auto" else threshold  # type: ignore[assignment]
    if need_emb:
        if isinstance(emb_spec, Precomputed):
            if emb_spec.n_rows() is not None:
                raise ValidationError(
                    "decontaminate needs precomputed embeddings keyed by prompt id "
                    "(DataFrame or mapping) covering train and test prompts"
                )
            e_test = emb_spec.lookup(test.index.tolist(), None)
            e_train = emb_spec.lookup(train.index.tolist(), None)
            both = None  # looked up apart: stacked below only if the threshold is fitted
        else:
            both = check_embeddings(
                emb_spec(test_texts + train_texts), n_test + n_train, repr(emb_spec)
            )
            e_test, e_train = both[:n_test], both[n_test:]
        if progress is not None:
            progress(Progress("decontaminate", 2, 3, unit="step"))
        if threshold == "auto":
            if both is None:
                both = np.vstack([e_test, e_train])
            used, _ = calibrate_cosine_threshold(both, rng=rng)
        best, best_sim, in_top = _nearest_and_topk(e_train, e_test, top_k)
    else:
        best = np.full(n_train, -1, dtype=np.int64)
        best_sim = np.full(n_train, np.nan, dtype=np.float32)
        in_top = np.full(n_train, -1, dtype=np.int64)

    test_ids = test.index.to_numpy()
    reason = np.full(n_train, None, dtype=object)
    matched = np.full(n_train, -1, dtype=np.int64)
    free = np.ones(n_train, dtype=bool)
    rules: list[tuple[DecontamReason, np.ndarray, np.ndarray]] = [
        (DecontamReason.NGRAM, ng >= 0, ng)
    ]
    if used is not None and need_emb:
        rules.append((DecontamReason.COSINE, best_sim >= used, best))
    rules.append((DecontamReason.TOP_K, in_top >= 0, in_top))
    for why, hit, target in rules:
        take = free & hit
        reason[take], matched[take] = why.value, target[take]
        free &= ~take
    removed_mask = ~free

    if need_emb:
        sim_matched = np.full(n_train, np.nan)
        rows = np.flatnonzero(removed_mask)
        sim_matched[rows] = np.einsum("ij,ij->i", e_train[rows], e_test[matched[rows]])
    else:
        sim_matched = np.full(n_train, np.nan)

    idx = np.flatnonzero(removed_mask)
    removed = pd.DataFrame(
        {
            "reason": reason[idx],
            "matched_id": test_ids[matched[idx]] if len(idx) else np.array([], dtype=object),
            "similarity": sim_matched[idx],
            "text": train["text"].to_numpy()[idx],
        },
        index=pd.Index(train.index.to_numpy()[idx], name="prompt_id", dtype=object),
    )
    nearest = pd.DataFrame(
        {
            "nearest_test_id": (
                test_ids[best] if need_emb else np.full(n_train, None, dtype=object)
            ),
            "cosine": best_sim.astype(float),
        },
        index=train.index,
    )
    if progress is not None:
        progress(Progress("decontaminate", 3, 3, unit="step"))
    return DecontaminationResult(
        kept=train[~removed_mask], removed=removed, mask=~removed_mask, nearest=nearest,
        threshold=used,
    )
