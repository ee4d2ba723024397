"""Test sets on Ray: the stage functions of the local path as Ray Data stages (the engine,
a connected :class:`~wizardarena.ray.RayEngine`, is handed in by ``build_testset``).

``build_testset(..., engine="ray")`` (``wizardarena testset --ray``) moves three stages of
:func:`~wizardarena.testset.build_testset` onto a Ray cluster (:class:`RayStages`); every
other step is the local code on the driver, so the same seed and the same embeddings give
the same drops and the same test set.

Reading (``normalize_prompts``)
    A prompt file, a directory of them or a glob: one Ray Data task per file runs the local
    reader and :func:`~wizardarena.testset.prompts.normalize_prompts`; each row keeps its
    input position (file, row). The driver gathers the canonical rows in input order (ids by
    position when the files have none, as the local path numbers them) and validates them
    as a whole (unique ids).
Cleaning (``clean_prompts``)
    :func:`~wizardarena.testset.clean.clean_keys_batch` in ``map_batches`` (word counts,
    exact and prefix keys, MinHash signatures); then the group-by steps of
    :func:`~wizardarena.testset.clean.clean_with_keys` through :class:`RayGroupBy`: the
    rows still in play are hash-partitioned by ``exact_key`` / ``prefix_key`` / each LSH
    band's key (the co-location Ray's own ``groupby().map_groups()`` relies on), and each
    partition goes whole through the same step function (``first_of_group``,
    ``prefix_duplicates``, ``lsh_candidates``). The driver verifies the LSH candidates
    against the signatures and resolves them greedily, in input order (sequential by
    nature).
Embedding (``embed_texts``)
    :class:`~wizardarena.testset.tfidf.TfidfEmbedder` is fitted on the driver (its seeded
    sample, as locally) and its ``transform`` runs in ``map_batches`` on an actor pool; a
    :class:`~wizardarena.testset.embedders.SentenceTransformerEmbedder` runs on an actor pool,
    one GPU per actor where the cluster has GPUs. The float32 rows are gathered on the
    driver, where k-means (MiniBatchKMeans above 20,000 prompts), the embedding near
    duplicates and the selection run. Other embedders (an API, a callable, precomputed
    vectors) run on the driver as locally.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from wizardarena.battles.prompts import ID_COLUMNS
from wizardarena.exceptions import ValidationError
from wizardarena.progress import Progress, ProgressCallback
from wizardarena.ray import RayEngine, error_frame, gpu_ids, resolve
from wizardarena.testset.clean import (
    CleanResult,
    check_clean_options,
    clean_keys_batch,
    clean_with_keys,
    first_of_group,
    prefix_duplicates,
    signatures_from_column,
)
from wizardarena.testset.dedup import (
    check_minhash_options,
    lsh_band_keys,
    lsh_candidates,
    resolve_pairs,
    verify_candidates,
)
from wizardarena.testset.embed import check_embeddings, embed_texts
from wizardarena.testset.embedders import SentenceTransformerEmbedder
from wizardarena.testset.prompts import (
    PromptText,
    normalize_prompts,
    prompt_files,
    read_prompts,
)

__all__ = ["RayGroupBy", "RayStages"]

_ORDER = "_order"
#: rows of one file fit in 40 bits of the input position (file << 40 | row)
_ROW_BITS = 40


# ------------------------------------------------------------------------- stage functions
def read_file_stage(batch: pd.DataFrame, *, text: str, id_column: str | None,
                    text_column: str | None) -> pd.DataFrame:
    """Ray Data stage: read and normalise the listed files (the local reader and
    ``normalize_prompts``), each row keeping its input position. Bad input comes back as a
    row holding the pickled ValidationError (Ray's wrapping of a raised exception would keep
    only its text)."""
    out = []
    for file, path in zip(batch["file"], batch["path"]):
        try:
            raw = read_prompts(path)
            frame = normalize_prompts(raw, text=text, id_column=id_column,
                                      text_column=text_column).reset_index()
        except ValidationError as exc:
            return error_frame(ValidationError(f"{path}: ", *exc.parts))
        generated = id_column is None and not any(c in raw.columns for c in ID_COLUMNS)
        frame[_ORDER] = (np.int64(file) << np.int64(_ROW_BITS)) + np.arange(len(frame))
        frame["_generated_id"] = generated
        out.append(frame)
    return pd.concat(out, ignore_index=True)


def keys_stage(batch: pd.DataFrame, *, prefix_words: int | None, shingle: int,
               num_perm: int, seed: int) -> pd.DataFrame:
    """Ray Data stage: :func:`~wizardarena.testset.clean.clean_keys_batch`, keyed by input
    position."""
    keys = clean_keys_batch(batch, prefix_words=prefix_words, shingle=shingle,
                            num_perm=num_perm, seed=seed)
    keys.insert(0, _ORDER, batch[_ORDER].to_numpy())
    return keys.reset_index(drop=True)


def drop_stage(batch: pd.DataFrame, *, gone: np.ndarray,
               nonzero: str | None = None) -> pd.DataFrame:
    """Ray Data stage: the rows still in play (not in the sorted ``gone``; ``nonzero``: and
    with a key)."""
    keep = ~np.isin(batch[_ORDER].to_numpy(), gone, assume_unique=True)
    if nonzero is not None:
        keep &= batch[nonzero].to_numpy() != 0
    return batch[keep]


def exact_stage(part: pd.DataFrame) -> pd.DataFrame:
    """Group-by step on whole ``exact_key`` groups: :func:`first_of_group`."""
    part = part.sort_values(_ORDER, kind="stable")
    order = part[_ORDER].to_numpy()
    dup, first = first_of_group(part["exact_key"].to_numpy())
    return pd.DataFrame({"dropped": order[dup], "kept": order[first],
                         "sim": np.ones(len(dup))})


def prefix_stage(part: pd.DataFrame, *, prefix_words: int, min_share: float) -> pd.DataFrame:
    """Group-by step on whole ``prefix_key`` groups: :func:`prefix_duplicates`."""
    part = part.sort_values(_ORDER, kind="stable")
    order = part[_ORDER].to_numpy()
    dup, first, share = prefix_duplicates(part["prefix_key"].to_numpy(),
                                          part["words"].to_numpy(), prefix_words, min_share)
    return pd.DataFrame({"dropped": order[dup], "kept": order[first], "sim": share})


def band_stage(batch: pd.DataFrame, *, bands: int, num_perm: int) -> pd.DataFrame:
    """Ray Data stage: one row per (prompt, LSH band) with the band's key
    (:func:`~wizardarena.testset.dedup.lsh_band_keys`)."""
    keys = lsh_band_keys(signatures_from_column(batch["minhash"], num_perm), bands)
    n = len(batch)
    return pd.DataFrame({"band": np.tile(np.arange(bands, dtype=np.int64), n),
                         "key": keys.ravel(),
                         _ORDER: np.repeat(batch[_ORDER].to_numpy(), bands)})


def lsh_stage(part: pd.DataFrame, *, window: int) -> pd.DataFrame:
    """Group-by step on whole LSH buckets (band, key): :func:`lsh_candidates`."""
    bucket, _ = pd.factorize(pd.MultiIndex.from_arrays([part["band"], part["key"]]))
    # dense ranks (lsh_candidates packs two positions in 64 bits), in input order
    order, rank = np.unique(part[_ORDER].to_numpy(), return_inverse=True)
    i, j = lsh_candidates(bucket.astype(np.uint64), rank.astype(np.int64), window=window)
    return pd.DataFrame({"i": order[i], "j": order[j]})


class TransformActor:
    """Ray Data actor: a fitted embedder's ``transform``, batch by batch."""

    def __init__(self, embedder: Any) -> None:
        # a reference to the fitted embedder in the object store: fetched once per actor
        self.embedder = resolve(embedder)

    def __call__(self, batch: pd.DataFrame) -> dict[str, np.ndarray]:
        texts = batch["text"].tolist()
        emb = check_embeddings(self.embedder.transform(texts), len(texts), repr(self.embedder))
        return {"_i": batch["_i"].to_numpy(), "emb": emb}


