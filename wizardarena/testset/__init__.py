"""Test sets from real prompts: clean, dedup, embed, cluster -> diverse; score -> hard; mix.

Quick use::

    from wizardarena.testset import build_testset, decontaminate, LLMDifficulty

    ts = build_testset(prompts, n_clusters=500, per_cluster=2, hard=1000,
                       difficulty=LLMDifficulty(client), rng=0)
    ts.diverse, ts.hard, ts.mix          # DataFrames indexed by prompt_id
    ts.to_parquet("testset.parquet")
    clean = decontaminate(train_prompts, against=ts)   # .kept, .removed

The selection core (:mod:`.clean`, :mod:`.select`, :mod:`.cover`, :mod:`.decontam`
matching, the default embedder) is pure numpy / scipy / scikit-learn: no network and no file
I/O. I/O lives in :func:`.prompts.read_prompts`, the ``TestSet.to_*`` writers and the LLM /
API scorers.
See ``docs/testset.md``.
"""

from __future__ import annotations

from wizardarena.testset.api_embedder import APIEmbedder
from wizardarena.testset.clean import CleanResult, DropReason, clean_prompts
from wizardarena.testset.cover import Coverage, DiverseMethod, coverage, select_budget
from wizardarena.testset.decontam import DecontaminationResult, DecontamReason, decontaminate
from wizardarena.testset.dedup import calibrate_cosine_threshold
from wizardarena.testset.difficulty import (
    CRITERIA,
    BattleDifficulty,
    CriteriaDifficulty,
    DifficultyResult,
    LLMDifficulty,
)
from wizardarena.testset.embed import Embedder, Precomputed
from wizardarena.testset.embedders import SentenceTransformerEmbedder
from wizardarena.testset.prompts import (
    PromptText,
    example_prompts,
    normalize_prompts,
    read_prompts,
)
from wizardarena.testset.select import (
    Clustering,
    ClusterMethod,
    PickMethod,
    cluster_embeddings,
    select_diverse,
    select_hard,
)
from wizardarena.testset.testset import Subset, TestSet, build_testset
from wizardarena.testset.tfidf import TfidfEmbedder

__all__ = [
    "CRITERIA",
    "APIEmbedder",
    "BattleDifficulty",
    "CleanResult",
    "ClusterMethod",
    "Clustering",
    "Coverage",
    "CriteriaDifficulty",
    "DecontamReason",
    "DecontaminationResult",
    "DifficultyResult",
    "DiverseMethod",
    "DropReason",
    "Embedder",
    "LLMDifficulty",
    "PickMethod",
    "Precomputed",
    "PromptText",
    "SentenceTransformerEmbedder",
    "Subset",
    "TestSet",
    "TfidfEmbedder",
    "build_testset",
    "calibrate_cosine_threshold",
    "clean_prompts",
    "cluster_embeddings",
    "coverage",
    "decontaminate",
    "example_prompts",
    "normalize_prompts",
    "read_prompts",
    "select_budget",
    "select_diverse",
    "select_hard",
]
