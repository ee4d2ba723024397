"""``build_testset``: the WizardArena recipe end to end, and the :class:`TestSet` result.

Recipe (WizardArena, arXiv 2407.10627, Offline-Diverse / Offline-Hard / Mix):

1. normalise the prompts (:func:`~wizardarena.testset.prompts.normalize_prompts`);
2. clean: too short (script-aware words), exact, shared-prefix and MinHash near duplicates
   (:func:`~wizardarena.testset.clean.clean_prompts`; batch stages, greedy
   representatives: a prompt is dropped only for a *kept* one);
3. embed (default TF-IDF + SVD + residual sketch, fitted on a sample and applied batch by
   batch; pluggable; optional ``max_chars`` / ``max_tokens`` truncation for any embedder);
4. calibrate the near-duplicate cosine threshold from the embedder's random-pair
   similarities and cluster with k-means into ``n_clusters``;
5. drop embedding near duplicates (greedy representatives; compared within k-means
   clusters above 20,000 prompts, all pairs below);
6. diverse: facility location (default), k-center or central k-means with a budget, or the
   paper's ``n_clusters`` x ``per_cluster`` recipe; the coverage reached is reported next to
   random subsets;
7. hard: ``candidates_per_cluster`` prompts per cluster (the diverse picks first) are scored
   by ``difficulty``; the ``hard`` highest scores are kept (ties broken by ``rng``);
8. mix: the union, each row tagged with its subset(s).

The paper's sizes: 500 clusters, 2 per cluster (1,000 diverse), 20 candidates per cluster
(10,000 scored), the top 1,000 hard, and a mix of up to 2,000.
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from wizardarena._blas import with_single_threaded_blas
from wizardarena._io import atomic_write
from wizardarena.exceptions import Param, ValidationError, parse_enum
from wizardarena.progress import Progress, ProgressOption, progress_callback
from wizardarena.ray import Engine, RayEngine, check_engine, engine_for
from wizardarena.testset._ngrams import truncate_texts
from wizardarena.testset.clean import DropReason, clean_prompts, finish, make_report
from wizardarena.testset.cover import Coverage, DiverseMethod, coverage, select_budget
from wizardarena.testset.dedup import calibrate_cosine_threshold, embedding_duplicates
from wizardarena.testset.difficulty import DifficultyResult, LLMScorer, coerce_scores
from wizardarena.testset.embed import Precomputed, embed_texts
from wizardarena.testset.embedders import resolve_embedder
from wizardarena.testset.prompts import PromptsLike, PromptText, normalize_prompts
from wizardarena.testset.ray_stages import RayStages
from wizardarena.testset.select import (
    AUTO_MINIBATCH_ABOVE,
    Clustering,
    ClusterMethod,
    PickMethod,
    cluster_embeddings,
    select_candidates,
    select_diverse,
    select_hard,
)

__all__ = ["Subset", "TestSet", "build_testset"]


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
        The parameters the set was built with (for provenance), including the calibrated
        ``cosine_threshold_used`` and the ``random_pair_cosine_median`` it came from.
    coverage : Coverage or None
        How well the diverse subset covers all prompts (mean distance to the nearest
        selected prompt) next to random subsets of the same size.
    """

    __test__ = False  # not a pytest test class despite its name

    prompts: pd.DataFrame
    dropped: pd.DataFrame
    centers: np.ndarray = field(repr=False)
    difficulty_failed: int = 0
    difficulty_details: pd.DataFrame | None = field(default=None, repr=False)
    params: Mapping[str, Any] = field(default_factory=dict, repr=False)
    coverage: Coverage | None = field(default=None, repr=False)

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


class _LocalStages:
    """The stages that ``engine=`` moves: here, in this process (the Ray ones are
    :class:`wizardarena.testset.ray_stages.RayStages`, with the same three methods)."""

    normalize_prompts = staticmethod(normalize_prompts)
    clean_prompts = staticmethod(clean_prompts)
    embed_texts = staticmethod(embed_texts)