class EncodeActor:
    """Ray Data actor: a sentence-transformers model, loaded once per actor (on its GPU
    when it has one)."""

    def __init__(self, model: str, batch_size: int, kwargs: dict[str, Any]) -> None:
        device = "cuda" if gpu_ids() else None
        self.embedder = SentenceTransformerEmbedder(model, batch_size=batch_size,
                                                    device=device, **kwargs)

    def __call__(self, batch: pd.DataFrame) -> dict[str, np.ndarray]:
        return {"_i": batch["_i"].to_numpy(), "emb": self.embedder(batch["text"].tolist())}


# ------------------------------------------------------------------------- the executor
def _co_partition(ds: Any, keys: list[str], parts: int) -> Any:
    """``ds`` with every group of ``keys`` inside one block, as Ray's
    ``groupby().map_groups()`` makes it: hash partitions (sorted) under a hash shuffle,
    a sort otherwise."""
    from ray.data.context import ShuffleStrategy

    if ds.context.shuffle_strategy in (ShuffleStrategy.HASH_SHUFFLE,
                                       ShuffleStrategy.SHUFFLE_V2):
        return ds.repartition(parts, keys=keys, sort=True)
    return ds.sort(keys)


class RayGroupBy:
    """The group-by steps of :func:`~wizardarena.testset.clean.clean_with_keys` on Ray Data
    (a :class:`~wizardarena.testset.clean.GroupBy`).

    Parameters
    ----------
    keyed : ray.data.Dataset
        The materialised keys (:func:`keys_stage` output), one row per prompt.
    orders : ndarray of int64
        The input positions of the prompts, increasing (row ``k`` of the keys frame).
    parts : int
        Partitions of the hash shuffles.
    """

    def __init__(self, keyed: Any, orders: np.ndarray, parts: int, engine: RayEngine) -> None:
        self.keyed = keyed
        self.orders = orders
        self.parts = parts
        self.engine = engine
        self.tasks = engine.tasks  # Ray Data compute strategy of the map stages

    def _in_play(self, live: np.ndarray, columns: list[str],
                 nonzero: str | None = None) -> Any:
        gone = np.setdiff1d(self.orders, self.orders[live], assume_unique=True)
        ds = self.keyed.select_columns(columns)
        if len(gone) or nonzero is not None:
            ds = ds.map_batches(drop_stage, batch_format="pandas", compute=self.tasks,
                                fn_kwargs={"gone": gone, "nonzero": nonzero})
        return ds

    def _grouped(self, ds: Any, keys: list[str], stage: Callable[..., pd.DataFrame],
                 **kw: Any) -> pd.DataFrame:
        return self.engine.gather(_co_partition(ds, keys, self.parts).map_batches(
            stage, batch_size=None, batch_format="pandas", fn_kwargs=kw,
            compute=self.tasks))

    def _positions(self, found: pd.DataFrame, live: np.ndarray
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Input positions -> positions within ``live``, ordered by the dropped one."""
        if not len(found):
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        found = found.sort_values("dropped", kind="stable")
        at = self.orders[live]
        return (np.searchsorted(at, found["dropped"].to_numpy()).astype(np.int64),
                np.searchsorted(at, found["kept"].to_numpy()).astype(np.int64),
                found["sim"].to_numpy(dtype=float))

    def exact(self, keys: pd.DataFrame, live: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        ds = self._in_play(live, [_ORDER, "exact_key"])
        d, k, _ = self._positions(self._grouped(ds, ["exact_key"], exact_stage), live)
        return d, k

    def prefix(self, keys: pd.DataFrame, live: np.ndarray, prefix_words: int,
               min_share: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        ds = self._in_play(live, [_ORDER, "prefix_key", "words"], nonzero="prefix_key")
        return self._positions(self._grouped(ds, ["prefix_key"], prefix_stage,
                                             prefix_words=prefix_words,
                                             min_share=min_share), live)

    def minhash(self, signatures: np.ndarray, live: np.ndarray,
                threshold: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        num_perm = signatures.shape[1]
        bands = check_minhash_options(num_perm, threshold, None)
        ds = self._in_play(live, [_ORDER, "minhash"]).map_batches(
            band_stage, batch_format="pandas", compute=self.tasks,
            fn_kwargs={"bands": bands, "num_perm": num_perm})
        pairs = self._grouped(ds, ["band", "key"], lsh_stage, window=8)
        at = self.orders[live]
        i = np.searchsorted(at, pairs["i"].to_numpy()) if len(pairs) else np.zeros(0, int)
        j = np.searchsorted(at, pairs["j"].to_numpy()) if len(pairs) else np.zeros(0, int)
        i, j, sim = verify_candidates(signatures[live], i.astype(np.int64),
                                      j.astype(np.int64), threshold)
        return resolve_pairs(len(live), i, j, sim)


class RayStages:
    """The reading, cleaning and embedding stages of ``build_testset`` on Ray Data (see the
    module docstring); the same three methods as the local ones.

    Parameters
    ----------
    engine : RayEngine
        The connected runtime; its ``workers`` are the tasks (or actors) of each stage at a
        time (default: Ray Data's choice, up to the cluster's CPUs).
    """

    def __init__(self, engine: RayEngine) -> None:
        self.engine = engine
        self.ray = engine.ray
        workers, cpus = engine.workers, engine.cpus
        self.parts = max(2, 2 * (workers or cpus))
        self.pool = workers or cpus
        self.tasks = engine.tasks
        # frame, its rows on the cluster, their input positions (sorted)
        self._read: tuple[pd.DataFrame, Any, np.ndarray] | None = None

    # -- reading ---------------------------------------------------------------------------
    def normalize_prompts(self, prompts: Any, *, text: PromptText | str = "first_user",
                          id_column: str | None = None,
                          text_column: str | None = None) -> pd.DataFrame:
        """Read and normalise on Ray Data when ``prompts`` names files; in-memory prompts
        are normalised here."""
        if not isinstance(prompts, (str, os.PathLike)):
            return normalize_prompts(prompts, text=text, id_column=id_column,
                                     text_column=text_column)
        files = prompt_files(prompts)
        if files is None:
            if not os.path.isfile(prompts):
                raise ValidationError(f"prompt file {os.fspath(prompts)!r} does not exist")
            files = [prompts]  # type: ignore[list-item]
        mode = PromptText.parse(text).value
        ds = self.ray.data.from_items(
            [{"file": k, "path": os.path.abspath(os.fspath(p))}  # workers have their own cwd
             for k, p in enumerate(files)],
            override_num_blocks=len(files),
        ).map_batches(read_file_stage, batch_size=1, batch_format="pandas",
                      compute=self.tasks,
                      fn_kwargs={"text": mode, "id_column": id_column,
                                 "text_column": text_column}).materialize()
        rows = self.engine.gather(ds).drop(columns="text").sort_values(_ORDER, kind="stable")
        generated = rows.pop("_generated_id").to_numpy(dtype=bool)
        orders = rows.pop(_ORDER).to_numpy()
        if generated.all():  # ids by position over the whole input, as locally
            rows["prompt_id"] = [f"p{i:06d}" for i in range(len(rows))]
        elif generated.any():
            raise ValidationError(
                "some prompt files have an id column (prompt_id, question_id, uid or id) and "
                "others none; give every file one, or name it with id_column=")
        # the whole input validated as the local path validates it (unique ids, turns)
        frame = normalize_prompts(rows.set_index("prompt_id"), text=text)
        self._read = (frame, ds.select_columns([_ORDER, "text"]), orders)
        return frame

    def _rows(self, frame: pd.DataFrame, batch_size: int) -> tuple[Any, np.ndarray]:
        """``frame``'s texts on the cluster with their input positions."""
        if self._read is not None and self._read[0] is frame:
            return self._read[1], self._read[2]
        n = len(frame)
        chunks = [pd.DataFrame({_ORDER: np.arange(s, min(n, s + batch_size), dtype=np.int64),
                                "text": frame["text"].to_numpy()[s: s + batch_size]})
                  for s in range(0, max(n, 1), batch_size)]
        return self.ray.data.from_pandas(chunks), np.arange(n, dtype=np.int64)

    # -- cleaning --------------------------------------------------------------------------
    def clean_prompts(self, prompts: pd.DataFrame, *, min_words: int = 2,
                      min_chars: int | None = None, exact: bool = True,
                      prefix_words: int | None = 40, prefix_share: float = 0.5,
                      minhash_threshold: float | None = 0.7, shingle: int = 3,
                      num_perm: int = 64, batch_size: int = 20_000,
                      rng: int | np.random.Generator | None = None) -> CleanResult:
        """:func:`~wizardarena.testset.clean.clean_prompts` with its stages on Ray Data."""
        check_clean_options(prompts, min_words=min_words, min_chars=min_chars,
                            prefix_words=prefix_words, prefix_share=prefix_share,
                            batch_size=batch_size)
        seed = int(np.random.default_rng(rng).integers(2**31))
        ds, orders = self._rows(prompts, batch_size)
        keyed = ds.map_batches(
            keys_stage, batch_size=batch_size, batch_format="pandas", compute=self.tasks,
            fn_kwargs={"prefix_words": prefix_words, "shingle": shingle,
                       "num_perm": num_perm, "seed": seed}).materialize()
        keys = self.engine.gather(keyed).sort_values(_ORDER, kind="stable").reset_index(drop=True)
        if len(keys) != len(prompts) or not np.array_equal(keys[_ORDER].to_numpy(), orders):
            raise RuntimeError("the keys computed on Ray do not match the prompts")  # a bug
        signatures = signatures_from_column(keys.pop("minhash"), num_perm)
        keys.index = prompts.index
        return clean_with_keys(
            prompts, keys, signatures, min_words=min_words, min_chars=min_chars, exact=exact,
            prefix_words=prefix_words, prefix_share=prefix_share,
            minhash_threshold=minhash_threshold,
            groups=RayGroupBy(keyed, orders, self.parts, self.engine))

    # -- embedding -------------------------------------------------------------------------
    def embed_texts(self, embedder: Any, texts: Sequence[str], *, batch_size: int = 20_000,
                    progress: ProgressCallback | None = None) -> np.ndarray:
        """:func:`~wizardarena.testset.embed.embed_texts` with the transform (or the neural
        model) on a Ray Data actor pool; other embedders run here."""
        texts = list(texts)
        n = len(texts)
        fit = callable(getattr(embedder, "fit", None)) and callable(
            getattr(embedder, "transform", None))
        if not n or not (fit or isinstance(embedder, SentenceTransformerEmbedder)):
            return embed_texts(embedder, texts, batch_size=batch_size, progress=progress)
        if progress is not None:
            progress(Progress("embed", 0, n, unit="prompt"))
        chunks = [pd.DataFrame({"_i": np.arange(s, min(n, s + batch_size), dtype=np.int64),
                                "text": texts[s: s + batch_size]})
                  for s in range(0, n, batch_size)]
        ds = self.ray.data.from_pandas(chunks)
        actors = self.ray.data.ActorPoolStrategy
        if fit:
            embedder.fit(texts)  # here: the seeded sample, as the local path fits it
            out = ds.map_batches(TransformActor, fn_constructor_args=(self.ray.put(embedder),),
                                 batch_size=batch_size, batch_format="pandas",
                                 compute=actors(min_size=1, max_size=self.pool))
        else:
            gpus = self.engine.gpus
            size = min(self.pool, gpus) if gpus else self.pool
            out = ds.map_batches(
                EncodeActor, fn_constructor_args=(embedder.model_name, embedder.batch_size,
                                                  dict(embedder.kwargs)),
                batch_size=min(batch_size, 4096), batch_format="pandas",
                compute=actors(min_size=1, max_size=size), num_gpus=1 if gpus else 0)
        result: np.ndarray | None = None
        done = 0
        for batch in out.iter_batches(batch_format="numpy", batch_size=None):
            emb = np.asarray(batch["emb"], dtype=np.float32)
            if result is None:
                result = np.empty((n, emb.shape[1]), dtype=np.float32)
            elif emb.shape[1] != result.shape[1]:
                raise ValidationError(f"{embedder!r} returned {emb.shape[1]} dimensions for "
                                      f"some rows and {result.shape[1]} for others")
            result[np.asarray(batch["_i"], dtype=np.int64)] = emb
            done += len(emb)
            if progress is not None:
                progress(Progress("embed", done, n, unit="prompt"))
        assert result is not None  # n > 0
        return result
