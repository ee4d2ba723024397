"""Decontamination (wizardarena.testset.decontam)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from wizardarena.exceptions import ValidationError
from wizardarena.testset.decontam import DecontamReason, decontaminate
from wizardarena.testset.prompts import example_prompts
from wizardarena.testset.testset import build_testset


@pytest.fixture(autouse=True, scope="module")
def _one_blas_thread() -> Iterator[None]:
    with threadpool_limits(1):
        yield


def _near_copy(text: str) -> str:
    """Light edit: case, punctuation and one extra word."""
    return "Quick question: " + text.lower().replace("?", "").replace(".", "") + " thanks"


def test_removes_planted_near_copies_and_keeps_the_rest() -> None:
    ex = example_prompts()
    test = ex.iloc[::3]  # 100 test prompts
    rest = ex.drop(index=test.index)  # 200 other prompts
    picks = test.index[::5]  # 20 contaminating training prompts
    copies = pd.DataFrame(
        {
            "prompt_id": [f"leak_{p}" for p in picks],
            "prompt": [_near_copy(t) for t in test.loc[picks, "text"]],
        }
    )
    train = pd.concat(
        [pd.DataFrame({"prompt_id": rest.index, "prompt": rest["text"].to_numpy()}), copies],
        ignore_index=True,
    )
    # the planted copies add 4 words to prompts of about 10: cosine 0.88-0.94 with the
    # default TF-IDF; distinct prompts of one topic reach 0.81 (synthetic topics share
    # their vocabulary), so the threshold is set between the two here
    res = decontaminate(train, test, threshold=0.86, rng=0)
    assert res.threshold == 0.86
    assert set(res.removed.index) == set(copies["prompt_id"])
    # long copies share a 13-gram (reported first); the short ones are caught by cosine
    assert set(res.removed["reason"]) == {DecontamReason.NGRAM.value, DecontamReason.COSINE.value}
    for pid in picks:
        assert res.removed.loc[f"leak_{pid}", "matched_id"] == pid
    by_cos = res.removed[res.removed["reason"] == DecontamReason.COSINE.value]
    assert by_cos["similarity"].min() >= 0.86
    assert len(res.kept) == 200 and res.mask.sum() == 200
    assert res.kept.index.tolist() == rest.index.tolist()
    assert res.counts.sum() == 20
    # n-gram matching off: every copy is still caught by cosine
    cos_only = decontaminate(train, test, ngram=None, threshold=0.86, rng=0)
    assert set(cos_only.removed.index) == set(copies["prompt_id"])
    # calibrated: 1 - 0.1 * (1 - median random-pair cosine), no unrelated prompt removed
    auto = decontaminate(train, test, ngram=None, rng=0)
    assert auto.threshold is not None and 0.89 < auto.threshold < 0.95
    assert set(auto.removed.index) <= set(copies["prompt_id"])
    assert len(auto.removed) >= 15
    assert res.nearest.shape == (220, 2)


def test_long_ngram_overlap_is_caught_even_when_embedding_differs() -> None:
    shared = " ".join(f"w{i}" for i in range(13))
    test = ["the quick brown fox " + shared + " end", "completely different test prompt here"]
    train = [
        "a very different preamble about cooking pasta and tomatoes then " + shared,
        "nothing in common with anything at all really",
        "only twelve words " + " ".join(f"w{i}" for i in range(12)),
    ]
    res = decontaminate(train, test, threshold=None)
    assert res.removed.index.tolist() == ["p000000"]
    assert res.removed.loc["p000000", "reason"] == DecontamReason.NGRAM.value
    assert res.removed.loc["p000000", "matched_id"] == "p000000"
    off = decontaminate(train, test, threshold=None, ngram=None)
    assert len(off.removed) == 0


def test_top_k_removes_nearest_per_test_prompt() -> None:
    ex = example_prompts()
    test = ex.iloc[:2]
    train = ex.iloc[2:40]
    res = decontaminate(train, test, threshold=None, ngram=None, top_k=3, rng=0)
    assert 3 <= len(res.removed) <= 6
    assert (res.removed["reason"] == DecontamReason.TOP_K.value).all()
    # the removed ones are really the top-3 neighbours: recompute by brute force
    cos = res.nearest["cosine"]
    for tid in test.index:
        mine = res.removed[res.removed["matched_id"] == tid]
        assert len(mine) <= 3
    assert cos.loc[res.removed.index].min() >= cos.drop(index=res.removed.index).min()


def test_against_a_testset_uses_its_mix() -> None:
    ex = example_prompts()
    ts = build_testset(ex, n_clusters=30, per_cluster=1, rng=0)
    leaked = ts.mix.index[:5]
    train = pd.DataFrame(
        {"prompt_id": [f"t{i}" for i in range(5)], "prompt": ts.mix.loc[leaked, "text"].tolist()}
    )
    train = pd.concat(
        [train, pd.DataFrame({"prompt_id": ["fresh"], "prompt": ["a brand new unrelated ask"]})]
    )
    res = decontaminate(train, ts, rng=0)
    assert res.removed["matched_id"].tolist() == leaked.tolist()
    assert res.kept.index.tolist() == ["fresh"]


def test_decontaminate_validates() -> None:
    with pytest.raises(ValidationError, match="threshold"):
        decontaminate(["a"], ["b"], threshold=2.0)
    with pytest.raises(ValidationError, match="top_k"):
        decontaminate(["a"], ["b"], top_k=-1)
    with pytest.raises(ValidationError, match="ngram"):
        decontaminate(["a"], ["b"], ngram=0)
    with pytest.raises(ValidationError, match="keyed by prompt id"):
        decontaminate(["a"], ["b"], embedder=np.ones((2, 2)))


def test_precomputed_keyed_embeddings() -> None:
    train = pd.DataFrame({"prompt_id": ["a", "b"], "prompt": ["x x x", "y y y"]})
    test = pd.DataFrame({"prompt_id": ["t"], "prompt": ["z z z"]})
    emb = pd.DataFrame([[1.0, 0.0], [0.0, 1.0], [0.98, 0.1]], index=["a", "b", "t"])
    res = decontaminate(train, test, embedder=emb, ngram=None)
    assert res.removed.index.tolist() == ["a"]
    assert res.removed.loc["a", "matched_id"] == "t"
