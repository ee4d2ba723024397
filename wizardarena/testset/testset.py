"""``build_testset``: the WizardArena recipe end to end, and the :class:`TestSet` result.

Recipe (WizardArena, arXiv 2407.10627, Offline-Diverse / Offline-Hard / Mix):

1. normalise the prompts (:func:`~wizardarena.testset.prompts.normalize_prompts`);
2. clean: too short, exact, shared-prefix and MinHash near duplicates
   (:func:`~wizardarena.testset.clean.clean_prompts`);
3. embed (default TF-IDF + SVD; pluggable);
4. cluster with k-means into ``n_clusters``;
5. drop embedding near duplicates (cosine >= ``cosine_threshold``; compared within k-means
   clusters above 20,000 prompts, all pairs below);
6. diverse: ``per_cluster`` prompts per cluster (random or nearest the centroid);
7. hard: ``candidates_per_cluster`` prompts per cluster (the diverse picks first) are scored
   by ``difficulty``; the ``hard`` highest scores are kept (ties broken by ``rng``);
8. mix: the union, each row tagged with its subset(s).

The paper's sizes: 500 clusters, 2 per cluster (1,000 diverse), 20 candidates per cluster
(10,000 scored), the top 1,000 hard, and a mix of up to 2,000.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from wizardarena._blas import with_single_threaded_blas
from wizardarena._io import atomic_write
from wizardarena.exceptions import Param, ValidationError
from wizardarena.testset.clean import (
    DropReason,
    clean_prompts,
    embedding_duplicates,
    finish,
    make_report,
)
from wizardarena.testset.difficulty import DifficultyResult, _LLMScorer, coerce_scores
from wizardarena.testset.embed import Precomputed, check_embeddings, resolve_embedder
from wizardarena.testset.prompts import PromptsLike, PromptText, normalize_prompts
from wizardarena.testset.select import (
    AUTO_MINIBATCH_ABOVE,
    Clustering,
    ClusterMethod,
    PickMethod,
    _enum,
    cluster_embeddings,
    select_candidates,
    select_diverse,
    select_hard,
)

__all__ = ["Subset", "TestSet", "build_testset"]

ProgressCallback = Callable[[str, int, int], None]


class Subset(str, enum.Enum):
    """Which subset(s) a row of the mix belongs to."""

    DIVERSE = "diverse"
    HARD = "hard"
    BOTH = "diverse+hard"


_FRONT = ["turns", "text", "cluster", "centroid_distance", "candidate", "difficulty"]


@dataclass(frozen=True)
class TestSet:
    """A built test set.

    Attributes
    ----------
    prompts : DataFrame, indexed by prompt_id
        Every prompt that survived cleaning, input order, with ``turns``, ``text``,
        ``cluster`` (int), ``centroid_distance``, ``candidate`` (bool: was scored),
        ``difficulty`` (float, NaN when not scored or unparseable), ``in_diverse``,
        ``in_hard`` (bool), ``difficulty_raw`` (LLM scorers only) and the input's other
        columns.
    dropped : DataFrame, indexed by prompt_id
        The cleaning report: ``reason``, ``duplicate_of``, ``similarity``, ``text``.
    centers : ndarray of float32, shape (n_clusters, d)
        k-means centres.
    difficulty_failed : int
        Candidates whose difficulty answer did not parse (NaN, never selected).
    difficulty_details : DataFrame or None
        Scorer-specific columns for the candidates (e.g. criteria booleans).
    params : mapping
        The parameters the set was built with (for provenance).
    """

    __test__ = False  # not a pytest test class despite its name

    prompts: pd.DataFrame
    dropped: pd.DataFrame
    centers: np.ndarray = field(repr=False)
    difficulty_failed: int = 0
    difficulty_details: pd.DataFrame | None = field(default=None, repr=False)
    params: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        return (
            f"TestSet({len(self.prompts)} prompts, {len(self.dropped)} dropped, "
            f"diverse={int(self.prompts['in_diverse'].sum())}, "
            f"hard={int(self.prompts['in_hard'].sum())}, mix={len(self.mix)})"
        )

    @property
    def diverse(self) -> pd.DataFrame:
        """The diverse subset (input order), with ``subset`` = "diverse"."""
        out = self.prompts[self.prompts["in_diverse"].to_numpy()].copy()
        out["subset"] = Subset.DIVERSE.value
        return out

    @property
    def hard(self) -> pd.DataFrame:
        """The hard subset, hardest first, with ``subset`` = "hard"."""
        out = self.prompts[self.prompts["in_hard"].to_numpy()].copy()
        out = out.sort_values("difficulty", ascending=False, kind="stable")
        out["subset"] = Subset.HARD.value
        return out

    @property
    def mix(self) -> pd.DataFrame:
        """Union of diverse and hard (input order), ``subset`` in diverse / hard / diverse+hard."""
        d = self.prompts["in_diverse"].to_numpy()
        h = self.prompts["in_hard"].to_numpy()
        out = self.prompts[d | h].copy()
        dd, hh = d[d | h], h[d | h]
        out["subset"] = np.where(
            dd & hh, Subset.BOTH.value, np.where(dd, Subset.DIVERSE.value, Subset.HARD.value)
        )
        return out

    def subset(self, which: Subset | str) -> pd.DataFrame:
        """``"diverse"``, ``"hard"``, ``"mix"`` or ``"all"`` (every cleaned prompt)."""
        if which == "mix":
            return self.mix
        if which == "all":
            return self.prompts.copy()
        if which == Subset.DIVERSE.value:
            return self.diverse
        if which == Subset.HARD.value:
            return self.hard
        raise ValidationError(f"which must be one of diverse, hard, mix, all; got {which!r}")

    def summary(self) -> pd.Series:
        """Counts: prompts kept, dropped per reason, clusters, diverse, candidates, hard, mix."""
        counts = self.dropped["reason"].value_counts()
        data: dict[str, float] = {
            "prompts_in": len(self.prompts) + len(self.dropped),
            "kept": len(self.prompts),
            "dropped": len(self.dropped),
        }
        for r in DropReason:
            data[f"dropped_{r.value}"] = int(counts.get(r.value, 0))
        data.update(
            {
                "clusters": int(self.centers.shape[0]),
                "clusters_nonempty": int(self.prompts["cluster"].nunique()),
                "diverse": int(self.prompts["in_diverse"].sum()),
                "candidates": int(self.prompts["candidate"].sum()),
                "scored": int(np.isfinite(self.prompts["difficulty"].to_numpy()).sum()),
                "difficulty_failed": self.difficulty_failed,
                "hard": int(self.prompts["in_hard"].sum()),
                "mix": len(self.mix),
            }
        )
        return pd.Series(data, name="count", dtype=np.int64)

    def _records(self, which: str) -> pd.DataFrame:
        frame = self.subset(which).reset_index()
        frame["turns"] = frame["turns"].map(list)
        return frame

    def to_parquet(self, path: str | os.PathLike[str], *, which: str = "mix") -> None:
        """Write a subset (default the mix) to Parquet, atomically (temp file + rename).

        The file has a ``prompt_id`` column and ``turns`` as a list of strings, so
        :func:`~wizardarena.testset.prompts.normalize_prompts` reads it back.
        """
        frame = self._records(which)
        atomic_write(path, lambda tmp: frame.to_parquet(tmp, index=False))

    def to_jsonl(self, path: str | os.PathLike[str], *, which: str = "mix") -> None:
        """Write a subset (default the mix) as JSON lines, atomically."""
        frame = self._records(which)
        atomic_write(
            path,
            lambda tmp: frame.to_json(tmp, orient="records", lines=True, force_ascii=False),
        )

    def to_csv(self, path: str | os.PathLike[str], *, which: str = "mix") -> None:
        """Write a subset (default the mix) as CSV (``turns`` JSON-encoded), atomically."""
        import json

        frame = self._records(which)
        frame["turns"] = frame["turns"].map(lambda t: json.dumps(t, ensure_ascii=False))
        atomic_write(path, lambda tmp: frame.to_csv(tmp, index=False))





@with_single_threaded_blas
def build_testset(
    prompts: PromptsLike,
    *,
    n_clusters: int = 500,
    per_cluster: int = 2,
    hard: int = 0,
    difficulty: Any = None,
    candidates_per_cluster: int | None = 20,
    embedder: Any = None,
    text: PromptText | str = PromptText.FIRST_USER,
    pick: PickMethod | str = PickMethod.RANDOM,
    cluster_method: ClusterMethod | str = ClusterMethod.AUTO,
    min_chars: int = 10,
    prefix_chars: int | None = 200,
    minhash_threshold: float | None = 0.7,
    cosine_threshold: float | None = 0.9,
    id_column: str | None = None,
    text_column: str | None = None,
    rng: int | np.random.Generator | None = None,
    progress: ProgressCallback | None = None,
) -> TestSet:
    """Build a diverse + hard test set from real prompts (see the module docstring).

    Parameters
    ----------
    prompts : DataFrame, list or path
        Anything :func:`~wizardarena.testset.prompts.normalize_prompts` accepts.
    n_clusters : int, default 500
        k of k-means (clamped to the number of prompts with a DataWarning).
    per_cluster : int, default 2
        Diverse prompts per cluster (0: no diverse subset).
    hard : int, default 0
        Size of the hard subset; needs ``difficulty``.
    difficulty : callable, optional
        A difficulty scorer (:class:`~wizardarena.testset.difficulty.LLMDifficulty`,
        :class:`~wizardarena.testset.difficulty.CriteriaDifficulty`,
        :class:`~wizardarena.testset.difficulty.BattleDifficulty`, or any
        ``f(prompts_frame) -> scores``).
    candidates_per_cluster : int or None, default 20
        Prompts per cluster scored for difficulty (None: every prompt).
    embedder : embedder spec, optional
        ``None``/"tfidf" (default), ``"st:<model>"``, an embedder callable, or precomputed
        vectors (an array aligned with the input rows, or a DataFrame/mapping by prompt id).
    text : {"first_user", "all_user"}, default "first_user"
        Text used for embeddings and duplicate detection.
    pick : {"random", "centroid"}, default "random"
        How diverse prompts are chosen within a cluster.
    cluster_method : {"auto", "kmeans", "minibatch"}, default "auto"
    min_chars, prefix_chars, minhash_threshold :
        Cleaning options (:func:`~wizardarena.testset.clean.clean_prompts`).
    cosine_threshold : float or None, default 0.9
        Embedding near-duplicate threshold (None disables).
    id_column, text_column : str, optional
        Input columns (see ``normalize_prompts``).
    rng : int, Generator or None
        All randomness (MinHash functions, SVD, k-means, picks, ties) derives from it.
    progress : callable, optional
        ``progress(stage, done, total)`` for a progress bar.

    Returns
    -------
    TestSet
    """
    if not isinstance(per_cluster, (int, np.integer)) or per_cluster < 0:
        raise ValidationError(f"per_cluster must be an integer >= 0; got {per_cluster!r}")
    if not isinstance(hard, (int, np.integer)) or hard < 0:
        raise ValidationError(f"hard must be an integer >= 0; got {hard!r}")
    if hard > 0 and difficulty is None:
        raise ValidationError(
            Param("hard", repr(hard)), " needs a difficulty scorer: ",
            Param("difficulty", "LLMDifficulty(...), CriteriaDifficulty(...), "
                  "BattleDifficulty(...) or a callable", cli="llm|criteria|battles"),
        )
    if difficulty is not None and not callable(difficulty):
        raise ValidationError(
            f"difficulty must be callable (a scorer); got {type(difficulty).__name__}"
        )
    gen = np.random.default_rng(rng)
    seeds = gen.integers(2**31, size=7)

    def tick(stage: str, done: int, total: int) -> None:
        if progress is not None:
            progress(stage, done, total)

    tick("load", 0, 1)
    frame = normalize_prompts(prompts, text=text, id_column=id_column, text_column=text_column)
    n_in = len(frame)
    tick("load", 1, 1)

    emb_spec = resolve_embedder(embedder, rng=int(seeds[1]))
    if isinstance(emb_spec, Precomputed) and emb_spec.n_rows() not in (None, n_in):
        raise ValidationError(
            f"precomputed embeddings have {emb_spec.n_rows()} rows for {n_in} input prompts; "
            "an array must be aligned with the input rows"
        )

    tick("clean", 0, 1)
    cleaned = clean_prompts(
        frame,
        min_chars=min_chars,
        prefix_chars=prefix_chars,
        minhash_threshold=minhash_threshold,
        rng=int(seeds[0]),
    )
    kept = cleaned.kept
    reports = [cleaned.dropped] if len(cleaned.dropped) else []
    tick("clean", 1, 1)
    if len(kept) < 2:
        raise ValidationError(
            f"only {len(kept)} prompt(s) left after cleaning ({n_in} in, "
            f"{len(cleaned.dropped)} dropped); at least 2 are needed"
        )

    tick("embed", 0, 1)
    if isinstance(emb_spec, Precomputed):
        positions = frame.index.get_indexer(kept.index)
        emb = emb_spec.lookup(kept.index.tolist(), positions if emb_spec.n_rows() else None)
    else:
        emb = check_embeddings(emb_spec(kept["text"].tolist()), len(kept), repr(emb_spec))
    tick("embed", 1, 1)

    tick("cluster", 0, 1)
    clustering = cluster_embeddings(
        emb, n_clusters, method=cluster_method, rng=int(seeds[2])
    )
    tick("cluster", 1, 1)

    labels = clustering.labels
    distances = clustering.distances
    if cosine_threshold is not None:
        tick("near-duplicates", 0, 1)
        blocks = labels if len(kept) > AUTO_MINIBATCH_ABOVE else None
        dropped, root, sim = embedding_duplicates(emb, cosine_threshold, blocks=blocks)
        if len(dropped):
            reports.append(
                make_report(kept, dropped, DropReason.NEAR_DUPLICATE_EMBEDDING, root, sim)
            )
            keep = np.ones(len(kept), dtype=bool)
            keep[dropped] = False
            kept, emb = kept[keep], emb[keep]
            labels, distances = labels[keep], distances[keep]
        tick("near-duplicates", 1, 1)
    report = finish(kept, reports).dropped

    live = Clustering(
        labels=labels,
        centers=clustering.centers,
        distances=distances,
        n_clusters=clustering.n_clusters,
        method=clustering.method,
        n_iter=clustering.n_iter,
    )
    n = len(kept)
    in_diverse = np.zeros(n, dtype=bool)
    diverse_pos = np.zeros(0, dtype=np.int64)
    if per_cluster > 0:
        diverse_pos = select_diverse(live, per_cluster, method=pick, rng=int(seeds[3]))
        in_diverse[diverse_pos] = True

    candidate = np.zeros(n, dtype=bool)
    scores = np.full(n, np.nan)
    raw: np.ndarray | None = None
    failed = 0
    details = None
    if difficulty is not None:
        cand_pos = select_candidates(
            live, candidates_per_cluster, include=diverse_pos, rng=int(seeds[4])
        )
        candidate[cand_pos] = True
        cand_frame = kept.iloc[cand_pos]
        if isinstance(difficulty, _LLMScorer):
            result = difficulty(cand_frame, progress=progress)
        else:
            tick("difficulty", 0, len(cand_frame))
            result = difficulty(cand_frame)
            tick("difficulty", len(cand_frame), len(cand_frame))
        res: DifficultyResult = coerce_scores(result, cand_frame)
        scores[cand_pos] = res.scores.to_numpy()
        failed = res.n_failed
        details = res.details
        if res.raw is not None:
            raw = np.full(n, None, dtype=object)
            raw[cand_pos] = res.raw.to_numpy()
    in_hard = np.zeros(n, dtype=bool)
    if hard > 0:
        cand_pos = np.flatnonzero(candidate)
        chosen = select_hard(scores[cand_pos], hard, rng=int(seeds[5]))
        in_hard[cand_pos[chosen]] = True

    out = kept.copy()
    out["cluster"] = labels
    out["centroid_distance"] = distances.astype(float)
    out["candidate"] = candidate
    out["difficulty"] = scores
    if raw is not None:
        out["difficulty_raw"] = raw
    out["in_diverse"] = in_diverse
    out["in_hard"] = in_hard
    front = [c for c in _FRONT if c in out.columns]
    tail = [c for c in ("difficulty_raw", "in_diverse", "in_hard") if c in out.columns]
    rest = [c for c in out.columns if c not in front and c not in tail]
    out = out[front + tail + rest]

    params: dict[str, Any] = {
        "n_clusters": int(n_clusters),
        "n_clusters_used": int(clustering.n_clusters),
        "per_cluster": int(per_cluster),
        "hard": int(hard),
        "candidates_per_cluster": candidates_per_cluster,
        "difficulty": repr(difficulty) if difficulty is not None else None,
        "embedder": repr(emb_spec),
        "text": PromptText.parse(text).value,
        "pick": _enum(PickMethod, pick, "pick").value,
        "cluster_method": clustering.method,
        "min_chars": min_chars,
        "prefix_chars": prefix_chars,
        "minhash_threshold": minhash_threshold,
        "cosine_threshold": cosine_threshold,
        "rng": rng if isinstance(rng, (int, np.integer)) or rng is None else repr(rng),
    }
    return TestSet(
        prompts=out,
        dropped=report,
        centers=clustering.centers,
        difficulty_failed=failed,
        difficulty_details=details,
        params=params,
    )
