"""Cleaning and deduplication (wizardarena.testset.clean)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from wizardarena.exceptions import ValidationError
from wizardarena.testset._ngrams import mix64, ngram_hashes, word_tokens
from wizardarena.testset.clean import (
    DropReason,
    clean_prompts,
    cosine_pairs,
    embedding_duplicates,
    minhash_signatures,
    near_duplicate_groups,
)
from wizardarena.testset.prompts import example_prompts, normalize_prompts


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread() -> Iterator[None]:
    with threadpool_limits(1):
        yield


def _long_prompts(n: int, rng: np.random.Generator) -> list[str]:
    """Distinct ~45-word prompts made of three built-in prompts each."""
    base = example_prompts()["text"].tolist()
    idx = rng.permutation(len(base))[: 3 * n].reshape(n, 3)
    return [" ".join(base[i] for i in row) for row in idx]


def _edit_one_word(text: str, rng: np.random.Generator) -> str:
    words = text.split()
    k = int(rng.integers(len(words)))
    words[k] = words[k] + "x"
    return " ".join(words)


def test_too_short_and_exact_duplicates_are_reported() -> None:
    df = normalize_prompts(
        ["hi", "Tell me about Rome please", "  tell ME about   rome please ", "Another prompt here"]
    )
    res = clean_prompts(df, minhash_threshold=None)
    assert res.kept.index.tolist() == ["p000001", "p000003"]
    d = res.dropped
    assert d.loc["p000000", "reason"] == DropReason.TOO_SHORT.value
    assert d.loc["p000000", "duplicate_of"] is None
    assert d.loc["p000002", "reason"] == DropReason.EXACT_DUPLICATE.value
    assert d.loc["p000002", "duplicate_of"] == "p000001"
    assert res.counts[DropReason.EXACT_DUPLICATE.value] == 1
    assert len(res.kept) + len(res.dropped) == len(df)


def test_prefix_duplicates_only_for_long_prompts() -> None:
    stem = "Translate the following sentence into French and keep the tone: "
    df = normalize_prompts([stem + "I like cats.", stem + "The weather is nice.", "short one!"])
    res = clean_prompts(df, prefix_chars=40, minhash_threshold=None)
    assert res.kept.index.tolist() == ["p000000", "p000002"]
    assert res.dropped.loc["p000001", "reason"] == DropReason.PREFIX_DUPLICATE.value
    assert res.dropped.loc["p000001", "duplicate_of"] == "p000000"
    none = clean_prompts(df, prefix_chars=None, minhash_threshold=None)
    assert len(none.dropped) == 0


def test_minhash_finds_planted_near_copies_and_nothing_else() -> None:
    rng = np.random.default_rng(5)
    originals = _long_prompts(60, rng)
    planted = {f"copy{i}": i for i in rng.choice(60, size=15, replace=False)}
    texts = list(originals) + [_edit_one_word(originals[i], rng) for i in planted.values()]
    ids = [f"orig{i}" for i in range(60)] + list(planted)
    df = normalize_prompts(pd.DataFrame({"prompt_id": ids, "prompt": texts}))
    res = clean_prompts(df, prefix_chars=None, rng=0)
    d = res.dropped
    assert set(d.index) == set(planted)
    assert (d["reason"] == DropReason.NEAR_DUPLICATE_MINHASH.value).all()
    for cid, i in planted.items():
        assert d.loc[cid, "duplicate_of"] == f"orig{i}"
        assert 0.7 <= d.loc[cid, "similarity"] <= 1.0
    # with the shared-prefix step on, copies edited late are caught earlier, as prefix dups
    both = clean_prompts(df, rng=0).dropped
    assert set(both.index) == set(planted)
    assert set(both["reason"]) <= {
        DropReason.PREFIX_DUPLICATE.value,
        DropReason.NEAR_DUPLICATE_MINHASH.value,
    }


def test_clean_is_deterministic_given_rng() -> None:
    rng = np.random.default_rng(1)
    texts = _long_prompts(30, rng)
    texts += [_edit_one_word(t, rng) for t in texts[:10]]
    df = normalize_prompts(texts)
    a, b = clean_prompts(df, rng=3), clean_prompts(df, rng=3)
    pd.testing.assert_frame_equal(a.dropped, b.dropped)


def _python_shingles(text: str, n: int) -> set[tuple[str, ...]]:
    toks = re.findall(r"\w+", text.lower())
    return {tuple(toks[i : i + n]) for i in range(len(toks) - n + 1)}


def test_minhash_signature_matches_plain_loop_and_estimates_jaccard() -> None:
    rng = np.random.default_rng(2)
    texts = _long_prompts(6, rng)
    texts.append(_edit_one_word(texts[0], rng))
    sig = minhash_signatures(texts, shingle=3, num_perm=128, seed=11)
    # plain loop over documents, one at a time, with the same hash family
    seeds = np.random.default_rng(11).integers(1, 2**63 - 1, size=128, dtype=np.int64)
    tok = word_tokens(texts)
    for d in range(len(texts)):
        ids = tok.ids[tok.offsets[d] : tok.offsets[d + 1]]
        h, _ = ngram_hashes(ids, np.array([0, len(ids)]), 3, salt=1)
        for k in range(128):
            assert sig[d, k] == mix64(h ^ np.uint64(seeds[k])).min()
    exact = len(_python_shingles(texts[0], 3) & _python_shingles(texts[-1], 3)) / len(
        _python_shingles(texts[0], 3) | _python_shingles(texts[-1], 3)
    )
    est = float((sig[0] == sig[-1]).mean())
    assert abs(est - exact) < 0.15
    assert float((sig[0] == sig[1]).mean()) < 0.2


def test_short_texts_use_whole_text_shingle() -> None:
    sig = minhash_signatures(["a b", "a b", "b a", ""], shingle=3, num_perm=16, seed=0)
    assert (sig[0] == sig[1]).all()
    assert not (sig[0] == sig[2]).all()
    assert (sig[3] == np.iinfo(np.uint64).max).all()


def test_near_duplicate_groups_validates() -> None:
    sig = np.zeros((3, 8), dtype=np.uint64)
    with pytest.raises(ValidationError, match="threshold"):
        near_duplicate_groups(sig, threshold=0.0)
    with pytest.raises(ValidationError, match="bands must divide"):
        near_duplicate_groups(sig, bands=3)
    dropped, root, sim = near_duplicate_groups(sig)
    assert dropped.tolist() == [1, 2] and root.tolist() == [0, 0]
    assert np.allclose(sim, 1.0)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_cosine_pairs_matches_brute_force_loop() -> None:
    rng = np.random.default_rng(3)
    emb = _unit(rng.normal(size=(150, 16)))
    emb[100:110] = _unit(emb[:10] + 0.05 * rng.normal(size=(10, 16)))
    i, j, s = cosine_pairs(emb.astype(np.float32), 0.9, chunk=37)
    got = {(int(a), int(b)) for a, b in zip(i, j, strict=True)}
    want = {
        (a, b)
        for a in range(150)
        for b in range(a)
        if float(emb[a] @ emb[b]) >= 0.9
    }
    assert got == want
    assert np.all(s >= 0.9 - 1e-6)
    assert {(a, a - 100) for a in range(100, 110)} <= got


def test_cosine_pairs_blocks_restrict_comparisons() -> None:
    rng = np.random.default_rng(4)
    emb = _unit(rng.normal(size=(20, 8))).astype(np.float32)
    emb[10] = emb[0]
    emb[11] = emb[1]
    blocks = np.zeros(20, dtype=int)
    blocks[11] = 1  # the copy of row 1 sits in another block
    i, j, _ = cosine_pairs(emb, 0.99, blocks=blocks)
    assert {(int(a), int(b)) for a, b in zip(i, j, strict=True)} == {(10, 0)}
    with pytest.raises(ValidationError, match="blocks must have shape"):
        cosine_pairs(emb, 0.9, blocks=np.zeros(3))


def test_embedding_duplicates_groups_chain_to_first() -> None:
    emb = np.array([[1.0, 0.0], [0.96, 0.28], [0.85, 0.53], [0.0, 1.0]], dtype=np.float32)
    emb = _unit(emb)
    dropped, root, sim = embedding_duplicates(emb, 0.94)
    # 0~1 and 1~2 are similar, 0 and 2 are not: one group kept as 0
    assert dropped.tolist() == [1, 2]
    assert root.tolist() == [0, 0]
    assert sim[1] < 0.94 <= sim[0]


def test_clean_validates_arguments() -> None:
    df = normalize_prompts(["some prompt text"])
    with pytest.raises(ValidationError, match="min_chars"):
        clean_prompts(df, min_chars=-1)
    with pytest.raises(ValidationError, match="prefix_chars"):
        clean_prompts(df, prefix_chars=0)
    with pytest.raises(ValidationError, match="'text' column"):
        clean_prompts(pd.DataFrame({"x": [1]}))


def test_example_prompts_have_no_false_duplicates() -> None:
    res = clean_prompts(example_prompts(), rng=0)
    assert len(res.dropped) == 0
