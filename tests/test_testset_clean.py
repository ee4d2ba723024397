"""Cleaning and deduplication (wizardarena.testset.clean)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from wizardarena.exceptions import ValidationError
from wizardarena.testset._ngrams import ngram_hashes, word_tokens
from wizardarena.testset.clean import DropReason, clean_keys_batch, clean_prompts
from wizardarena.testset.dedup import (
    calibrate_cosine_threshold,
    cosine_pairs,
    embedding_duplicates,
    greedy_representatives,
    greedy_representatives_loop,
    lsh_candidates,
    minhash_duplicates,
    minhash_params,
    minhash_signatures,
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
        ["hi!", "Tell me about Rome please", "  tell ME about  rome please ", "Another prompt"]
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


def test_prefix_duplicates_only_when_the_prefix_is_most_of_both_prompts() -> None:
    stem = "Translate the following sentence into French and keep the tone: "  # 10 words
    tail = " ".join(f"w{i}" for i in range(30))
    df = normalize_prompts([
        stem + "I like cats.", stem + "The weather is nice.", "short one!",
        stem + "I like cats. " + tail, stem + "The weather is nice. " + tail,
    ])
    res = clean_prompts(df, prefix_words=10, minhash_threshold=None)
    assert res.kept.index.tolist() == ["p000000", "p000002", "p000003", "p000004"]
    row = res.dropped.loc["p000001"]
    assert row["reason"] == DropReason.PREFIX_DUPLICATE.value
    assert row["duplicate_of"] == "p000000"
    assert row["similarity"] == pytest.approx(10 / 14)  # shared words / longer prompt
    # p000004 shares 10 words with p000003 but those are a quarter of it: a new instance
    none = clean_prompts(df, prefix_words=None, minhash_threshold=None)
    assert len(none.dropped) == 0


def test_minhash_finds_planted_near_copies_and_nothing_else() -> None:
    rng = np.random.default_rng(5)
    originals = _long_prompts(60, rng)
    planted = {f"copy{i}": i for i in rng.choice(60, size=15, replace=False)}
    texts = list(originals) + [_edit_one_word(originals[i], rng) for i in planted.values()]
    ids = [f"orig{i}" for i in range(60)] + list(planted)
    df = normalize_prompts(pd.DataFrame({"prompt_id": ids, "prompt": texts}))
    res = clean_prompts(df, prefix_words=None, rng=0)
    d = res.dropped
    assert set(d.index) == set(planted)
    assert (d["reason"] == DropReason.NEAR_DUPLICATE_MINHASH.value).all()
    for cid, i in planted.items():
        assert d.loc[cid, "duplicate_of"] == f"orig{i}"
        assert 0.7 <= d.loc[cid, "similarity"] <= 1.0
    # with the shared-prefix step on, copies edited late are caught earlier, as prefix dups
    both = clean_prompts(df, prefix_words=5, prefix_share=0.05, rng=0).dropped
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
    # plain loop over documents and hash functions, in Python integers
    a, b = minhash_params(128, 11)
    for d in range(len(texts)):
        tok = word_tokens([texts[d]])  # alone: token ids do not depend on the batch
        h, _ = ngram_hashes(tok.ids, tok.offsets, 3, salt=1)
        for k in range(128):
            want = min((int(a[k]) * int(x) + int(b[k])) % 2**64 for x in h) >> 32
            assert int(sig[d, k]) == want
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
    assert (sig[3] == np.iinfo(np.uint32).max).all()


def test_minhash_duplicates_validates() -> None:
    sig = np.zeros((3, 8), dtype=np.uint32)
    with pytest.raises(ValidationError, match="threshold"):
        minhash_duplicates(sig, threshold=0.0)
    with pytest.raises(ValidationError, match="bands must divide"):
        minhash_duplicates(sig, bands=3)
    dropped, root, sim = minhash_duplicates(sig)
    assert dropped.tolist() == [1, 2] and root.tolist() == [0, 0]
    assert np.allclose(sim, 1.0)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_cosine_pairs_matches_brute_force_loop() -> None:
    rng = np.random.default_rng(3)
    emb = _unit(rng.normal(size=(150, 16)))
    emb[100:110] = _unit(emb[:10] + 0.05 * rng.normal(size=(10, 16)))
    i, j, s = cosine_pairs(emb.astype(np.float32), 0.9, chunk_elems=37 * 150)
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


def test_embedding_duplicates_never_chain() -> None:
    emb = np.array([[1.0, 0.0], [0.96, 0.28], [0.85, 0.53], [0.0, 1.0]], dtype=np.float32)
    emb = _unit(emb)
    dropped, root, sim = embedding_duplicates(emb, 0.94)
    # 0~1 and 1~2 are similar, 0 and 2 are not: 1 is dropped for the kept 0; 2 resembles
    # only the dropped 1, so it stays (connected components dropped it for 0 at 0.85)
    assert dropped.tolist() == [1]
    assert root.tolist() == [0]
    assert sim[0] >= 0.94


def _random_pairs(rng: np.random.Generator, n: int, m: int) -> tuple[np.ndarray, ...]:
    a = rng.integers(1, n, size=m)
    b = (rng.random(m) * a).astype(np.int64)
    key = np.unique(a * n + b)
    return key // n, key % n, rng.random(len(key)) + 0.5


@pytest.mark.parametrize("seed", range(6))
def test_greedy_representatives_matches_plain_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 200
    i, j, s = _random_pairs(rng, n, 400)
    got = greedy_representatives(n, i, j, s, max_rounds=2 if seed % 2 else 64)
    want = greedy_representatives_loop(n, i, j, s)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    dropped, kept_as, _ = got
    assert not set(kept_as.tolist()) & set(dropped.tolist())  # every named prompt is kept


def test_greedy_drop_invariant_on_a_long_chain() -> None:
    # a path 0-1-2-...-99 of similar neighbours: greedy keeps every other prompt
    n = 100
    i = np.arange(1, n)
    dropped, kept_as, sim = greedy_representatives(n, i, i - 1, np.full(n - 1, 0.95))
    assert (sim == 0.95).all()
    assert dropped.tolist() == list(range(1, n, 2))
    assert kept_as.tolist() == list(range(0, n - 1, 2))


def test_lsh_candidates_pair_first_member_and_window() -> None:
    keys = np.array([5, 5, 5, 5, 7, 7], dtype=np.uint64)
    pos = np.array([0, 3, 6, 9, 1, 2], dtype=np.int64)
    i, j = lsh_candidates(keys, pos, window=1)
    assert set(zip(i.tolist(), j.tolist())) == {(3, 0), (6, 0), (6, 3), (9, 0), (9, 6), (2, 1)}


def test_calibrated_threshold_follows_the_embedder_scale() -> None:
    rng = np.random.default_rng(0)
    spread = _unit(rng.normal(size=(500, 32))).astype(np.float32)  # median cosine ~0
    t0, m0 = calibrate_cosine_threshold(spread, rng=0)
    assert abs(m0) < 0.05 and t0 == pytest.approx(1 - 0.1 * (1 - m0))
    # an "anisotropic" embedder: every vector shares a big common direction (median ~0.8)
    common = np.zeros(32)
    common[0] = 6.0
    tight = _unit(rng.normal(size=(500, 32)) * 0.5 + common).astype(np.float32)
    t1, m1 = calibrate_cosine_threshold(tight, rng=0)
    assert m1 > 0.7 and t1 > 0.97
    # with a fixed 0.9 most random pairs of the tight embedder would be "duplicates"
    assert (tight[:250] @ tight[250:].T >= 0.9).mean() > 0.01
    assert (tight[:250] @ tight[250:].T >= t1).mean() < 0.01


def test_clean_validates_arguments() -> None:
    df = normalize_prompts(["some prompt text"])
    with pytest.raises(ValidationError, match="min_chars"):
        clean_prompts(df, min_chars=-1)
    with pytest.raises(ValidationError, match="min_words"):
        clean_prompts(df, min_words=-1)
    with pytest.raises(ValidationError, match="prefix_words"):
        clean_prompts(df, prefix_words=0)
    with pytest.raises(ValidationError, match="prefix_share"):
        clean_prompts(df, prefix_share=0)
    with pytest.raises(ValidationError, match="'text' column"):
        clean_prompts(pd.DataFrame({"x": [1]}))


def test_example_prompts_have_no_false_duplicates() -> None:
    res = clean_prompts(example_prompts(), rng=0)
    assert len(res.dropped) == 0


def test_length_rule_counts_words_per_script() -> None:
    texts = [
        "写一首关于春天的诗",  # "write a poem about spring": 9 characters, a full request
        "春",  # one character
        "hi",
        "Explain quicksort",
        "ok!!!!!!!!!!!!!!!!!",  # 19 characters, one word
        "ทดสอบ",  # Thai, 5 characters
    ]
    res = clean_prompts(normalize_prompts(texts), minhash_threshold=None)
    short = set(res.dropped.index[res.dropped["reason"] == "too_short"])
    assert short == {"p000001", "p000002", "p000004"}
    keys = clean_keys_batch(normalize_prompts(texts))
    assert keys["words"].tolist() == [9, 1, 1, 2, 1, 5]


def test_keys_do_not_depend_on_the_batch() -> None:
    rng = np.random.default_rng(7)
    texts = _long_prompts(40, rng)
    texts += [_edit_one_word(t, rng) for t in texts[:8]] + [texts[3].upper()]
    df = normalize_prompts(texts)
    whole = clean_keys_batch(df, seed=3)
    parts = pd.concat([clean_keys_batch(df.iloc[s : s + 7], seed=3) for s in range(0, 49, 7)])
    pd.testing.assert_frame_equal(whole, parts, check_index_type=False)
    a = clean_prompts(df, batch_size=7, rng=1).dropped
    b = clean_prompts(df, batch_size=1000, rng=1).dropped
    assert len(a) == 9
    pd.testing.assert_frame_equal(a, b)


def test_minhash_on_chinese_compares_characters_not_clauses() -> None:
    base = "请用Python写一个函数，计算斐波那契数列的第n项，并分析它的时间复杂度和空间复杂度"
    edited = base.replace("第n项", "第n个数")
    other = "请用Python写一个函数，判断一个字符串是不是回文，并给出三个测试用例和运行结果"
    res = clean_prompts(normalize_prompts([base, edited, other]), prefix_words=None, rng=0)
    assert res.dropped.index.tolist() == ["p000001"]
    assert res.dropped.loc["p000001", "duplicate_of"] == "p000000"


def test_embedding_duplicates_need_similar_lengths() -> None:
    emb = _unit(np.array([[1.0, 0.0], [1.0, 0.01], [1.0, 0.02]])).astype(np.float32)
    dropped, root, _ = embedding_duplicates(emb, 0.99, lengths=np.array([100, 1000, 120]))
    assert dropped.tolist() == [2] and root.tolist() == [0]  # 1 is ten times longer: kept