def compact_rows(arr: np.ndarray, keep: np.ndarray, chunk: int = 65536) -> np.ndarray:
    """``arr[keep]`` computed in place (rows moved up in chunks): no second copy of a large
    embedding matrix. Returns a view of ``arr``; ``arr`` itself is overwritten."""
    pos = np.flatnonzero(keep)
    for s in range(0, len(pos), chunk):
        src = pos[s : s + chunk]
        arr[s : s + len(src)] = arr[src]  # src >= destination rows: reads precede writes
    return arr[: len(pos)]


@with_single_threaded_blas
def build_testset(
    prompts: PromptsLike,
    *,
    n_clusters: int = 500,
    per_cluster: int = 2,
    diverse: int | None = None,
    diverse_method: DiverseMethod | str = DiverseMethod.FACILITY,
    hard: int = 0,
    difficulty: Any = None,
    candidates_per_cluster: int | None = 20,
    embedder: Any = None,
    text: PromptText | str = PromptText.FIRST_USER,
    pick: PickMethod | str = PickMethod.RANDOM,
    cluster_method: ClusterMethod | str = ClusterMethod.AUTO,
    min_words: int = 2,
    min_chars: int | None = None,
    prefix_words: int | None = 40,
    prefix_share: float = 0.5,
    minhash_threshold: float | None = 0.7,
    cosine_threshold: float | str | None = "auto",
    max_chars: int | None = None,
    max_tokens: int | None = None,
    id_column: str | None = None,
    text_column: str | None = None,
    batch_size: int = 20_000,
    rng: int | np.random.Generator | None = None,
    progress: ProgressOption = True,
    engine: Engine | str | RayEngine = "local",
    ray_address: str | None = None,
    workers: int | None = None,
) -> TestSet:
    """Build a diverse + hard test set from real prompts (see the module docstring).

    Parameters
    ----------
    prompts : DataFrame, list or path
        Anything :func:`~wizardarena.testset.prompts.normalize_prompts` accepts.
    n_clusters : int, default 500
        k of k-means (clamped to the number of prompts with a DataWarning). The clusters
        give the ``cluster`` column, the hard candidates per cluster and, with
        ``diverse_method="kmeans"``, the diverse subset.
    per_cluster : int, default 2
        Diverse prompts per cluster of the ``"kmeans"`` recipe; with the other methods the
        default budget is ``n_clusters * per_cluster`` (0: no diverse subset).
    diverse : int, optional
        Size of the diverse subset for ``"facility"``, ``"kcenter"`` and ``"central"``
        (default ``n_clusters * per_cluster``).
    diverse_method : {"facility", "kcenter", "central", "kmeans"}, default "facility"
        The selection rule (:class:`~wizardarena.testset.cover.DiverseMethod`); facility
        location covered the most labelled topics in our benchmarks (docs/testset.md).
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
        How the ``"kmeans"`` recipe picks prompts within a cluster.
    cluster_method : {"auto", "kmeans", "minibatch"}, default "auto"
    min_words, min_chars, prefix_words, prefix_share, minhash_threshold :
        Cleaning options (:func:`~wizardarena.testset.clean.clean_prompts`).
    cosine_threshold : "auto", float or None, default "auto"
        Embedding near-duplicate threshold. ``"auto"`` calibrates it from the embedder's
        random-pair similarities (:func:`~wizardarena.testset.dedup.calibrate_cosine_threshold`);
        a float is used as is; None disables the step.
    max_chars, max_tokens : int, optional
        Cut every text to this many characters / words before embedding, whatever the
        embedder (:func:`~wizardarena.testset._ngrams.truncate_texts`); not allowed with
        precomputed vectors.
    id_column, text_column : str, optional
        Input columns (see ``normalize_prompts``).
    batch_size : int, default 20000
        Rows per batch of the streaming stages (keys, MinHash, TF-IDF transform).
    rng : int, Generator or None
        All randomness (MinHash functions, SVD, k-means, picks, ties) derives from it.
    progress : bool or callable, default True
        A progress bar per stage (``True``: ``tqdm.auto``, drawn in notebooks and on
        terminals, not in logs), none (``False``), or a callable given
        :class:`~wizardarena.progress.Progress` events (stages ``"load"``, ``"clean"``,
        ``"embed"``, ``"cluster"``, ``"near-duplicates"``, ``"diverse"``, the difficulty
        scorer's). Earlier versions took a callback ``(stage, done, total)``: read
        ``event.stage``, ``event.done``, ``event.total``. See :mod:`wizardarena.progress`.
    engine : {"local", "ray"}, default "local"
        ``"ray"`` (CLI ``--ray``; extra ``ray``): reading, the cleaning keys and MinHash
        signatures, the exact / prefix / LSH-band group-bys and the embedding run as Ray Data
        stages on a cluster (:mod:`wizardarena.testset.ray_stages`); greedy representatives,
        calibration, k-means and selection stay here. Same seed, same embeddings: the same
        drops and the same test set.
    ray_address : str, optional
        The Ray cluster (CLI ``--ray-address``; default ``RAY_ADDRESS``, else a local Ray
        runtime).
    workers : int, optional
        Ray Data tasks (or embedding actors) at a time (CLI ``--ray-workers``; default:
        as many as the cluster has CPUs).

    Returns
    -------
    TestSet
    """
    eng = check_engine(engine, ray_address=ray_address, workers=workers)
    if not isinstance(per_cluster, (int, np.integer)) or per_cluster < 0:
        raise ValidationError(f"per_cluster must be an integer >= 0; got {per_cluster!r}")
    if diverse is not None and (not isinstance(diverse, (int, np.integer)) or diverse < 0):
        raise ValidationError(f"diverse must be an integer >= 0 or None; got {diverse!r}")
    method = parse_enum(DiverseMethod, diverse_method, "diverse_method")
    if method is DiverseMethod.KMEANS and diverse is not None:
        raise ValidationError(
            "diverse= sets the budget of facility/kcenter/central; the kmeans recipe picks "
            "n_clusters * per_cluster (set those instead)"
        )
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
    if isinstance(cosine_threshold, str) and cosine_threshold != "auto":
        raise ValidationError(
            f"cosine_threshold must be 'auto', a float in [-1, 1] or None; got "
            f"{cosine_threshold!r}"
        )
    with progress_callback(progress) as report:
        gen = np.random.default_rng(rng)
        seeds = gen.integers(2**31, size=9)
        on_ray = engine_for(engine, ray_address=ray_address, workers=workers,
                            purpose="engine='ray' (test sets on a Ray cluster)") \
            if eng is Engine.RAY else None
        stages: Any = _LocalStages if on_ray is None else RayStages(on_ray)

        def tick(stage: str, done: int, total: int) -> None:
            if report is not None:
                report(Progress(stage, done, total, unit="prompt" if stage == "difficulty"
                                  else "step"))

        tick("load", 0, 1)
        frame = stages.normalize_prompts(prompts, text=text, id_column=id_column,
                                         text_column=text_column)
        n_in = len(frame)
        tick("load", 1, 1)

        emb_spec = resolve_embedder(embedder, rng=int(seeds[1]))
        if isinstance(emb_spec, Precomputed):
            if emb_spec.n_rows() not in (None, n_in):
                raise ValidationError(
                    f"precomputed embeddings have {emb_spec.n_rows()} rows for {n_in} input "
                    "prompts; an array must be aligned with the input rows"
                )
            if max_chars is not None or max_tokens is not None:
                raise ValidationError(
                    "max_chars / max_tokens truncate texts before embedding; precomputed "
                    "vectors are not embedded here (truncate before computing them)"
                )

        tick("clean", 0, 1)
        cleaned = stages.clean_prompts(
            frame,
            min_words=min_words,
            min_chars=min_chars,
            prefix_words=prefix_words,
            prefix_share=prefix_share,
            minhash_threshold=minhash_threshold,
            batch_size=batch_size,
            rng=int(seeds[0]),
        )
        kept = cleaned.kept
        reports = [cleaned.dropped] if len(cleaned.dropped) else []
        del cleaned
        tick("clean", 1, 1)
        if len(kept) < 2:
            raise ValidationError(
                f"only {len(kept)} prompt(s) left after cleaning ({n_in} in, "
                f"{n_in - len(kept)} dropped); at least 2 are needed"
            )

        if isinstance(emb_spec, Precomputed):
            tick("embed", 0, 1)
            positions = frame.index.get_indexer(kept.index)
            emb = emb_spec.lookup(kept.index.tolist(), positions if emb_spec.n_rows() else None)
            tick("embed", 1, 1)
        else:
            texts = kept["text"].tolist()
            if max_chars is not None or max_tokens is not None:
                texts = truncate_texts(texts, max_chars=max_chars, max_tokens=max_tokens)
            emb = stages.embed_texts(emb_spec, texts, batch_size=batch_size, progress=report)
            del texts
        del frame

        threshold: float | None = None
        random_median = float("nan")
        if cosine_threshold == "auto":
            threshold, random_median = calibrate_cosine_threshold(emb, rng=int(seeds[6]))
        elif cosine_threshold is not None:
            threshold = float(cosine_threshold)

        tick("cluster", 0, 1)
        clustering = cluster_embeddings(
            emb, n_clusters, method=cluster_method, rng=int(seeds[2])
        )
        tick("cluster", 1, 1)

        labels = clustering.labels
        distances = clustering.distances
        if threshold is not None:
            tick("near-duplicates", 0, 1)
            blocks = labels if len(kept) > AUTO_MINIBATCH_ABOVE else None
            dropped, root, sim = embedding_duplicates(
                emb, threshold, blocks=blocks, lengths=kept["text"].str.len().to_numpy()
            )
            if len(dropped):
                reports.append(
                    make_report(kept, dropped, DropReason.NEAR_DUPLICATE_EMBEDDING, root, sim)
                )
                keep = np.ones(len(kept), dtype=bool)
                keep[dropped] = False
                kept, emb = kept[keep], compact_rows(emb, keep)
                labels, distances = labels[keep], distances[keep]
            tick("near-duplicates", 1, 1)
        drop_report = finish(kept, reports).dropped

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
        budget = int(n_clusters) * int(per_cluster) if diverse is None else int(diverse)
        cov: Coverage | None = None
        if budget > 0:
            tick("diverse", 0, 1)
            if method is DiverseMethod.KMEANS:
                diverse_pos = select_diverse(live, per_cluster, method=pick, rng=int(seeds[3]))
            else:
                diverse_pos = select_budget(emb, budget, method, rng=int(seeds[3]))
            in_diverse[diverse_pos] = True
            cov = coverage(emb, diverse_pos, method=method.value, rng=int(seeds[7]))
            tick("diverse", 1, 1)

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
            if isinstance(difficulty, LLMScorer):
                result = difficulty(cand_frame, progress=report if report is not None else False)
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
            "diverse": budget,
            "diverse_method": method.value,
            "pick": parse_enum(PickMethod, pick, "pick").value,
            "cluster_method": clustering.method,
            "min_words": min_words,
            "min_chars": min_chars,
            "prefix_words": prefix_words,
            "prefix_share": prefix_share,
            "minhash_threshold": minhash_threshold,
            "cosine_threshold": cosine_threshold,
            "cosine_threshold_used": threshold,
            "random_pair_cosine_median": random_median,
            "max_chars": max_chars,
            "max_tokens": max_tokens,
            "rng": rng if isinstance(rng, (int, np.integer)) or rng is None else repr(rng),
        }
        return TestSet(
            prompts=out,
            dropped=drop_report,
            centers=clustering.centers,
            difficulty_failed=failed,
            difficulty_details=details,
            params=params,
            coverage=cov,
        )
